"""Anomaly detection (Isolation Forest) and a short reason for every anomaly.

``anomaly_score`` is the Isolation Forest score s(x, n) of Liu, Ting & Zhou (2008), in (0, 1]:
about 0.5 for ordinary customers, close to 1 for customers that are isolated in few splits.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.ensemble import IsolationForest

CHUNK_ROWS = 50_000


class AnomalyDetector:
    """An Isolation Forest whose scores are computed in row chunks on all cores.

    scikit-learn scores on one core, and with a numeric contamination it scores the whole
    training set once more inside ``fit`` to place the threshold. Here the forest is grown
    once, every customer is scored once, chunk by chunk in threads (the tree walks release the
    GIL), and the threshold is the same percentile scikit-learn takes. Each customer's score
    depends only on its own row, so the flags are identical whatever the chunking.
    """

    def __init__(self, contamination, random_state, n_estimators: int = 200) -> None:
        self.contamination = contamination
        self.random_state = random_state
        self.n_estimators = n_estimators

    def fit(self, Z: np.ndarray, chunk_rows: int = CHUNK_ROWS, workers: int | None = None) -> AnomalyDetector:
        # "auto" skips scikit-learn's own scoring pass; the threshold is set below.
        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators, contamination="auto", random_state=self.random_state
        ).fit(Z)
        self.train_scores_ = self.score_samples(Z, chunk_rows, workers)
        if self.contamination == "auto":
            self.offset_ = -0.5  # the paper's threshold, as in scikit-learn
        else:
            self.offset_ = float(np.percentile(self.train_scores_, 100.0 * self.contamination))
        return self

    def score_samples(self, Z: np.ndarray, chunk_rows: int = CHUNK_ROWS, workers: int | None = None) -> np.ndarray:
        """scikit-learn's ``score_samples`` (the opposite of the paper's score), in chunks."""
        chunks = [Z[i:i + chunk_rows] for i in range(0, len(Z), chunk_rows)] or [Z]
        if len(chunks) == 1:
            return self.forest_.score_samples(chunks[0])
        with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            return np.concatenate(list(pool.map(self.forest_.score_samples, chunks)))

    def predict(self, Z: np.ndarray) -> np.ndarray:
        """-1 for anomalies, 1 for the others (scikit-learn's convention)."""
        return np.where(self.score_samples(Z) < self.offset_, -1, 1)


def fit_isolation_forest(Z: np.ndarray, contamination, random_state, n_estimators: int = 200) -> AnomalyDetector:
    return AnomalyDetector(contamination, random_state, n_estimators).fit(Z)


def anomaly_reasons(
    raw: np.ndarray,
    Z: np.ndarray,
    labels: np.ndarray,
    centers: np.ndarray,
    is_anomaly: np.ndarray,
    features: Sequence[str],
    top: int = 2,
    medians: dict[int, np.ndarray] | None = None,
) -> np.ndarray:
    """For each anomaly, the features farthest from its segment's centre (in scaled units),
    worded against the segment's median, e.g. ``"monetary 41x segment median"``.
    Non-anomalies get an empty string. ``medians`` (cluster -> raw feature medians) defaults
    to :func:`segment_medians` of these rows.
    """
    reasons = np.full(len(raw), "", dtype=object)
    idx = np.flatnonzero(is_anomaly)
    if idx.size == 0:
        return reasons
    if medians is None:
        medians = segment_medians(raw, labels, is_anomaly)
    for i in idx:
        c = labels[i]
        dev = np.abs(Z[i] - centers[c])
        order = np.argsort(-dev, kind="stable")[:top]
        reasons[i] = "; ".join(_describe(features[j], raw[i, j], medians[c][j]) for j in order)
    return reasons


def segment_medians(raw: np.ndarray, labels: np.ndarray, is_anomaly: np.ndarray) -> dict[int, np.ndarray]:
    """Per cluster, the median raw features of its non-anomalous members (all members if none)."""
    medians = {}
    for c in np.unique(labels):
        members = (labels == c) & ~is_anomaly
        pool = raw[members] if members.any() else raw[labels == c]
        medians[int(c)] = np.median(pool, axis=0)
    return medians


def _describe(feature: str, value: float, median: float) -> str:
    if median > 0 and value >= 0:
        ratio = value / median
        shown = f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.2g}"
        return f"{feature} {shown}x segment median"
    return f"{feature} {value:,.6g} vs segment median {median:,.6g}"

