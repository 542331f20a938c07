"""CustomerSegmenter: anomalies out, K-Means with k chosen from the data, anomalies assigned back.

A scikit-learn estimator: ``__init__`` only stores, ``fit`` validates and returns self, fitted
attributes end in ``_``. Works on any customer table with the feature columns.

Steps in ``fit``: preprocess (signed log1p + scaling), Isolation Forest on the scaled features,
k sweep and final K-Means on the inliers (on a random sample of them above
``max_fit_samples``), then every customer is assigned to its nearest centre; anomalies stay
flagged, or form their own cluster ``-1`` with ``outliers="separate"``. Clusters are numbered by
value: 0 has the most recent, most frequent, highest-spending centre.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from threadpoolctl import threadpool_limits

from .anomaly import anomaly_reasons, fit_isolation_forest
from .k_selection import choose_k, fit_kmeans, sweep_k
from .preprocess import DEFAULT_FEATURES, SCALERS, feature_matrix, make_preprocessor

OUTLIER_CLUSTER = -1
_PARALLEL_FROM = 100_000


class CustomerSegmenter(ClusterMixin, BaseEstimator):
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
        self.random_state = random_state

    # -- fitting ---------------------------------------------------------------------------------
    def fit(self, X, y=None):
        self._validate_params()
        features = list(self.features)
        raw = feature_matrix(_frame(X, features), features)
        # OpenMP threads cost more than they bring on small tables, and stall badly when the
        # cores are busy; use them only where the work is large.
        with threadpool_limits(limits=1 if len(raw) < _PARALLEL_FROM else None):
            return self._fit(raw, features)

    def _fit(self, raw: np.ndarray, features: list[str]):
        self.feature_names_in_ = np.asarray(features, dtype=object)
        self.preprocessor_ = make_preprocessor(self.scaler).fit(raw)
        Z = self.preprocessor_.transform(raw)
        n = len(Z)
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
        fit_on = self._fit_sample(inliers)
        k_min, k_max = self.k_range
        k_max = min(k_max, len(np.unique(fit_on, axis=0)) - 1)
        if k_max < max(2, k_min) and self.n_clusters is None:
            raise ValueError(
                f"k_range={tuple(self.k_range)}: only {len(fit_on)} inlying customers with "
                f"{k_max + 1} distinct feature rows; need at least {k_min + 1}"
            )
        ks = list(range(k_min, k_max + 1))
        if self.n_clusters is not None and self.n_clusters not in ks:
            ks = sorted({*ks, self.n_clusters})
        self.selection_ = sweep_k(
            fit_on, ks, n_init=self.n_init, random_state=self.random_state,
            silhouette_sample_size=self.silhouette_sample_size, silhouette_samples=self.silhouette_samples,
        )
        self.n_clusters_, self.k_reason_ = choose_k(self.selection_, self.n_clusters)
        model = fit_kmeans(fit_on, self.n_clusters_, self.n_init, self.random_state)
        self.cluster_centers_ = self._order_by_value(model.cluster_centers_, features)
        self.labels_ = self._nearest(Z)
        self.inertia_ = float(((inliers - self.cluster_centers_[self.labels_[~self.is_anomaly_]]) ** 2).sum())
        self.anomaly_reason_ = anomaly_reasons(
            raw, Z, self.labels_, self.cluster_centers_, self.is_anomaly_, features
        )
        if self.outliers == "separate":
            self.labels_ = np.where(self.is_anomaly_, OUTLIER_CLUSTER, self.labels_)
        return self

    def _validate_params(self) -> None:
        c = self.contamination
        if not (c == "auto" or (isinstance(c, Real) and 0 <= c <= 0.5)):
            raise ValueError(f"contamination={c!r}: must be 'auto' or a number in [0, 0.5]")
        if self.scaler not in SCALERS:
            raise ValueError(f"scaler={self.scaler!r}: must be one of {', '.join(SCALERS)}")
        if self.outliers not in ("assign", "separate"):
            raise ValueError(f"outliers={self.outliers!r}: must be 'assign' or 'separate'")
        lo, hi = self.k_range
        if not (isinstance(lo, Integral) and isinstance(hi, Integral) and 2 <= lo <= hi):
            raise ValueError(f"k_range={tuple(self.k_range)}: must be two integers with 2 <= k_min <= k_max")
        k = self.n_clusters
        if k is not None and not (isinstance(k, Integral) and k >= 2):
            raise ValueError(f"n_clusters={k!r}: must be None (choose from the data) or an integer >= 2")
        if len(self.features) < 1:
            raise ValueError("features=(): need at least one feature")

    def _fit_sample(self, Z: np.ndarray) -> np.ndarray:
        if len(Z) <= self.max_fit_samples:
            return Z
        rng = np.random.default_rng(self.random_state)
        return Z[np.sort(rng.choice(len(Z), self.max_fit_samples, replace=False))]

    @staticmethod
    def _order_by_value(centers: np.ndarray, features: list[str]) -> np.ndarray:
        sign = {"recency_days": -1.0}
        weights = np.array([sign.get(f, 1.0) for f in features])
        value = centers @ weights
        order = np.lexsort((np.arange(len(centers)), -value))
        return centers[order]

    # -- using the fitted model ------------------------------------------------------------------
    def _nearest(self, Z: np.ndarray, chunk_rows: int = 100_000) -> np.ndarray:
        # In row chunks: the n x k x features difference array of millions of customers
        # would not fit in memory at once.
        return np.concatenate([
            self._squared_distances(Z[i:i + chunk_rows]).argmin(axis=1) for i in range(0, len(Z), chunk_rows)
        ]) if len(Z) else np.zeros(0, dtype=np.int64)

    def _squared_distances(self, Z: np.ndarray) -> np.ndarray:
        return ((Z[:, None, :] - self.cluster_centers_[None, :, :]) ** 2).sum(axis=2)

    def _scaled(self, X) -> np.ndarray:
        features = list(self.feature_names_in_)
        return self.preprocessor_.transform(feature_matrix(_frame(X, features), features))

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

    def fit_predict(self, X, y=None, **kwargs) -> np.ndarray:
        return self.fit(X).labels_


def _frame(X, features) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    arr = np.asarray(X, dtype="float64")
    if arr.ndim != 2 or arr.shape[1] != len(features):
        raise ValueError(f"X has shape {arr.shape}; expected (n_customers, {len(features)}) for features {list(features)}")
    return pd.DataFrame(arr, columns=list(features))
