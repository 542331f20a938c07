"""Customer features as of a date, and the labels of the days after it: the inputs of the
supervised churn and spend model (:mod:`customersense.clv.supervised`).

One engine query per call on the purchase-days table of :func:`customersense.clv.summary.purchase_days`
(one row per customer and purchase day, with ``day_value`` and ``first_day``); only one row
per customer comes back to pandas.

Definitions (all in days, ``cut`` inclusive)
--------------------------------------------
- A customer is included when the first purchase day is on or before ``cut``.
- "The last w days" are the purchase days in ``(cut - w, cut]``.
- ``mean_gap_days`` is (last - first purchase day) / (purchase days - 1); with a single purchase
  day it and ``gap_ratio`` are missing (NaN: the gradient-boosting model routes missing values
  itself).
- ``purchase_days_ly_next_90`` / ``value_ly_next_90``: the purchase days (value) in the 90 days
  that followed the same date one year earlier, ``(cut - 365, cut - 275]``: what the customer did
  in the coming season last year (yearly seasonality).
- Labels over ``(cut, cut + horizon_days]``: ``label_purchases`` (purchase days),
  ``label_spend`` (sum of ``day_value``), ``label_churn`` (no purchase day).
"""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from ..engine.base import Engine, fetch_columns
from ..errors import DataError

RECENT_WINDOWS = (30, 90, 180, 365)
VALUE_WINDOWS = (90, 365)  # value sums cost more than counts in the engine: two windows
LAST_YEAR = (365, 275)  # (cut - 365, cut - 275]: the 90 days after the same date a year earlier

FEATURES = (
    "purchase_days",             # distinct purchase days on or before the cut
    "days_since_last",           # cut - last purchase day
    "tenure_days",               # cut - first purchase day
    "total_value",               # sum of day_value
    "mean_day_value",            # total_value / purchase_days
    "last_day_value",            # value of the last purchase day
    *(f"purchase_days_{w}d" for w in RECENT_WINDOWS),  # purchase days in the last w days
    *(f"value_{w}d" for w in VALUE_WINDOWS),           # value in the last w days
    "mean_gap_days",             # mean days between purchase days (NaN with one purchase day)
    "gap_ratio",                 # days_since_last / mean_gap_days (NaN with one purchase day)
    "purchase_days_ly_next_90",  # purchase days in (cut - 365, cut - 275]
    "value_ly_next_90",          # value in (cut - 365, cut - 275]
)
LABELS = ("label_purchases", "label_spend", "label_churn")


def _day(cut: dt.date, days_before: int) -> ibis.Value:
    return ibis.literal(cut - dt.timedelta(days=days_before))


def window_features(
    days: ibis.Table, cut: dt.date, horizon_days: int | None = None, engine: Engine | None = None
) -> pd.DataFrame:
    """Features as of ``cut`` (and labels over ``(cut, cut + horizon_days]`` when given).

    Returns a pandas DataFrame sorted by ``customer_id``: ``customer_id``, the columns of
    :data:`FEATURES` (float64) and, with ``horizon_days``, the columns of :data:`LABELS`
    (``label_purchases`` int64, ``label_spend`` float64, ``label_churn`` bool). One engine query.
    """
    expr = window_expression(days, cut, horizon_days).order_by("customer_id")
    return _typed(fetch_columns(expr, engine), horizon_days)


def _typed(df: pd.DataFrame, horizon_days: int | None) -> pd.DataFrame:
    for c in FEATURES:
        df[c] = df[c].astype("float64")
    if horizon_days is not None:
        df["label_purchases"] = df["label_purchases"].astype("int64")
        df["label_spend"] = df["label_spend"].astype("float64")
        df["label_churn"] = df["label_purchases"].to_numpy() == 0
    return df.reset_index(drop=True)


def _check(cut: dt.date, horizon_days: int | None) -> None:
    if not isinstance(cut, dt.date) or isinstance(cut, dt.datetime):
        raise DataError(f"cut must be a date, not {cut!r}")
    if horizon_days is not None and int(horizon_days) < 1:
        raise DataError(f"horizon_days={horizon_days}: use a whole number of days >= 1")


def window_expression(days: ibis.Table, cut: dt.date, horizon_days: int | None = None) -> ibis.Table:
    """The Ibis expression of :func:`window_features` (unordered, labels without ``label_churn``)."""
    _check(cut, horizon_days)
    j = days.filter(days.first_day <= ibis.literal(cut))
    stats = j.group_by("customer_id").aggregate(first_day=j.first_day.min(), **_aggregates(j, cut, horizon_days, ""))
    return stats.select("customer_id", **_columns(stats, cut, horizon_days, ""))


def _aggregates(j: ibis.Table, cut: dt.date, horizon_days: int | None, sfx: str) -> dict[str, ibis.Value]:
    """The per-customer aggregates of one cut (names end in ``sfx``)."""
    date, value = j.purchase_date, j.day_value
    upto = date <= ibis.literal(cut)
    aggs: dict[str, ibis.Value] = {
        "last_day": date.max(where=upto),
        "purchase_days": j.count(where=upto),
        "total_value": value.sum(where=upto),
        "last_day_value": value.argmax(date, where=upto),
    }
    for w in RECENT_WINDOWS:
        recent = upto & (date > _day(cut, w))
        aggs[f"purchase_days_{w}d"] = j.count(where=recent)
        if w in VALUE_WINDOWS:
            aggs[f"value_{w}d"] = value.sum(where=recent)
    last_year = (date > _day(cut, LAST_YEAR[0])) & (date <= _day(cut, LAST_YEAR[1]))
    aggs["purchase_days_ly_next_90"] = j.count(where=last_year)
    aggs["value_ly_next_90"] = value.sum(where=last_year)
    if horizon_days is not None:
        ahead = (date > ibis.literal(cut)) & (date <= ibis.literal(cut + dt.timedelta(days=int(horizon_days))))
        aggs["label_purchases"] = j.count(where=ahead)
        aggs["label_spend"] = value.sum(where=ahead)
    return {f"{name}{sfx}": agg for name, agg in aggs.items()}


def _columns(stats: ibis.Table, cut: dt.date, horizon_days: int | None, sfx: str) -> dict[str, ibis.Value]:
    """FEATURES (and the labels) of one cut from its aggregates, in order (names end in ``sfx``)."""
    def col(name: str) -> ibis.Value:
        return stats[f"{name}{sfx}"]

    def money(name: str) -> ibis.Value:
        return col(name).cast("float64").fill_null(0.0)

    n = col("purchase_days").cast("float64")
    since = ibis.literal(cut).delta(col("last_day"), unit="day").cast("float64")
    span = col("last_day").delta(stats.first_day, unit="day").cast("float64")
    mean_gap = ibis.ifelse(col("purchase_days") > 1, span / (n - 1.0), ibis.null("float64"))
    out: dict[str, ibis.Value] = {
        "purchase_days": col("purchase_days"),
        "days_since_last": since,
        "tenure_days": ibis.literal(cut).delta(stats.first_day, unit="day").cast("float64"),
        "total_value": money("total_value"),
        "mean_day_value": col("total_value").cast("float64") / n,
        "last_day_value": money("last_day_value"),
        **{f"purchase_days_{w}d": col(f"purchase_days_{w}d") for w in RECENT_WINDOWS},
        **{f"value_{w}d": money(f"value_{w}d") for w in VALUE_WINDOWS},
        "mean_gap_days": mean_gap,
        "gap_ratio": since / mean_gap,
        "purchase_days_ly_next_90": col("purchase_days_ly_next_90"),
        "value_ly_next_90": money("value_ly_next_90"),
    }
    if horizon_days is not None:
        out.update(label_purchases=col("label_purchases"), label_spend=money("label_spend"))
    return {f"{name}{sfx}": value for name, value in out.items()}
