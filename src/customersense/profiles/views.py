"""What the dashboards show, computed once: small tables that the figures, the HTML report, the
workbook and the BI files only draw or copy. Every function is pure (frames in, frames out) and
deterministic, so two outputs of one run always agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

SAMPLE_CAP = 5_000
SAMPLE_SEED = 0
PROFILE_FEATURES = (
    "recency_days", "frequency", "monetary", "avg_order_value", "tenure_days", "engagement_score",
)


def figure_sample(customers: pd.DataFrame, cap: int = SAMPLE_CAP, seed: int = SAMPLE_SEED) -> tuple[pd.DataFrame, str]:
    """At most ``cap`` customers drawn without replacement by a seeded generator, kept in their
    original order, and the sentence that says so (``"all 4,285 customers"`` or
    ``"sample of 5,000 of 1,000,000 customers"``)."""
    n = len(customers)
    if n <= cap:
        return customers, f"all {n:,} customers"
    rows = np.sort(np.random.default_rng(seed).choice(n, size=cap, replace=False))
    return customers.iloc[rows], f"sample of {cap:,} of {n:,} customers"


def rfm_grid(customers: pd.DataFrame) -> pd.DataFrame:
    """The classic RFM grid: one row per (recency score, frequency score) cell that holds
    customers, with their count, share, net revenue and the classic segment most of them are in
    (ties: the segment name first in alphabetical order), and how many segments the cell holds
    (the monetary score splits a cell between segments in some maps)."""
    frame = customers[["r_score", "f_score", "rfm_segment", "monetary"]].copy()
    frame["rfm_segment"] = frame["rfm_segment"].astype(str)
    keys = ["r_score", "f_score"]
    cells = frame.groupby(keys, observed=True).agg(customers=("monetary", "size"), revenue=("monetary", "sum"))
    counts = frame.groupby([*keys, "rfm_segment"], observed=True).size().rename("n").reset_index()
    counts = counts.sort_values([*keys, "n", "rfm_segment"], ascending=[True, True, False, True], kind="stable")
    top = counts.drop_duplicates(keys).set_index(keys)
    cells["segment"] = top["rfm_segment"]
    cells["segments_in_cell"] = counts.groupby(keys).size()
    cells["share"] = cells["customers"] / max(len(frame), 1)
    out = cells.reset_index()
    out[keys] = out[keys].astype("int64")
    return out[["r_score", "f_score", "customers", "share", "revenue", "segment", "segments_in_cell"]]


def normalised_profiles(profiles: pd.DataFrame, order: Sequence[str],
                        features: Sequence[str] = PROFILE_FEATURES) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean of each feature per segment (rows in ``order``), and the same min-max scaled across
    segments per feature (0 lowest, 1 highest; a constant feature is 0.5; a missing mean stays NaN)."""
    prof = profiles.assign(segment=profiles["segment"].astype(str)).set_index("segment")
    prof = prof.reindex([s for s in order if s in prof.index])
    feats = [f for f in features if f"mean_{f}" in prof.columns]
    raw = prof[[f"mean_{f}" for f in feats]].astype(float)
    raw.columns = feats
    lo, hi = raw.min(), raw.max()
    span = hi - lo
    norm = (raw - lo) / span.where(span > 0, 1.0)
    norm.loc[:, span.fillna(0) <= 0] = 0.5
    norm = norm.where(raw.notna())
    return raw, norm


def box_stats(customers: pd.DataFrame, column: str, by: str, order: Sequence[str]) -> pd.DataFrame:
    """Tukey box-plot numbers of ``column`` per ``by`` group, in ``order`` (groups with no value
    left out): n, q1, median, q3 (linear quantiles), and whiskers at the most extreme values
    within 1.5 IQR of the box; computed over every customer, so a figure need not carry them."""
    rows = []
    # the one column split by group (splitting every column of a million customers cost a second)
    groups = {str(k): g.dropna().to_numpy(dtype=float)
              for k, g in customers[column].groupby(customers[by].astype(str), observed=True, sort=False)}
    for name in order:
        v = groups.get(str(name))
        if v is None or not len(v):
            continue
        q1, med, q3 = np.quantile(v, [0.25, 0.5, 0.75])
        iqr = q3 - q1
        low = v[v >= q1 - 1.5 * iqr].min()
        high = v[v <= q3 + 1.5 * iqr].max()
        rows.append({"segment": str(name), "n": len(v), "q1": q1, "median": med, "q3": q3,
                     "lower": low, "upper": high, "mean": float(v.mean())})
    return pd.DataFrame(rows, columns=["segment", "n", "q1", "median", "q3", "lower", "upper", "mean"])


def histogram(values: pd.Series | np.ndarray, bins: int = 40, lo: float | None = None,
              hi: float | None = None) -> pd.DataFrame:
    """Counts of ``values`` (NaN left out) in ``bins`` equal bins from ``lo`` to ``hi`` (default:
    the values' range): columns left, right, count; the last bin includes its right edge."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    lo = float(v.min()) if lo is None and len(v) else (0.0 if lo is None else lo)
    hi = float(v.max()) if hi is None and len(v) else (1.0 if hi is None else hi)
    if hi <= lo:
        hi = lo + 1.0
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    return pd.DataFrame({"left": edges[:-1], "right": edges[1:], "count": counts.astype("int64")})
