"""The learned-segments stage: fit the segmenter on the customer table, name the clusters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..config import SegmentationConfig, ValidationConfig
from ..errors import DataError
from ..evaluation.validation import ValidationReport, ValidationSettings, validate_clustering
from ..progress import ProgressFn, reporting
from .naming import OUTLIERS, cluster_medians, cluster_positions, load_name_rules, name_clusters, name_evidence
from .segmenter import OUTLIER_CLUSTER, CustomerSegmenter

LEARNED_COLUMNS = ("cluster", "segment", "is_anomaly", "anomaly_score", "anomaly_reason")


@dataclass(frozen=True)
class LearnedSegments:
    model: CustomerSegmenter
    columns: pd.DataFrame          # LEARNED_COLUMNS, indexed like the customer table
    names: dict[int, str]          # cluster -> business name
    positions: pd.DataFrame        # cluster -> percentile position of its median member, per feature used
    order: list[str]               # segment names, most valuable cluster first
    evidence: dict[int, str] = field(default_factory=dict)  # cluster -> why it has its name (one line)

    def summary(self) -> dict[str, Any]:
        m = self.model
        return {
            "k": int(m.n_clusters_),
            "k_reason": m.k_reason_,
            "features": list(m.feature_names_in_),
            "scaler": m.scaler,
            "contamination": m.contamination,
            "outliers": m.outliers,
            "random_state": m.random_state,
            "anomalies": int(m.is_anomaly_.sum()),
            "inertia": m.inertia_,
            "clusters": [
                {"cluster": int(c), "segment": self.names[c],
                 "position": {k: round(float(v), 4) for k, v in self.positions.loc[c].items()},
                 "name_evidence": self.evidence.get(c, "")}
                for c in self.positions.index
            ],
            "model_selection": m.selection_.to_dict(orient="records"),
        }


def learn_segments(
    customers: pd.DataFrame, cfg: SegmentationConfig, progress: ProgressFn | None = None
) -> LearnedSegments:
    model = CustomerSegmenter(
        features=cfg.features,
        scaler=cfg.scaler,
        contamination=cfg.contamination,
        n_clusters=cfg.k,
        k_range=(cfg.k_min, cfg.k_max),
        outliers=cfg.outliers,
        silhouette_sample_size=cfg.silhouette_sample_size,
        silhouette_samples=cfg.silhouette_samples,
        max_fit_samples=cfg.max_fit_samples,
        random_state=cfg.random_state,
    )
    try:
        with reporting(progress):
            model.fit(customers)
    except ValueError as exc:
        raise DataError(f"learned segments: {exc}; the classic RFM segments alone: --no-segments") from None
    labels = model.labels_
    members = (labels != OUTLIER_CLUSTER) & ~model.is_anomaly_
    rules = load_name_rules()
    medians = cluster_medians(customers, labels, members, list(model.feature_names_in_))
    positions = cluster_positions(customers, medians, rules)
    names = name_clusters(positions, rules)
    evidence = name_evidence(positions, medians, names, rules)
    names[OUTLIER_CLUSTER] = OUTLIERS
    order = [names[c] for c in sorted(set(labels.tolist())) if c != OUTLIER_CLUSTER]
    if (labels == OUTLIER_CLUSTER).any():
        order.append(OUTLIERS)
    columns = learned_columns(labels, names, model.is_anomaly_, model.anomaly_score_, model.anomaly_reason_,
                              customers.index)
    return LearnedSegments(model=model, columns=columns, names=names, positions=positions, order=order,
                           evidence=evidence)


def learned_columns(labels: np.ndarray, names: dict[int, str], is_anomaly: np.ndarray, anomaly_score: np.ndarray,
                    reasons, index: pd.Index) -> pd.DataFrame:
    """The customer table's :data:`LEARNED_COLUMNS` (one definition for every path that scores)."""
    return pd.DataFrame(
        {
            "cluster": labels.astype("int64"),
            "segment": pd.array([names[int(c)] for c in labels], dtype="string"),
            "is_anomaly": np.asarray(is_anomaly, dtype=bool),
            "anomaly_score": np.round(anomaly_score, 6),
            "anomaly_reason": pd.array(np.asarray(reasons, dtype=object), dtype="string"),
        },
        index=index,
    )


def validate_learned(customers: pd.DataFrame, learned: LearnedSegments, cfg: ValidationConfig,
                     progress: ProgressFn | None = None) -> ValidationReport:
    """Validate the learned clusters on the scaled features of the non-anomalous customers."""
    model = learned.model
    features = list(model.feature_names_in_)
    inliers = ~model.is_anomaly_ & (model.labels_ != OUTLIER_CLUSTER)
    Z = model.preprocessor_.transform(customers.loc[inliers, features].to_numpy(dtype="float64"))
    settings = ValidationSettings(
        n_bootstrap=cfg.n_bootstrap,
        n_null=cfg.n_null,
        gap_references=cfg.gap_references,
        k_max=int(model.selection_["k"].max()),
        max_customers=cfg.max_customers,
        n_init=2,
        random_state=model.random_state or 0,
    )
    names = [learned.names[c] for c in range(model.n_clusters_)]
    return validate_clustering(Z, model.labels_[inliers], settings, segment_names=names, progress=progress)
