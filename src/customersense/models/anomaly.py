"""Anomaly detection (Isolation Forest) and a short reason for every anomaly.

``anomaly_score`` is the Isolation Forest score s(x, n) of Liu, Ting & Zhou (2008), in (0, 1]:
about 0.5 for ordinary customers, close to 1 for customers that are isolated in few splits.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.ensemble import IsolationForest
from sklearn.ensemble._iforest import _average_path_length
from sklearn.tree import ExtraTreeRegressor
from sklearn.utils.validation import check_is_fitted, validate_data

from ..choices import check_contamination
from ..progress import RowCounter

CHUNK_ROWS = 50_000
COMPILED_FROM = 100_000  # rows; below, scikit-learn's own tree walks (no compile, no numba import)
SCORING_METHODS = ("auto", "compiled", "sklearn")


class _RowsTree(ExtraTreeRegressor):
    """An extra tree whose ``fit`` names no ``sample_weight``: scikit-learn's bagging then hands
    it its sampled rows, ``X[indices]``, instead of a weight for every one of the n rows."""

    def fit(self, X, y, check_input=True, **kwargs):
        return super().fit(X, y, check_input=check_input, **kwargs)


class RowSampledIsolationForest(IsolationForest):
    """scikit-learn's IsolationForest, growing each tree from its 256 sampled rows.

    scikit-learn grows every tree from sample weights over all n rows (zero for the rows not
    drawn), which costs O(n) per tree: 9 CPU seconds for 200 trees at 5M rows. Here each tree
    is fitted on the drawn rows themselves: the same seeds, the same rows, the same random
    splits, so the trees are identical (tested node for node), in O(256) per tree.
    """

    def _get_estimator(self):
        return _RowsTree(max_features=1, splitter="random", random_state=self.random_state)


class AnomalyDetector(OutlierMixin, BaseEstimator):
    """An Isolation Forest whose scores are computed in row chunks on all cores.

    scikit-learn scores on one core, and with a numeric contamination it scores the whole
    training set once more inside ``fit`` to place the threshold. Here the forest is grown
    once, every customer is scored once, chunk by chunk in threads, and the threshold is the
    same percentile scikit-learn takes. Each customer's score depends only on its own row, so
    the flags are identical whatever the chunking.

    From ``COMPILED_FROM`` rows the trees are walked by a compiled kernel
    (:mod:`._iforest_kernel`, numba): the same decisions on the same float32 values and the
    same per-tree path lengths added in the same order as scikit-learn, so the scores are bit
    for bit identical (tested), about 6x less CPU per row, and the GIL is released.

    A scikit-learn outlier detector: ``contamination`` ("auto" or a share in [0, 0.5]),
    ``chunk_rows`` rows per scoring chunk, ``n_jobs`` scoring threads (None: all cores),
    ``method`` "auto", "compiled" or "sklearn". Fitted: ``forest_``, ``train_scores_``
    (``score_samples`` of the training rows), ``offset_``, ``n_features_in_`` (and
    ``feature_names_in_`` for a DataFrame). Rows scored in ``fit`` are reported to the
    current :func:`customersense.progress.reporting` block as "customers scored".
    """

    # Declared for scikit-learn's estimator checks (tests/models/test_estimator_checks.py).
    expected_failed_checks: ClassVar[dict[str, str]] = {}

    def __init__(self, contamination=0.05, random_state=None, n_estimators: int = 200,
                 chunk_rows: int = CHUNK_ROWS, n_jobs: int | None = None, method: str = "auto") -> None:
        self.contamination = contamination
        self.random_state = random_state
        self.n_estimators = n_estimators
        self.chunk_rows = chunk_rows
        self.n_jobs = n_jobs
        self.method = method

    def fit(self, X, y=None) -> AnomalyDetector:
        self._validate_params()
        X = validate_data(self, X, dtype=np.float64)
        self._layout = None  # the compiled kernel's copy of the trees, built on first use
        # "auto" skips scikit-learn's own scoring pass; the threshold is set below.
        self.forest_ = RowSampledIsolationForest(
            n_estimators=self.n_estimators, contamination="auto", random_state=self.random_state
        ).fit(X)
        self.train_scores_ = self._score(X, self.chunk_rows, self.n_jobs, self.method,
                                         RowCounter.current(len(X), "customers scored"))
        if self.contamination == "auto":
            self.offset_ = -0.5  # the paper's threshold, as in scikit-learn
        else:
            self.offset_ = float(np.percentile(self.train_scores_, 100.0 * self.contamination))
        return self

    def _validate_params(self) -> None:
        check_contamination("contamination", self.contamination)
        if self.method not in SCORING_METHODS:
            raise ValueError(f"method={self.method!r}: must be one of {', '.join(SCORING_METHODS)}")
        for name in ("n_estimators", "chunk_rows"):
            value = getattr(self, name)
            if not (isinstance(value, Integral) and value >= 1):
                raise ValueError(f"{name}={value!r}: must be an integer >= 1")

    def score_samples(self, X, chunk_rows: int | None = None, workers: int | None = None,
                      method: str | None = None) -> np.ndarray:
        """scikit-learn's ``score_samples`` (the opposite of the paper's score), in chunks.

        ``chunk_rows``, ``workers`` and ``method`` override the estimator's ``chunk_rows``,
        ``n_jobs`` and ``method`` for this call.
        """
        check_is_fitted(self)
        method = self.method if method is None else method
        if method not in SCORING_METHODS:
            raise ValueError(f"method={method!r}: must be one of {', '.join(SCORING_METHODS)}")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self._score(X, chunk_rows or self.chunk_rows, workers or self.n_jobs, method, None)

    def _score(self, Z: np.ndarray, chunk_rows: int, workers: int | None, method: str,
               on_rows: Callable[[int], None] | None) -> np.ndarray:
        """Scores in chunks; ``on_rows(n)`` is called as each chunk of n rows is done."""
        forest = self.forest_
        compiled = method == "compiled" or (method == "auto" and len(Z) >= COMPILED_FROM)
        # the kernel needs what scikit-learn keeps per tree, and every tree on every feature
        compiled &= hasattr(forest, "_decision_path_lengths") and forest._max_features == Z.shape[1]
        score = self._compiled_scorer() if compiled else forest.score_samples

        def one(chunk: np.ndarray) -> np.ndarray:
            scores = score(chunk)
            if on_rows is not None:
                on_rows(len(chunk))
            return scores

        chunks = [Z[i:i + chunk_rows] for i in range(0, len(Z), chunk_rows)] or [Z]
        if len(chunks) == 1:
            return one(chunks[0])
        with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            return np.concatenate(list(pool.map(one, chunks)))

    def _compiled_scorer(self) -> Callable[[np.ndarray], np.ndarray]:
        forest = self.forest_
        if getattr(self, "_layout", None) is None:
            from ._iforest_kernel import perfect_trees

            # the per-leaf term scikit-learn adds: depth of the leaf + c(samples in it) - 1
            values = [d + a - 1.0 for d, a in zip(forest._decision_path_lengths,
                                                  forest._average_path_length_per_tree)]
            self._layout = perfect_trees([e.tree_ for e in forest.estimators_], values)
        from ._iforest_kernel import path_lengths

        feature, threshold, value, depth = self._layout
        denominator = len(forest.estimators_) * _average_path_length([forest._max_samples])

        def score(chunk: np.ndarray) -> np.ndarray:
            Xt = np.ascontiguousarray(chunk.T, dtype=np.float32)  # feature-major, as the kernel reads it
            depths = path_lengths(Xt, feature, threshold, value, depth, np.empty(len(chunk)))
            # the last lines of scikit-learn's IsolationForest._compute_score_samples
            return -(2 ** (-np.divide(depths, denominator, out=np.ones_like(depths), where=denominator != 0)))

        return score

    def decision_function(self, X) -> np.ndarray:
        """``score_samples - offset_``: negative for anomalies."""
        return self.score_samples(X) - self.offset_

    def predict(self, X) -> np.ndarray:
        """-1 for anomalies, 1 for the others (scikit-learn's convention)."""
        return np.where(self.score_samples(X) < self.offset_, -1, 1)


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
    medians: np.ndarray | None = None,
) -> np.ndarray:
    """For each anomaly, the features farthest from its segment's centre (in scaled units),
    worded against the segment's median, e.g. ``"monetary 41x segment median"``.
    Non-anomalies get an empty string. ``medians`` (clusters x features, raw units) defaults
    to :func:`segment_medians` of these rows.
    """
    reasons = np.full(len(raw), "", dtype=object)
    idx = np.flatnonzero(is_anomaly)
    if idx.size == 0:
        return reasons
    if medians is None:
        medians = segment_medians(raw, labels, is_anomaly, len(centers), np.unique(labels[idx]))
    # vectorised over the anomalies (hundreds of thousands at millions of customers); only the
    # wording is a Python loop
    c = labels[idx]
    order = np.argsort(-np.abs(Z[idx] - centers[c]), axis=1, kind="stable")[:, :top]
    values = np.take_along_axis(raw[idx], order, axis=1).tolist()
    meds = np.take_along_axis(medians[c], order, axis=1).tolist()
    names = [features[j] for j in range(len(features))]
    for i, js, vs, ms in zip(idx.tolist(), order.tolist(), values, meds):
        reasons[i] = "; ".join(_describe(names[j], v, m) for j, v, m in zip(js, vs, ms))
    return reasons


def segment_medians(raw: np.ndarray, labels: np.ndarray, is_anomaly: np.ndarray, n_clusters: int,
                    clusters=None) -> np.ndarray:
    """Per cluster (rows), the median raw features of its non-anomalous members (all members
    if it has none; zeros for a cluster without rows). ``clusters`` limits the work to those."""
    medians = np.zeros((n_clusters, raw.shape[1]))
    for c in (range(n_clusters) if clusters is None else clusters):
        in_c = labels == c
        members = in_c & ~is_anomaly
        pool = raw[members] if members.any() else raw[in_c]
        if len(pool):
            medians[c] = np.median(pool, axis=0)
    return medians


def _describe(feature: str, value: float, median: float) -> str:
    if median > 0 and value >= 0:
        ratio = value / median
        shown = f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.2g}"
        return f"{feature} {shown}x segment median"
    return f"{feature} {value:,.6g} vs segment median {median:,.6g}"

