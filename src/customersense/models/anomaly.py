"""Anomaly detection (Isolation Forest) and a short reason for every anomaly.

``anomaly_score`` is the Isolation Forest score s(x, n) of Liu, Ting & Zhou (2008), in (0, 1]:
about 0.5 for ordinary customers, close to 1 for customers that are isolated in few splits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.ensemble import IsolationForest


def fit_isolation_forest(Z: np.ndarray, contamination, random_state, n_estimators: int = 200) -> IsolationForest:
    return IsolationForest(
        n_estimators=n_estimators, contamination=contamination, random_state=random_state
    ).fit(Z)


def anomaly_reasons(
    raw: np.ndarray,
    Z: np.ndarray,
    labels: np.ndarray,
    centers: np.ndarray,
    is_anomaly: np.ndarray,
    features: Sequence[str],
    top: int = 2,
) -> np.ndarray:
    """For each anomaly, the features farthest from its segment's centre (in scaled units),
    worded against the segment's median, e.g. ``"monetary 41x segment median"``.
    Non-anomalies get an empty string.
    """
    reasons = np.full(len(raw), "", dtype=object)
    idx = np.flatnonzero(is_anomaly)
    if idx.size == 0:
        return reasons
    medians = {}
    for c in np.unique(labels[idx]):
        members = (labels == c) & ~is_anomaly
        pool = raw[members] if members.any() else raw[labels == c]
        medians[c] = np.median(pool, axis=0)
    for i in idx:
        c = labels[i]
        dev = np.abs(Z[i] - centers[c])
        order = np.argsort(-dev, kind="stable")[:top]
        reasons[i] = "; ".join(_describe(features[j], raw[i, j], medians[c][j]) for j in order)
    return reasons


def _describe(feature: str, value: float, median: float) -> str:
    if median > 0 and value >= 0:
        ratio = value / median
        shown = f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.2g}"
        return f"{feature} {shown}x segment median"
    return f"{feature} {value:,.6g} vs segment median {median:,.6g}"

