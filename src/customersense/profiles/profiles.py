"""Per-segment profile of a customer table: size, share, revenue, and each feature's mean and median."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from .recommend import RecommendationRules, figure_phrases


def segment_profiles(
    customers: pd.DataFrame,
    segment_column: str,
    features: Sequence[str],
    segmentation: str,
    order: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per segment: segmentation, segment, customers, share, revenue, revenue_share,
    [anomalies,] mean_<feature>, median_<feature>. Revenue is the sum of ``monetary`` (net revenue).

    Segments come in ``order`` when given (absent ones skipped), else by revenue, largest first.
    """
    total_customers = len(customers)
    total_revenue = float(customers["monetary"].sum())
    groups = customers.groupby(segment_column, observed=True, sort=True)
    frame = pd.DataFrame({"customers": groups.size()})
    frame["share"] = frame["customers"] / total_customers
    frame["revenue"] = groups["monetary"].sum()
    frame["revenue_share"] = frame["revenue"] / total_revenue if total_revenue else float("nan")
    if "is_anomaly" in customers.columns:
        frame["anomalies"] = groups["is_anomaly"].sum().astype("int64")
    if "clv" in customers.columns:
        frame["clv_total"] = groups["clv"].sum()
    for col in features:
        frame[f"mean_{col}"] = groups[col].mean()
        frame[f"median_{col}"] = groups[col].median()
    return order_profiles(frame, segmentation, order)


def order_profiles(frame: pd.DataFrame, segmentation: str, order: Sequence[str] | None) -> pd.DataFrame:
    """Segments (the index) in ``order`` when given, else by revenue; index -> ``segment`` column."""
    if order is not None:
        frame = frame.loc[[s for s in order if s in frame.index]]
    else:
        frame = frame.sort_values(["revenue", "customers"], ascending=False, kind="stable")
    frame.index.name = "segment"
    frame = frame.reset_index()
    frame.insert(0, "segmentation", segmentation)
    return frame


def with_recommendations(
    profiles: pd.DataFrame, signals: pd.DataFrame, books: dict[str, dict], descriptions: dict[str, str],
    figures: pd.DataFrame | None = None, rules: RecommendationRules | None = None,
    name_basis: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Add measured pricing signals, the computed figures (:mod:`.recommend`) and the playbook
    entry (strategy and actions, their placeholders filled with the figures) per segment."""
    out = profiles.merge(signals, how="left", left_on="segment", right_index=True)
    if figures is not None:
        out = out.merge(figures, how="left", left_on="segment", right_index=True)
    default = books["default"]
    out["description"] = [descriptions.get(s, "") for s in out["segment"]]
    if name_basis is not None:
        out["name_basis"] = [name_basis.get(s, "") for s in out["segment"]]
    phrases = ([figure_phrases(row, rules, int(row["customers"])) for _, row in out.iterrows()]
               if figures is not None and rules is not None else [None] * len(out))
    for field in ("strategy", "retention", "pricing", "campaigns"):
        values = [books.get(s, default)[field] for s in out["segment"]]
        texts = [v if isinstance(v, str) else " | ".join(v) for v in values]
        out[field] = [t.format_map(p) if p is not None else t for t, p in zip(texts, phrases)]
    return out
