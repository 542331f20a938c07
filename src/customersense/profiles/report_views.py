"""The HTML report's small tables, beyond those in :mod:`customersense.profiles.views`: customer
counts per combination of segments (what the page's segment filter adds up), histograms per
segment, and axis windows for skewed values. Pure and deterministic, like the views.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .views import histogram


def segment_counts(customers: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Customers and net revenue (sum of ``monetary``) per combination of the ``by`` columns
    (as strings) that holds customers, sorted by the ``by`` values; the rows sum to the table."""
    keys = list(by)
    frame = customers[[*keys, "monetary"]].astype({k: str for k in keys})
    out = frame.groupby(keys, observed=True, sort=True).agg(
        customers=("monetary", "size"), revenue=("monetary", "sum"))
    out = out.reset_index()
    out["customers"] = out["customers"].astype("int64")
    return out[[*keys, "customers", "revenue"]]


def histograms_by(customers: pd.DataFrame, column: str, by: str, order: Sequence[str], bins: int,
                  lo: float, hi: float) -> pd.DataFrame:
    """:func:`views.histogram` of ``column`` for each ``by`` group in ``order`` (groups with no
    customer left out), on the same ``bins`` from ``lo`` to ``hi``: segment, left, right, count."""
    groups = {str(k): g[column] for k, g in customers.groupby(customers[by].astype(str), observed=True, sort=False)}
    parts = [histogram(groups[str(s)], bins=bins, lo=lo, hi=hi).assign(segment=str(s))
             for s in order if str(s) in groups]
    if not parts:
        return pd.DataFrame(columns=["segment", "left", "right", "count"])
    return pd.concat(parts, ignore_index=True)[["segment", "left", "right", "count"]]


def axis_window(values: pd.Series | np.ndarray, lo_pct: float = 1.0, hi_pct: float = 99.9) -> tuple[float, float, int]:
    """The ``lo_pct``-th to ``hi_pct``-th percentile (linear) of the finite ``values``, and how
    many values fall outside it; ``(0, 1, 0)`` when there is none. A constant gets a window of
    one unit around it, so that an axis always has a width."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return 0.0, 1.0, 0
    lo, hi = (float(x) for x in np.percentile(v, [lo_pct, hi_pct]))
    outside = int(((v < lo) | (v > hi)).sum())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi, outside


def count_not_positive(frame: pd.DataFrame, columns: Sequence[str]) -> int:
    """Rows with a value <= 0 (or missing) in any of ``columns``: the points a log axis cannot show."""
    values = frame[list(columns)].to_numpy(dtype=float)
    return int((~(values > 0)).any(axis=1).sum())
