"""Recommendation figures computed from each segment's own numbers (rules in
``data/recommendations.toml``), each written with the rule that produced it.

Per segment:

- ``free_shipping_threshold``: the stated percentile of its customers' average order values;
- ``price_index`` (its average unit price paid over every customer's, both quantity-weighted) and
  ``discount_depth`` from the first band of the rules the index falls under;
- ``contact_after_days``: the median interval between orders of its repeat buyers ((tenure -
  recency) / (orders - 1)), and ``customers_past_contact_day``: how many are past it now;
- ``revenue_at_stake``: the sum over its customers of churn_probability (P(no purchase in the next H days)) x CLV,
  when the run has a CLV model;
- ``uplift_per_customer`` and ``expected_incremental_revenue`` (if every customer were
  contacted): the last measured uplift of a campaign on the segment when the history has one,
  else the prior of the rules applied to the segment's revenue per customer per window (net spend
  over days as customers, each customer counted for at least one window), with ``uplift_basis``
  saying which and from where.

The phrases (``FIGURE_PHRASES``) fill the playbooks' placeholders.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError

FIGURE_COLUMNS = ("free_shipping_threshold", "price_index", "discount_depth", "contact_after_days",
                  "repeat_customers", "customers_past_contact_day", "revenue_at_stake", "uplift_per_customer",
                  "expected_incremental_revenue", "uplift_basis")
FIGURE_PHRASES = ("free_shipping", "discount", "contact", "at_stake", "incremental")
# Measured results per segment (from the campaign history): the columns the figures read.
MEASURED_COLUMNS = ("segment", "campaign", "start", "end", "uplift", "uplift_ci_low", "uplift_ci_high", "roi")


@dataclass(frozen=True)
class DiscountBand:
    below: float
    depth: float
    reason: str


@dataclass(frozen=True)
class RecommendationRules:
    shipping_percentile: float
    bands: tuple[DiscountBand, ...]
    min_repeat_customers: int
    prior_relative: float
    prior_window_days: int
    prior_source: str


def load_recommendation_rules(path: str | Path | None = None) -> RecommendationRules:
    path = Path(path) if path else Path(str(files(__package__).joinpath("data", "recommendations.toml")))
    try:
        d = tomllib.loads(path.read_text(encoding="utf-8"))
        rules = RecommendationRules(
            shipping_percentile=float(d["free_shipping"]["percentile"]),
            bands=tuple(DiscountBand(float(b["below"]), float(b["depth"]), str(b["reason"]))
                        for b in d["discount"]["bands"]),
            min_repeat_customers=int(d["contact"]["min_repeat_customers"]),
            prior_relative=float(d["uplift_prior"]["relative"]),
            prior_window_days=int(d["uplift_prior"]["window_days"]),
            prior_source=str(d["uplift_prior"]["source"]),
        )
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the recommendation rules: {exc!r}") from None
    if not 0 < rules.shipping_percentile < 100 or not rules.bands or rules.bands[-1].below != math.inf:
        raise ConfigError(f"{path}: percentile in (0, 100) and discount bands ending with below = inf")
    return rules


def segment_figures(customers: pd.DataFrame, column: str, unit_price: pd.Series, overall_unit_price: float,
                    rules: RecommendationRules, measured: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per segment of ``customers[column]`` (index: segment) with :data:`FIGURE_COLUMNS`.

    ``unit_price``: each segment's average unit price paid (empty without quantities);
    ``measured``: the latest measured campaign result per segment (:data:`MEASURED_COLUMNS`)."""
    latest = measured.set_index("segment") if measured is not None and len(measured) else None
    rows = {}
    for segment, group in customers.groupby(column, observed=True, sort=True):
        row: dict = {"free_shipping_threshold": round(float(np.percentile(
            group["avg_order_value"].to_numpy(dtype=float), rules.shipping_percentile)), 2)}
        paid = unit_price.get(segment, np.nan)
        index = paid / overall_unit_price if overall_unit_price and np.isfinite(overall_unit_price) else np.nan
        row["price_index"] = round(float(index), 4) if np.isfinite(index) else np.nan
        row["discount_depth"] = next((b.depth for b in rules.bands if index < b.below), np.nan) \
            if np.isfinite(index) else np.nan
        freq = group["frequency"].to_numpy(dtype=float)
        repeat = freq >= 2
        gaps = (group["tenure_days"].to_numpy(dtype=float) - group["recency_days"].to_numpy(dtype=float))[repeat] \
            / (freq[repeat] - 1)
        row["repeat_customers"] = int(repeat.sum())
        if repeat.sum() >= rules.min_repeat_customers:
            row["contact_after_days"] = round(float(np.median(gaps)), 1)
            row["customers_past_contact_day"] = int((group["recency_days"] > row["contact_after_days"]).sum())
        else:
            row["contact_after_days"], row["customers_past_contact_day"] = np.nan, np.nan
        row["revenue_at_stake"] = (round(float((group["churn_probability"] * group["clv"]).sum()), 2)
                                   if {"churn_probability", "clv"} <= set(group.columns) else np.nan)
        n = len(group)
        if latest is not None and segment in latest.index:
            m = latest.loc[segment]
            row["uplift_per_customer"] = float(m["uplift"])
            roi = f", ROI {m['roi']:.0%}" if pd.notna(m.get("roi")) else ""
            if m["uplift_ci_low"] <= 0 <= m["uplift_ci_high"]:
                roi += "; not distinguishable from zero"
            row["uplift_basis"] = (f"measured: campaign {m['campaign']} ({m['start']} to {m['end']}), "
                                   f"{m['uplift']:+,.2f} per customer (95% CI {m['uplift_ci_low']:,.2f} to "
                                   f"{m['uplift_ci_high']:,.2f}){roi}")
        else:
            days = np.maximum(group["tenure_days"].to_numpy(dtype=float), rules.prior_window_days)
            per_day = group["monetary"].sum() / days.sum()
            baseline = float(per_day * rules.prior_window_days)
            row["uplift_per_customer"] = rules.prior_relative * baseline
            row["uplift_basis"] = (f"prior: {rules.prior_relative:+.0%} of the segment's revenue per customer in "
                                   f"{rules.prior_window_days} days ({baseline:,.2f}, its net spend over its days as customers, "
                                   f"at least {rules.prior_window_days} counted); source: {rules.prior_source}")
        row["uplift_per_customer"] = round(row["uplift_per_customer"], 4)
        row["expected_incremental_revenue"] = round(row["uplift_per_customer"] * n, 2)
        rows[segment] = row
    out = pd.DataFrame.from_dict(rows, orient="index", columns=list(FIGURE_COLUMNS))
    out.index.name = "segment"
    return out


def figure_phrases(row: pd.Series, rules: RecommendationRules, customers: int) -> dict[str, str]:
    """The playbooks' placeholders for one segment: each figure with the rule behind it."""
    if pd.notna(row["discount_depth"]):
        band = next(b for b in rules.bands if row["price_index"] < b.below)
        discount = (f"discount {row['discount_depth']:.0%}: the segment {band.reason} "
                    f"(price index {row['price_index']:.2f})")
    else:
        discount = "no discount depth: the data has no quantities to measure the price paid"
    if pd.notna(row["contact_after_days"]):
        contact = (f"contact {row['contact_after_days']:.0f} days after the last order (median interval between "
                   f"orders of its {row['repeat_customers']:,} repeat buyers); "
                   f"{int(row['customers_past_contact_day']):,} customers are past that now")
    else:
        contact = (f"no contact interval: only {row['repeat_customers']:,} repeat buyers "
                   f"(at least {rules.min_repeat_customers} needed)")
    at_stake = (f"revenue at stake {row['revenue_at_stake']:,.0f} (sum of churn probability x CLV)"
                if pd.notna(row["revenue_at_stake"]) else "revenue at stake: no CLV model in this run")
    return {
        "free_shipping": (f"free shipping above {row['free_shipping_threshold']:,.2f} (the "
                          f"{rules.shipping_percentile:g}th percentile of the segment's average order values)"),
        "discount": discount,
        "contact": contact,
        "at_stake": at_stake,
        "incremental": (f"expected incremental revenue {row['expected_incremental_revenue']:,.0f} if all "
                        f"{customers:,} are contacted ({row['uplift_basis']})"),
    }
