"""A fitted run, frozen: everything needed to score customers again with the same rules.

:class:`ScoringModel` holds two things and nothing else: ``spec``, plain JSON (settings, RFM
edges, the segment map, names, the CLV models' parameters, profiles), and ``arrays``, named
numpy arrays (the scaler, the cluster centres, the Isolation Forest as arrays, the segment
medians used to word anomaly reasons, the engagement score's reference population). Both are
written by :mod:`.bundle` without pickle.

Scoring applies the frozen rules to a customer table with the run's feature columns:

- RFM scores from the frozen edges (:func:`customersense.rfm.scoring.bin_scores`) and
  the frozen segment map;
- the engagement score as a percent rank against the training customers (a training customer
  gets exactly its run value; a new customer its position among the training customers);
- the learned segment: signed log1p, the frozen scaler, the nearest frozen centre, the frozen
  Isolation Forest and threshold, anomaly reasons against the training segments' medians;
- churn, CLV and P(alive) from the frozen BTYD model parameters and the customer's CLV inputs
  (``clv_frequency``, ``clv_recency``, ``clv_T``, ``clv_monetary_value``); or, when the run chose
  the supervised model, from its three gradient-boosting models frozen as arrays
  (:mod:`.boosting`, prefixes ``sv_churn``, ``sv_purchases``, ``sv_spend``; a target without
  variation is a constant in the spec) and the customer's purchase-day window features as of the
  day before as_of (:func:`customersense.clv.windows.window_features`). Those features come from
  transactions only: they are given to the scorer beside the customer table (``windows``), not as
  columns of it; without them the churn and CLV columns stay empty (:attr:`ScoringModel.clv_missing`
  says why).

Scoring the training customers reproduces the run's columns exactly (tested).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from .. import schema as S
from ..clv.choice import SUMMARY_COLUMNS, btyd_columns, rebuild_btyd, supervised_columns
from ..config import CLVConfig
from ..errors import DataError
from ..features.customer import FEATURE_COLUMNS, engagement_from_ranks
from ..models.anomaly import anomaly_reasons, segment_medians
from ..models.learned import LEARNED_COLUMNS
from ..models.naming import OUTLIERS
from ..models.preprocess import feature_matrix, signed_log1p
from ..models.segmenter import OUTLIER_CLUSTER
from ..rfm import SegmentMap
from ..rfm.scoring import DimensionBins, bin_scores
from .boosting import boosting_arrays, boosting_predict
from .forest import forest_arrays, score_samples

FORMAT = "customersense-model"
FORMAT_VERSION = 2  # 2: churn and CLV chosen by holdout (issue 15)
RFM_INPUTS = ("recency_days", "frequency", "monetary")
CLV_INPUTS = tuple(SUMMARY_COLUMNS.values())
WINDOW = "window:"  # score_arrays' key prefix of the supervised model's window features
SUPERVISED_TARGETS = ("churn", "purchases", "spend")  # arrays prefixed sv_<target>


@dataclass(frozen=True)
class ScoringModel:
    spec: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(repr=False)

    # -- what it needs and gives ------------------------------------------------------------------
    @property
    def segment_features(self) -> list[str]:
        learned = self.spec["learned"]
        return list(learned["features"]) if learned else []

    @property
    def required_columns(self) -> list[str]:
        """Customer columns every row must carry (CLV inputs are optional: without them the
        CLV columns stay empty)."""
        return list(dict.fromkeys([*RFM_INPUTS, *(f for f in self.segment_features if f != "engagement_score")]))

    @property
    def clv_outputs(self) -> list[str]:
        """The churn and CLV columns the model scores (none without a CLV model)."""
        clv = self.spec["clv"]
        if not clv:
            return []
        h = clv["horizon_days"]
        return ["churn_probability", f"expected_purchases_{h}d", f"expected_spend_{h}d", "clv", "p_alive",
                "clv_model", "clv_status"]

    @property
    def supervised(self) -> dict[str, Any] | None:
        """The saved supervised churn model's spec (features, targets), None for a BTYD model."""
        clv = self.spec["clv"]
        return clv.get("supervised") if clv else None

    @property
    def clv_missing(self) -> str:
        """Why churn and CLV stay empty for customers without the model's CLV inputs."""
        if self.supervised:
            return ("the supervised churn model needs each customer's purchase-day window features, computed "
                    "from transactions: score transactions (`customersense score` on transaction lines, or POST "
                    "/v1/score/transactions); a customer table or feature rows do not carry them")
        return ("the input lacks the CLV inputs (clv_frequency, clv_recency, clv_T, clv_monetary_value): "
                "score transactions, or a customer table from a run")

    # -- scoring ---------------------------------------------------------------------------------
    def score(self, customers: pd.DataFrame, windows: pd.DataFrame | None = None) -> pd.DataFrame:
        """``customers`` (one row per customer, the run's feature columns) with the scored
        columns added or replaced: engagement_score, r/f/m scores, rfm_segment, the learned
        columns, and the CLV columns when the CLV inputs are present. ``windows``: the
        supervised model's window features, one row per row of ``customers`` (in that order),
        used and not added to the output. The numbers come from :meth:`score_arrays`; this adds
        the run's column types and order."""
        missing = [c for c in [S.CUSTOMER_ID, *self.required_columns] if c not in customers.columns]
        if missing:
            raise DataError(f"the customer table lacks column(s) {', '.join(missing)} that the model needs")
        out = customers.reset_index(drop=True)
        inputs = {c: pd.to_numeric(out[c], errors="coerce").to_numpy(np.float64)
                  for c in {*RFM_INPUTS, *self.segment_features, *CLV_INPUTS} if c in out.columns}
        if windows is not None:
            if len(windows) != len(out):
                raise ValueError(f"windows has {len(windows)} rows for {len(out)} customers")
            inputs.update({WINDOW + c: windows[c].to_numpy(np.float64) for c in windows.columns})
        scored = self.score_arrays(inputs)
        out = out.drop(columns=[c for c in scored if c in out.columns]).assign(
            **{S.CUSTOMER_ID: out[S.CUSTOMER_ID].astype("string")})
        types = {"rfm_segment": "string", "segment": "string", "anomaly_reason": "string", "clv_model": "string",
                 "clv_status": "string"}
        added = pd.DataFrame({c: pd.array(v, dtype=types[c]) if c in types else v for c, v in scored.items()},
                             index=out.index)
        out = pd.concat([out, added], axis=1)
        return out[self._ordered(out.columns)]

    def score_arrays(self, columns: dict[str, np.ndarray], reasons: bool = True) -> dict[str, np.ndarray]:
        """The scored columns of customers given as float arrays by column name (no pandas: one
        customer takes a few milliseconds here). Text columns are object arrays; the CLV columns
        are NaN where a CLV input is missing (all of them when absent; the supervised model's
        window features are keys ``WINDOW + name``). ``reasons=False`` leaves
        out ``anomaly_reason`` (the slowest column at a million customers)."""
        n = len(columns["recency_days"])
        for name in RFM_INPUTS:  # a missing value would land in the top bin: refuse it
            if not np.isfinite(columns[name]).all():
                raise DataError(f"column {name} has missing or non-numeric values in "
                                f"{int((~np.isfinite(columns[name])).sum()):,} row(s); every customer needs it")
        out: dict[str, np.ndarray] = {"engagement_score": self._engagement(columns)}
        for b in self._bins:
            out[b.score] = bin_scores(columns[b.column], b)
        out["rfm_segment"] = self._segment_map.names(out["r_score"], out["f_score"], out["m_score"])
        if self.spec["learned"]:  # engagement_score may be a segment feature: the frozen one, computed above
            out.update(self._learned({**columns, "engagement_score": out["engagement_score"]}, reasons))
        if self.spec["clv"]:
            out.update(self._clv(columns, n))
        return out

    @cached_property
    def _bins(self) -> tuple[DimensionBins, ...]:
        return tuple(DimensionBins(score=b["score"], column=b["column"], higher_is_better=b["higher_is_better"],
                                   edges=tuple(b["edges"]), customers_per_score={}, empty_scores=())
                     for b in self.spec["rfm"]["bins"])

    @cached_property
    def _segment_map(self) -> SegmentMap:
        return SegmentMap(path=self.spec["rfm"]["segment_map"], cells=tuple(self.spec["rfm"]["cells"]))

    @cached_property
    def _clv_models(self):
        return rebuild_btyd(self.spec["clv"]["prediction_model"])

    @cached_property
    def _clv_settings(self) -> CLVConfig:
        return CLVConfig(**self.spec["clv"]["settings"])

    def _ordered(self, columns) -> list[str]:
        """The run's column order (customer_segments), then any other columns of the input."""
        clv = [*self.clv_outputs, *CLV_INPUTS, *([f"spend_last_{self.spec['clv']['horizon_days']}d"]
                                                 if self.spec["clv"] else [])]
        first = [S.CUSTOMER_ID, *FEATURE_COLUMNS, *clv, "r_score", "f_score", "m_score", "rfm_segment",
                 *LEARNED_COLUMNS]
        known = [c for c in first if c in columns]
        return [*known, *(c for c in columns if c not in known)]

    def _engagement(self, t: dict[str, np.ndarray]) -> np.ndarray:
        """100 x (0.4 PR(-recency) + 0.3 PR(frequency) + 0.3 PR(monetary)), each percent rank
        taken among the training customers: (training values strictly below) / (n - 1), at most 1,
        so that the score stays in [0, 100]."""
        a = self.arrays
        n = len(a["reference_neg_recency_days"])
        if n < 2:
            return np.zeros(len(t["recency_days"]))

        def pr(name: str, values: np.ndarray) -> np.ndarray:
            # a value above every training value ranks as the highest training customer: at most 1
            order = np.argsort(values, kind="stable")  # sorted queries walk the reference in order
            below = np.empty(len(values), dtype=np.int64)
            below[order] = np.searchsorted(a[f"reference_{name}"], values[order], side="left")
            return np.minimum(below, n - 1).astype(np.float64) / float(n - 1)

        return engagement_from_ranks(pr("neg_recency_days", -t["recency_days"]), pr("frequency", t["frequency"]),
                                     pr("monetary", t["monetary"]))

    def scale(self, raw: np.ndarray) -> np.ndarray:
        """The segmenter's preprocessing: signed log1p, then the frozen scaler."""
        Z = signed_log1p(raw)
        Z -= self.arrays["scaler_center"]
        Z /= self.arrays["scaler_scale"]
        return Z

    def _learned(self, t: dict[str, np.ndarray], reasons: bool = True) -> dict[str, np.ndarray]:
        spec, a = self.spec["learned"], self.arrays
        features = list(spec["features"])
        raw = np.column_stack([t[f] for f in features]) if len(t["recency_days"]) else np.zeros((0, len(features)))
        if not np.isfinite(raw).all():
            bad = [f for i, f in enumerate(features) if not np.isfinite(raw[:, i]).all()]
            raise DataError(f"features {bad} have missing or infinite values; the model needs every one")
        Z = self.scale(raw)
        C = a["centers"]
        labels = (0.5 * (C * C).sum(axis=1) - Z @ C.T.copy()).argmin(axis=1) if len(Z) else np.zeros(0, np.int64)
        if "iforest_feature" in a:
            scores = score_samples(Z, a)
            is_anomaly, anomaly_score = scores < a["iforest_offset"][0], -scores
        else:
            is_anomaly, anomaly_score = np.zeros(len(Z), dtype=bool), np.full(len(Z), np.nan)
        if spec["outliers"] == "separate":
            labels_out = np.where(is_anomaly, OUTLIER_CLUSTER, labels)
        else:
            labels_out = labels
        names = {int(k): v for k, v in spec["names"].items()}
        lookup = np.asarray([names.get(c, OUTLIERS) for c in range(-1, len(C))], dtype=object)  # c at c + 1
        out = {"cluster": labels_out.astype("int64"), "segment": lookup[labels_out + 1],
               "is_anomaly": np.asarray(is_anomaly, dtype=bool),
               "anomaly_score": np.round(anomaly_score, 6)}  # learned.learned_columns' rounding
        if reasons:
            out["anomaly_reason"] = np.asarray(
                anomaly_reasons(raw, Z, labels, C, is_anomaly, features, medians=a["segment_medians"]), dtype=object)
        return out

    def _clv(self, t: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
        outputs = self.clv_outputs
        out = {c: np.full(n, np.nan) for c in outputs[:-2]}
        out.update(clv_model=np.full(n, None, dtype=object), clv_status=np.full(n, None, dtype=object))
        if not self.spec["clv"]["scorable"]:
            return out
        if self.supervised:
            return self._supervised(t, out)
        if not all(c in t for c in CLV_INPUTS):
            return out
        inputs = {name: t[column] for name, column in SUMMARY_COLUMNS.items()}
        ok = np.all([np.isfinite(v) for v in inputs.values()], axis=0)
        if not ok.any():
            return out
        inputs = {k: v[ok] for k, v in inputs.items()}
        inputs["frequency"] = inputs["frequency"].astype("int64")
        model, spend = self._clv_models
        predicted = btyd_columns(model, spend, pd.DataFrame(inputs), self.spec["clv"]["horizon_days"],
                                 self._clv_settings)
        for column in outputs[:-2]:
            out[column][ok] = predicted[column]
        out["clv_model"][ok] = self.spec["clv"]["prediction_model"]["transactions"]["model"]
        out["clv_status"][ok] = self.spec["clv"]["status"]
        return out

    def _supervised(self, t: dict[str, np.ndarray], out: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The supervised model's columns where the window features are given (a customer with
        none, not known at the cut, stays empty as in the run), by clv.choice.supervised_columns."""
        sv = self.supervised
        features = [WINDOW + f for f in sv["features"]]
        if not all(f in t for f in features):
            return out
        X = np.column_stack([t[f] for f in features]) if features else np.zeros((len(out["clv"]), 0))
        ok = ~np.isnan(X).all(axis=1)
        if not ok.any():
            return out
        X = X[ok]
        pred = {}
        for target in SUPERVISED_TARGETS:
            constant = sv["constants"].get(target)
            pred[target] = (np.full(len(X), float(constant)) if constant is not None
                            else boosting_predict(self.arrays, f"sv_{target}", X))
        predicted = supervised_columns(pred, self.spec["clv"]["horizon_days"], self._clv_settings)
        for column in self.clv_outputs[:-2]:
            out[column][ok] = predicted[column]
        out["clv_model"][ok] = self.spec["clv"]["prediction_model"]["model"]
        out["clv_status"][ok] = self.spec["clv"]["status"]
        return out


def freeze(*, info: dict[str, Any], customers: pd.DataFrame, rfm, segment_map, learned, clv, clv_settings,
           profiles: pd.DataFrame) -> ScoringModel:
    """A :class:`ScoringModel` from a run's fitted parts (see customersense.pipeline.run)."""
    arrays: dict[str, np.ndarray] = {
        "reference_neg_recency_days": np.sort(-customers["recency_days"].to_numpy(np.float64)),
        "reference_frequency": np.sort(customers["frequency"].to_numpy(np.float64)),
        "reference_monetary": np.sort(customers["monetary"].to_numpy(np.float64)),
    }
    spec: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **info,
        "rfm": {"segment_map": segment_map.path, "cells": list(segment_map.cells),
                "bins": [{"score": b.score, "column": b.column, "higher_is_better": b.higher_is_better,
                          "edges": list(b.edges)} for b in rfm.bins]},
        "learned": None,
        "clv": None,
        "profiles": _records(profiles),
    }
    if learned is not None:
        m = learned.model
        features = list(m.feature_names_in_)
        scale = m.preprocessor_.named_steps["scale"]
        center = scale.mean_ if hasattr(scale, "mean_") else scale.center_
        raw = feature_matrix(customers, features)
        Z = m.preprocessor_.transform(raw)
        labels = m._nearest(Z)  # before anomalies become cluster -1 ("separate")
        arrays.update(
            scaler_center=np.asarray(center, dtype=np.float64),
            scaler_scale=np.asarray(scale.scale_, dtype=np.float64),
            centers=np.asarray(m.cluster_centers_, dtype=np.float64),
            segment_medians=segment_medians(raw, labels, m.is_anomaly_, len(m.cluster_centers_)),
        )
        if m.anomaly_detector_ is not None:
            arrays.update(forest_arrays(m.anomaly_detector_))
        spec["learned"] = {
            "features": features, "scaler": m.scaler, "outliers": m.outliers, "k": int(m.n_clusters_),
            "k_reason": m.k_reason_, "contamination": m.contamination, "random_state": m.random_state,
            "names": {str(k): v for k, v in sorted(learned.names.items())}, "order": list(learned.order),
            "outlier_segment": OUTLIERS,
        }
    if clv is not None:
        spec["clv"] = {"prediction_model": clv.record["prediction_model"], "settings": clv_settings,
                       "horizon_days": clv.horizon_days, "horizon_months": clv_settings["horizon_months"],
                       "scorable": True, "status": clv.record["status"]["label"], "reason": None}
        if "transactions" not in clv.record["prediction_model"]:  # the supervised model
            if not clv.fitted:
                raise ValueError("the chosen supervised model's fitted estimator is missing (CLVResult.fitted)")
            spec["clv"]["supervised"] = _freeze_supervised(clv.fitted[0], arrays)
    return ScoringModel(spec=spec, arrays=arrays)


def _freeze_supervised(model, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The supervised model's spec; its boosting models go into ``arrays`` (``sv_<target>``), a
    target without variation (clv.supervised's ``_Constant``) is its value in the spec."""
    constants: dict[str, float] = {}
    for target in SUPERVISED_TARGETS:
        fitted = getattr(model, f"{target}_model_")
        if hasattr(fitted, "_predictors"):
            arrays.update(boosting_arrays(fitted, f"sv_{target}"))
        else:
            constants[target] = float(fitted.value)
    return {"features": [str(f) for f in model.feature_names_in_], "targets": list(SUPERVISED_TARGETS),
            "constants": constants, "as_of": "the day before as_of (window features of clv.windows)"}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows (NaN -> None, numpy scalars -> Python)."""
    clean = frame.astype(object).where(frame.notna(), None)
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in clean.to_dict(orient="records")]
