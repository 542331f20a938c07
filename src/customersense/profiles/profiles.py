"""Per-segment profile of a customer table: size, share, revenue, and each feature's mean and median."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def segment_profiles(
    customers: pd.DataFrame,
    segment_column: str,
    features: Sequence[str],
    segmentation: str,
    order: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per segment: segmentation, segment, customers, share, revenue, revenue_share,
    mean_<feature>, median_<feature>. Revenue is the sum of ``monetary`` (net revenue).

    Segments come in ``order`` when given (absent ones skipped), else by revenue, largest first.
    """
    total_customers = len(customers)
    total_revenue = float(customers["monetary"].sum())
    groups = customers.groupby(segment_column, observed=True, sort=True)
    frame = pd.DataFrame({"customers": groups.size()})
    frame["share"] = frame["customers"] / total_customers
    frame["revenue"] = groups["monetary"].sum()
    frame["revenue_share"] = frame["revenue"] / total_revenue if total_revenue else float("nan")
    for col in features:
        frame[f"mean_{col}"] = groups[col].mean()
        frame[f"median_{col}"] = groups[col].median()
    if order is not None:
        frame = frame.loc[[s for s in order if s in frame.index]]
    else:
        frame = frame.sort_values(["revenue", "customers"], ascending=False, kind="stable")
    frame.index.name = "segment"
    frame = frame.reset_index()
    frame.insert(0, "segmentation", segmentation)
    return frame
