"""Models at scale on Spark: fit on a sample of customers, score every customer in the engine.

When the customer table is larger than ``engine.max_collect_customers`` it does not come back
to the driver whole. Instead:

1. a seeded sample (``segmentation.max_fit_samples`` customers, chosen by a hash of the
   customer id, so the same customers for the same seed) comes back, with a report of how
   well it represents the whole table (standardised mean difference and quantile coverage
   per feature, the whole table measured in the engine);
2. RFM edges, the anomaly detector, the clusters and their names are fitted on the sample,
   exactly as on a collected table;
3. every customer is scored inside Spark by a vectorised pandas function (``mapInPandas``)
   applying the fitted models batch by batch; the result stays a Spark table;
4. profiles are aggregates computed in the engine, and the writers write the scored table
   from the executors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np
import pandas as pd

from .. import schema as S
from ..campaigns.history import measured_results
from ..engine import Engine
from ..engine.base import sample_bucket, sample_cut
from ..features import FEATURE_COLUMNS, customer_features
from ..features.pricing import pricing_signals
from ..models.anomaly import anomaly_reasons, segment_medians
from ..models.learned import LearnedSegments, learn_segments, learned_columns, validate_learned
from ..models.preprocess import feature_matrix
from ..models.segmenter import OUTLIER_CLUSTER
from ..profiles.assemble import recommended_profiles
from ..profiles.profiles import order_profiles
from ..result import RunResult
from ..rfm import RFMScores, SegmentMap, score_rfm
from ..rfm.scoring import score_with_bins
from .frozen import frozen_model

_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
# The columns scoring adds, with their types (Ibis type names).
RFM_TYPES = {"r_score": "int8", "f_score": "int8", "m_score": "int8", "rfm_segment": "string"}
LEARNED_TYPES = {"cluster": "int64", "segment": "string", "is_anomaly": "boolean", "anomaly_score": "float64",
                 "anomaly_reason": "string"}


@dataclass(frozen=True)
class SampleReport:
    customers: int
    sampled: int
    seed: int
    features: dict[str, dict[str, float]]  # per feature: smd, max_quantile_gap, means, ...

    @property
    def worst_smd(self) -> float:
        return max((abs(f["smd"]) for f in self.features.values()), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "customers": self.customers, "sampled": self.sampled, "seed": self.seed,
            "method": "customers whose hash(customer_id, seed) falls below the sampling fraction",
            "worst_abs_smd": round(self.worst_smd, 4),
            "representative": self.worst_smd < 0.1,
            "rule": "|standardised mean difference| < 0.1 for every feature",
            "features": self.features,
        }


def sample_customers(features: ibis.Table, total: int, size: int, seed: int) -> pd.DataFrame:
    """About ``size`` customers, the same ones for the same seed, sorted by customer id."""
    picked = features.filter(sample_bucket(features[S.CUSTOMER_ID], seed) < sample_cut(size / total))
    sample = picked.order_by(S.CUSTOMER_ID).to_pandas().astype({S.CUSTOMER_ID: "string"})
    return sample.reset_index(drop=True)


def representativeness(features: ibis.Table, sample: pd.DataFrame, total: int, seed: int) -> SampleReport:
    """Sample against the whole table, feature by feature (the whole measured in the engine)."""
    cols = [c for c in FEATURE_COLUMNS if c in sample.columns]
    aggs: dict[str, Any] = {}
    for c in cols:
        aggs[f"{c}__mean"] = features[c].mean()
        aggs[f"{c}__std"] = features[c].std()
        for q in _QUANTILES:
            aggs[f"{c}__q{int(q * 100)}"] = features[c].approx_quantile(q)
    whole = features.aggregate(**aggs).to_pandas().iloc[0]
    report = {}
    for c in cols:
        values = sample[c].dropna().to_numpy(float)
        std = float(whole[f"{c}__std"] or 0.0)
        smd = (values.mean() - float(whole[f"{c}__mean"])) / std if std > 0 and values.size else 0.0
        below = {q: float((values <= whole[f"{c}__q{int(q * 100)}"]).mean()) for q in _QUANTILES} if values.size else {}
        coverage = {f"q{int(q * 100)}": round(share, 4) for q, share in below.items()}
        gap = max((abs(share - q) for q, share in below.items()), default=0.0)
        report[c] = {"smd": round(float(smd), 4), "max_quantile_gap": round(gap, 4),
                     "mean_all": float(whole[f"{c}__mean"]), "mean_sample": round(float(values.mean()), 6)
                     if values.size else None, "sample_share_below_quantile": coverage}
    return SampleReport(customers=total, sampled=len(sample), seed=seed, features=report)


def score_in_engine(
    engine: Engine, features: ibis.Table, rfm: RFMScores, segment_map: SegmentMap, learned: LearnedSegments | None,
    sample: pd.DataFrame,
) -> ibis.Table:
    """Every customer with RFM scores and segment, and the learned columns, scored batch by batch
    inside the engine (Spark: on the executors); the result stays an engine table."""
    bins = rfm.bins
    model = learned.model if learned is not None else None
    medians = None
    if model is not None:
        names = learned.names
        used = list(model.feature_names_in_)
        raw = feature_matrix(sample, used)
        medians = segment_medians(raw, sample["cluster"].to_numpy(), sample["is_anomaly"].to_numpy(bool),
                                  len(model.cluster_centers_))

    def score(batches):
        for batch in batches:
            out = batch.copy()
            scores = score_with_bins(out, bins)
            out = pd.concat([out, scores], axis=1)
            out["rfm_segment"] = segment_map.assign(scores).to_numpy(dtype=object)
            if model is not None:
                out = pd.concat([out, _learned_columns(model, names, medians, out, used)], axis=1)
            yield out

    added = {**RFM_TYPES, **(LEARNED_TYPES if model is not None else {})}
    return engine.map_batches(features, score, added, "scored")


def _learned_columns(model, names: dict[int, str], medians, batch: pd.DataFrame, used: list[str]) -> pd.DataFrame:
    raw = feature_matrix(batch, used)
    Z = model.preprocessor_.transform(raw)
    labels = model._nearest(Z)
    if model.anomaly_detector_ is not None:
        scores = model.anomaly_detector_.score_samples(Z)
        is_anomaly, anomaly_score = scores < model.anomaly_detector_.offset_, -scores
    else:
        is_anomaly, anomaly_score = np.zeros(len(Z), dtype=bool), np.full(len(Z), np.nan)
    reasons = anomaly_reasons(raw, Z, labels, model.cluster_centers_, is_anomaly, used, medians=medians)
    if model.outliers == "separate":
        labels = np.where(is_anomaly, OUTLIER_CLUSTER, labels)
    return learned_columns(labels, names, is_anomaly, anomaly_score, reasons, batch.index)


def engine_profiles(scored: ibis.Table, segment_column: str, features, segmentation: str,
                    order=None) -> pd.DataFrame:
    """:func:`customersense.profiles.segment_profiles`, aggregated in the engine."""
    t = scored
    aggs: dict[str, Any] = {"customers": t.count(), "revenue": t.monetary.sum()}
    if "is_anomaly" in t.columns:
        aggs["anomalies"] = t.is_anomaly.cast("int64").sum()
    for col in features:
        aggs[f"mean_{col}"] = t[col].mean()
        aggs[f"median_{col}"] = t[col].approx_median()
    frame = t.group_by(segment_column).aggregate(**aggs).to_pandas().set_index(segment_column)
    frame.insert(1, "share", frame["customers"] / frame["customers"].sum())
    total = float(frame["revenue"].sum())
    frame.insert(3, "revenue_share", frame["revenue"] / total if total else float("nan"))
    return order_profiles(frame, segmentation, order)


def analyse_at_scale(config, engine: Engine, tx, cleaned, clock, segment_map, notes: list[str]):
    """The pipeline after cleaning when the customer table stays in Spark (see module doc)."""
    seg = config.segmentation
    total = cleaned.report.customers
    with clock.stage("features", "Customer features (kept in Spark)"):
        feats = engine.materialize(customer_features(cleaned.purchases_and_returns, cleaned.report.as_of), "features")
    with clock.stage("sample", "Sampling customers for the models"):
        sample = sample_customers(feats, total, seg.max_fit_samples, seg.random_state)
        report = representativeness(feats, sample, total, seg.random_state)
    notes.append(
        f"{total:,} customers (more than engine.max_collect_customers = {config.engine.max_collect_customers:,}): "
        f"RFM edges and models fitted on a sample of {len(sample):,} (worst |standardised mean difference| "
        f"{report.worst_smd:.3f}), every customer scored in Spark"
    )
    if config.clv.enabled:
        notes.append("CLV skipped: at this scale on Spark the CLV models are not fitted yet; run with "
                     "--no-clv, or raise engine.max_collect_customers to model on the driver")
    with clock.stage("rfm", "RFM scores and segments (edges from the sample)"):
        rfm = score_rfm(sample)
        sample = pd.concat([sample, rfm.scores], axis=1)
        sample["rfm_segment"] = segment_map.assign(rfm.scores)
    learned = validation = None
    if seg.enabled:
        with clock.stage("segments", "Anomalies and learned segments (on the sample)") as progress:
            learned = learn_segments(sample, seg, progress)
            sample = pd.concat([sample, learned.columns], axis=1)
        if config.validation.enabled:
            with clock.stage("validate", "Validating segments (bootstrap, gap, null test)") as progress:
                validation = validate_learned(sample, learned, config.validation, progress)
    with clock.stage("score", "Scoring every customer in Spark"):
        scored = score_in_engine(engine, feats, rfm, segment_map, learned, sample)
    crosstab = None
    if learned is not None:
        pairs = scored.group_by(["segment", "rfm_segment"]).aggregate(n=scored.count()).to_pandas()
        crosstab = pairs.pivot(index="segment", columns="rfm_segment", values="n").fillna(0).astype("int64")
    segment_cols = ["rfm_segment", *(["segment"] if learned else [])]
    transactions = cleaned.table.inner_join(scored.select(S.CUSTOMER_ID, *segment_cols), S.CUSTOMER_ID)
    with clock.stage("profiles", "Segment profiles and recommendations (in Spark)"):
        everyone = pricing_signals(transactions.mutate(_all=ibis.literal("all")), "_all")["avg_unit_price_paid"]
        overall = float(everyone.iloc[0]) if len(everyone) else float("nan")
        measured = measured_results(config.input.campaign_history, notes)

        def part(column: str, segmentation: str, order=None, basis=None) -> pd.DataFrame:
            # the figures from the model sample (percentiles, medians); the sums in Spark
            return recommended_profiles(engine_profiles(scored, column, FEATURE_COLUMNS, segmentation, order=order),
                                        sample, column, pricing_signals(transactions, column), overall, measured,
                                        basis)

        parts = [part("rfm_segment", "rfm")]
        if learned is not None:
            parts.append(part("segment", "learned", learned.order,
                              {learned.names[c]: text for c, text in learned.evidence.items()}))
        profiles = pd.concat(parts, ignore_index=True)
    return RunResult(
        config=config, source=tx.info, cleaning=cleaned.report, customers=sample, profiles=profiles, rfm=rfm,
        segment_map=segment_map, learned=learned, crosstab=crosstab, validation=validation, clv=None,
        transactions=transactions, clock=clock, notes=notes, customer_table=scored, sample=report, campaigns=measured,
        model=frozen_model(config, tx.info, cleaned.report, sample, rfm, segment_map, learned, None, profiles),
    )
