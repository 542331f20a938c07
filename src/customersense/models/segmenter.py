"""CustomerSegmenter: anomalies out, K-Means with k chosen from the data, anomalies assigned back.

A scikit-learn estimator: ``__init__`` only stores, ``fit`` validates and returns self, fitted
attributes end in ``_``. ``X`` is a customer table (a DataFrame: its ``features`` columns are
used, by name; ``feature_names_in_`` names them) or a plain array (its columns as given: named
by ``features`` when there are as many, else ``x0``, ``x1``...; no ``feature_names_in_``).
Missing or infinite values and sparse input are rejected. Rows done are reported to the
current :func:`customersense.progress.reporting` block ("customers scored", "customers assigned").

Steps in ``fit`` (seconds per step in ``fit_seconds_``): preprocess (signed log1p + scaling),
Isolation Forest on the scaled features, k sweep and final K-Means on the inliers, then every
customer is assigned to its nearest centre (in row chunks); anomalies stay flagged, or form
their own cluster ``-1`` with ``outliers="separate"``.

Size decides the path, behind the same API. Up to ``sweep_sample_size`` inliers, every k is
fitted on all of them and the chosen k's model is the sweep's own (the exact path). Above it,
the sweep fits each k on a seeded sample of ``sweep_sample_size`` inliers (at most 2 inits, one
thread: small fits are fastest that way), and the chosen k is refitted, starting from the
sweep's centres, on a larger seeded sample of at most ``max_fit_samples`` inliers; K-Means
centres from 200,000 points are as good as from millions (the inertia on all points is within
a fraction of a percent of a full fit, see docs/benchmarks.md). Silhouettes always come from
``silhouette_samples`` seeded samples of ``silhouette_sample_size`` points. Clusters are numbered by
value: 0 has the most recent, most frequent, highest-spending centre.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from numbers import Integral
from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from ..choices import K_RANGE_RULE, OUTLIER_MODES, SCALERS, check_choice, check_contamination, k_range_ok
from ..progress import RowCounter
from .anomaly import anomaly_reasons, fit_isolation_forest
from .k_selection import SELECTION_COLUMNS, choose_k, fit_kmeans, sweep_k
from .preprocess import DEFAULT_FEATURES, feature_matrix, make_preprocessor

OUTLIER_CLUSTER = -1
_PARALLEL_FROM = 100_000


class CustomerSegmenter(TransformerMixin, ClusterMixin, BaseEstimator):
    # Declared for scikit-learn's estimator checks (tests/models/test_estimator_checks.py): check name
    # -> why this estimator fails it by design.
    expected_failed_checks: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        features=DEFAULT_FEATURES,
        scaler="standard",
        contamination=0.05,
        n_clusters=None,
        k_range=(2, 10),
        outliers="assign",
        n_init=4,
        silhouette_sample_size=5000,
        silhouette_samples=3,
        max_fit_samples=200_000,
        sweep_sample_size=50_000,
        random_state=None,
    ):
        self.features = features
        self.scaler = scaler
        self.contamination = contamination
        self.n_clusters = n_clusters
        self.k_range = k_range
        self.outliers = outliers
        self.n_init = n_init
        self.silhouette_sample_size = silhouette_sample_size
        self.silhouette_samples = silhouette_samples
        self.max_fit_samples = max_fit_samples
        self.sweep_sample_size = sweep_sample_size
        self.random_state = random_state

    # -- fitting ---------------------------------------------------------------------------------
    def fit(self, X, y=None):
        self._validate_params()
        raw = self._features(X, reset=True)
        if hasattr(self, "feature_names_in_"):
            features = list(self.feature_names_in_)
        elif raw.shape[1] == len(self.features):
            features = list(self.features)
        else:
            features = [f"x{i}" for i in range(raw.shape[1])]
        # OpenMP threads cost more than they bring on small tables, and stall badly when the
        # cores are busy; use them only where the work is large.
        with threadpool_limits(limits=1 if len(raw) < _PARALLEL_FROM else None):
            return self._fit(raw, features)

    def _features(self, X, reset: bool) -> np.ndarray:
        """The feature matrix of X: a DataFrame's feature columns by name (when fitted on a
        DataFrame), else X's columns as given (validated as scikit-learn does)."""
        if isinstance(X, pd.DataFrame) and (reset or hasattr(self, "feature_names_in_")):
            features = list(self.features if reset else self.feature_names_in_)
            raw = feature_matrix(X, features)
            if reset:
                self.n_features_in_ = len(features)
                self.feature_names_in_ = np.asarray(features, dtype=object)
            return raw
        return validate_data(self, X, reset=reset, dtype=np.float64, ensure_min_samples=2 if reset else 1)

    def _fit(self, raw: np.ndarray, features: list[str]):
        self.fit_seconds_ = {}
        with self._timed("preprocess"):
            self.preprocessor_ = make_preprocessor(self.scaler)
            Z = self.preprocessor_.fit_transform(raw)
        n = len(Z)
        with self._timed("anomalies"):
            if self.contamination == 0:
                self.anomaly_detector_ = None
                self.anomaly_score_ = np.full(n, np.nan)
                self.is_anomaly_ = np.zeros(n, dtype=bool)
            else:
                self.anomaly_detector_ = fit_isolation_forest(Z, self.contamination, self.random_state)
                scores = self.anomaly_detector_.train_scores_
                self.anomaly_score_ = -scores
                self.is_anomaly_ = scores < self.anomaly_detector_.offset_
        inliers = Z[~self.is_anomaly_]
        with self._timed("k_sweep"):
            model = self._sweep_and_fit(inliers)
        with self._timed("assign"):
            self.cluster_centers_ = self._order_by_value(model.cluster_centers_, features)
            self.labels_ = self._nearest(Z, on_rows=RowCounter.current(n, "customers assigned"))
            self.inertia_ = float(((inliers - self.cluster_centers_[self.labels_[~self.is_anomaly_]]) ** 2).sum())
        with self._timed("anomaly_reasons"):
            self.anomaly_reason_ = anomaly_reasons(
                raw, Z, self.labels_, self.cluster_centers_, self.is_anomaly_, features
            )
        if self.outliers == "separate":
            self.labels_ = np.where(self.is_anomaly_, OUTLIER_CLUSTER, self.labels_)
        return self

    def _sweep_and_fit(self, inliers: np.ndarray):
        """Sweep k (on a sample above ``sweep_sample_size``), choose k, return its K-Means model."""
        fit_on = _sample(inliers, self.max_fit_samples, self.random_state)
        sweep_on = _sample(fit_on, self.sweep_sample_size, self.random_state)
        self.sweep_sampled_ = len(sweep_on) < len(inliers)
        k_min, k_max = self.k_range
        k_max = min(k_max, len(np.unique(sweep_on, axis=0)) - 1)
        if k_max < max(2, k_min) and self.n_clusters is None:
            raise ValueError(
                f"k_range={tuple(self.k_range)}: only {len(sweep_on)} inlying customers with "
                f"{k_max + 1} distinct feature rows; need at least {k_min + 1}"
            )
        ks = list(range(k_min, k_max + 1))
        if self.n_clusters is not None and self.n_clusters not in ks:
            ks = sorted({*ks, self.n_clusters})
        sampled = len(sweep_on) < len(fit_on)
        if self.n_clusters == 1:  # one segment: nothing to choose; the sweep is reported if there is one
            ks = [k for k in ks if k >= 2]
            self.selection_ = pd.DataFrame(columns=list(SELECTION_COLUMNS))
        if ks:
            with threadpool_limits(limits=1 if sampled else None):
                self.selection_, models = sweep_k(
                    sweep_on, ks, n_init=min(self.n_init, 2) if sampled else self.n_init,
                    random_state=self.random_state, silhouette_sample_size=self.silhouette_sample_size,
                    silhouette_samples=self.silhouette_samples,
                )
        if self.n_clusters == 1:
            self.n_clusters_, self.k_reason_ = 1, "k=1 fixed by the user: one segment"
            self.selection_["chosen"] = False
            return fit_kmeans(fit_on, 1, self.n_init, self.random_state)
        self.n_clusters_, self.k_reason_ = choose_k(self.selection_, self.n_clusters)
        model = models[self.n_clusters_]
        if sampled:  # refit the chosen k on the larger sample, from the sweep's centres
            model = fit_kmeans(fit_on, self.n_clusters_, 1, self.random_state, init=model.cluster_centers_)
        return model

    @contextmanager
    def _timed(self, step: str) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        self.fit_seconds_[step] = round(time.perf_counter() - t0, 4)

    def _validate_params(self) -> None:
        check_contamination("contamination", self.contamination)
        check_choice("scaler", self.scaler, SCALERS)
        check_choice("outliers", self.outliers, OUTLIER_MODES)
        if not k_range_ok(*self.k_range):
            raise ValueError(f"k_range={tuple(self.k_range)}: must be two integers; {K_RANGE_RULE}")
        k = self.n_clusters
        if k is not None and not (isinstance(k, Integral) and k >= 1):
            raise ValueError(f"n_clusters={k!r}: must be None (choose from the data) or an integer >= 1")
        if len(self.features) < 1:
            raise ValueError("features=(): need at least one feature")
        for name in ("max_fit_samples", "sweep_sample_size"):
            size = getattr(self, name)
            if size is not None and not (isinstance(size, Integral) and size >= 100):
                raise ValueError(f"{name}={size!r}: must be None (no sampling) or an integer >= 100")

    @staticmethod
    def _order_by_value(centers: np.ndarray, features: list[str]) -> np.ndarray:
        sign = {"recency_days": -1.0}
        weights = np.array([sign.get(f, 1.0) for f in features])
        value = centers @ weights
        order = np.lexsort((np.arange(len(centers)), -value))
        return centers[order]

    # -- using the fitted model ------------------------------------------------------------------
    def _nearest(self, Z: np.ndarray, chunk_rows: int = 100_000, on_rows=None) -> np.ndarray:
        # In row chunks: the n x k distances of millions of customers at once cost memory.
        # |z - c|^2 = |z|^2 - 2 z.c + |c|^2, and |z|^2 is the same for every centre.
        C = self.cluster_centers_
        half_norms, C2 = 0.5 * (C * C).sum(axis=1), C.T.copy()
        labels = np.zeros(len(Z), dtype=np.int64)
        for i in range(0, len(Z), chunk_rows):
            labels[i:i + chunk_rows] = (half_norms - Z[i:i + chunk_rows] @ C2).argmin(axis=1)
            if on_rows is not None:
                on_rows(min(chunk_rows, len(Z) - i))
        return labels

    def _squared_distances(self, Z: np.ndarray) -> np.ndarray:
        C = self.cluster_centers_
        d = Z @ (-2.0 * C.T)
        d += (C * C).sum(axis=1)
        d += (Z * Z).sum(axis=1)[:, None]
        return np.maximum(d, 0.0, out=d)

    def _scaled(self, X) -> np.ndarray:
        check_is_fitted(self)
        return self.preprocessor_.transform(self._features(X, reset=False))

    def transform(self, X) -> np.ndarray:
        """Euclidean distance of each customer to each cluster centre, in the scaled space."""
        return np.sqrt(self._squared_distances(self._scaled(X)))

    def predict(self, X) -> np.ndarray:
        """Nearest cluster; -1 for anomalies when ``outliers="separate"``."""
        Z = self._scaled(X)
        labels = self._nearest(Z)
        if self.outliers == "separate" and self.anomaly_detector_ is not None:
            labels = np.where(self.anomaly_detector_.predict(Z) == -1, OUTLIER_CLUSTER, labels)
        return labels

    def fit_predict(self, X, y=None) -> np.ndarray:
        return self.fit(X).labels_


def _sample(Z: np.ndarray, size: int | None, random_state) -> np.ndarray:
    """A seeded sample of ``size`` rows (in their order), or Z itself when it is not larger."""
    if size is None or len(Z) <= size:
        return Z
    rng = np.random.default_rng(random_state)
    return Z[np.sort(rng.choice(len(Z), size, replace=False))]

