"""Does a segment's predicted CLV stay within what its recent behaviour supports?

For each segment: the predicted CLV over ``horizon_months`` (summed over its customers) against
its *supported* value, the spend of its customers in the last H days (``spend_last_<H>d``, the
holdout window) kept up for the whole horizon, undiscounted, times the margin::

    supported = margin * spend_last_H * (horizon_months * 30 / H)

A segment whose CLV exceeds that bound gets a note saying so and why it can (the model expects
its customers to buy more than they did lately: new customers still building their history, or
a model that over-predicts; the holdout table says which).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..config import CLVConfig
from .choice import MONTH_DAYS


def segment_support(customers: pd.DataFrame, segment_columns: list[str], horizon_days: int,
                    cfg: CLVConfig) -> dict[str, list[dict[str, Any]]]:
    """Per segmentation column, one row per segment: customers, clv_total, spend_last_total,
    supported_clv, ratio (clv_total / supported_clv), mean churn probability, a ``note`` (None
    when the CLV is within the bound) and ``material``: the excess is at least 1% of all
    customers' CLV (the run prints those notes; clv_models.json keeps every one)."""
    recent = f"spend_last_{horizon_days}d"
    factor = cfg.margin * cfg.horizon_months * MONTH_DAYS / horizon_days
    out: dict[str, list[dict[str, Any]]] = {}
    total = float(customers["clv"].sum())
    for column in segment_columns:
        groups = customers.groupby(column, observed=True, sort=True)
        frame = pd.DataFrame({
            "customers": groups.size(),
            "clv_total": groups["clv"].sum(),
            "spend_last_total": groups[recent].sum(),
            "churn_probability": groups["churn_probability"].mean(),
            "new_customers": groups["tenure_days"].apply(lambda t: int((t < horizon_days).sum()))
            if "tenure_days" in customers.columns else 0,
        })
        rows = []
        for segment, r in frame.iterrows():
            supported = factor * float(r["spend_last_total"])
            ratio = float(r["clv_total"]) / supported if supported > 0 else (np.inf if r["clv_total"] > 0 else 0.0)
            note = None
            if ratio > 1.0:
                why = (f"{int(r['new_customers']):,} of its {int(r['customers']):,} customers are newer than "
                       f"{horizon_days} days, so their recent spend understates them"
                       if r["new_customers"] * 2 >= r["customers"] else
                       "the model expects these customers to buy more than they did lately; treat it as an upper "
                       "bound (clv_models.json: the holdout table shows how the model did)")
                bound = f"{supported:,.0f}" if supported > 0 else "0 (no purchases in that window)"
                note = (f"{column} {segment}: predicted {cfg.horizon_months}-month CLV {r['clv_total']:,.0f} exceeds "
                        f"what its last {horizon_days} days' spend supports ({bound}): {why}")
            rows.append({"segment": str(segment), "customers": int(r["customers"]),
                         "clv_total": round(float(r["clv_total"]), 2),
                         "clv_mean": round(float(r["clv_total"]) / int(r["customers"]), 2),
                         "spend_last_total": round(float(r["spend_last_total"]), 2),
                         "supported_clv": round(supported, 2),
                         "ratio": round(ratio, 4) if np.isfinite(ratio) else None,
                         "churn_probability": round(float(r["churn_probability"]), 6), "note": note,
                         "material": note is not None and float(r["clv_total"]) - supported >= 0.01 * total})
        out[column] = rows
    return out
