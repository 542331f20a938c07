"""What the routes do, without HTTP: hold the current model, turn request bodies into frames,
score them and shape the answer.

Transactions are turned into customers by the run's own stages
(:func:`customersense.scoring.inputs.customers_from_records`) in a DuckDB engine made for the
request and closed after it. A DuckDB connection must not serve two threads at once, so the
choice was one engine per request or a pool of engines behind a lock. Measured on the embedded
model (50 lines of one customer, 2-core machine, ``bench``-style loop of 10): a new engine per
request took 388 ms, a reused engine 402 ms. Connecting is negligible next to the stages'
queries, so each request gets its own engine: no lock, no shared state, requests run in parallel.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import schema as S
from ..config import EngineConfig
from ..engine import connect
from ..errors import DataError, ModelError
from ..scoring import ScoringModel, load_bundle
from ..scoring.model import WINDOW
from ..scoring.forest import warm
from ..scoring.inputs import customers_from_records
from .schemas import CustomerFeatures, CustomerScore, ModelInfo, SegmentInfo, Transaction

ANSWER = list(CustomerScore.model_fields)
RECOMMENDATIONS = ("retention", "pricing", "campaigns")
# One request's engine: one thread (requests run side by side) and a small memory cap.
REQUEST_ENGINE = EngineConfig(threads=1, memory_limit="256MB")


class ModelHolder:
    """The model being served. ``current`` is replaced in one assignment, so a request that took
    the model keeps it to its end while a reload swaps in the next one; reloads are serialised."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.current: ScoringModel = _loaded(self.folder)
        self._lock = threading.Lock()

    def reload(self) -> tuple[str, str]:
        """Load the folder again; (new version, previous version). A bundle that cannot be used
        raises :class:`~customersense.errors.ModelError` and the current model stays."""
        with self._lock:
            fresh = _loaded(self.folder)
            previous, self.current = self.current, fresh
        return fresh.spec["model_version"], previous.spec["model_version"]


def _loaded(folder: Path) -> ScoringModel:
    """The bundle in ``folder``, its compiled forest walk loaded before the first request."""
    try:
        model = load_bundle(folder)
        warm(model.arrays)
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - a bundle that cannot be used, whatever the reason
        raise ModelError(f"{folder}: the bundle cannot be used ({type(exc).__name__}: {exc})") from exc
    return model


class MissingFeature(DataError):
    """A customer of the request lacks a feature the model needs."""

    def __init__(self, column: str, customer: str, index: int) -> None:
        super().__init__(f"customers[{index}] (customer_id {customer!r}) lacks {column}, which the model needs")
        self.detail = {"field": column, "customer_id": customer, "index": index}


Customers = tuple[list[str], dict[str, np.ndarray]]  # ids, and float columns by name


def customer_columns(model: ScoringModel, rows: list[CustomerFeatures]) -> Customers:
    """The request's customers as ids and float columns; every required feature present."""
    required = model.required_columns
    unknown = [c for c in required if c not in CustomerFeatures.model_fields]
    if unknown:
        raise DataError(f"the model's segments use {', '.join(unknown)}, which /v1/score does not take; "
                        "score transactions (/v1/score/transactions) or a customer table with `customersense score`")
    for i, row in enumerate(rows):
        for column in required:
            if getattr(row, column) is None:
                raise MissingFeature(column, row.customer_id, i)
    ids = [r.customer_id for r in rows]
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        first = next(c for c in ids if c in seen or seen.add(c))
        raise DataError(f"customer {first!r} appears more than once; give one row per customer")
    columns = [c for c in CustomerFeatures.model_fields if c != S.CUSTOMER_ID]
    values = {c: np.array([getattr(r, c) for r in rows], dtype=np.float64) for c in columns}
    if all(np.isnan(values[c]).all() for c in columns if c.startswith("clv_")):
        values = {c: v for c, v in values.items() if not c.startswith("clv_")}  # no CLV inputs: CLV is null
    return ids, values


def table_columns(customers: pd.DataFrame, windows: pd.DataFrame | None = None) -> Customers:
    """A customer table (from transactions) as ids and float columns, with the supervised
    model's window features (``windows``, one row per customer) under their ``WINDOW`` keys."""
    ids = customers[S.CUSTOMER_ID].astype(str).tolist()
    columns = {c: pd.to_numeric(customers[c], errors="coerce").to_numpy(np.float64)
               for c in customers.columns if c != S.CUSTOMER_ID}
    if windows is not None:
        columns.update({WINDOW + c: windows[c].to_numpy(np.float64) for c in windows.columns})
    return ids, columns


def transaction_frame(rows: list[Transaction]) -> pd.DataFrame:
    """The request's lines with standard column names; optional columns only when sent."""
    data: dict[str, Any] = {S.CUSTOMER_ID: pd.array([r.customer_id for r in rows], dtype="string"),
                            S.TIMESTAMP: pd.to_datetime([_naive(r.timestamp) for r in rows])}
    for column in ("quantity", "unit_price", "amount"):
        values = np.array([getattr(r, column) for r in rows], dtype=np.float64)
        if not np.isnan(values).all():
            data[column] = values
    if "amount" in data and np.isnan(data["amount"]).any():  # lines without amount: quantity x unit_price
        line = np.array([(r.quantity or 0.0) * (r.unit_price or 0.0) for r in rows])
        data["amount"] = np.where(np.isnan(data["amount"]), line, data["amount"])
    for column in ("order_id", "product_id", "description", "country"):
        values = [getattr(r, column) for r in rows]
        if any(v is not None for v in values):
            data[column] = pd.array(values, dtype="string")
    return pd.DataFrame(data)


def _naive(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo is not None else value


def customers_from_transactions(model: ScoringModel, rows: list[Transaction],
                                as_of: dt.date | None) -> tuple[Customers, dt.date]:
    """The customers of the request's transactions as ids and float columns (the run's stages,
    a fresh engine), and the as_of date used."""
    engine = connect(REQUEST_ENGINE)
    try:
        scoring_input = customers_from_records(engine, model, transaction_frame(rows), as_of)
    finally:
        engine.close()
    return table_columns(scoring_input.customers, scoring_input.windows), scoring_input.as_of


def answer(model: ScoringModel, customers: Customers) -> list[dict[str, Any]]:
    """The scored customers as JSON-ready rows (NaN -> null), from the model's numpy path
    (:meth:`ScoringModel.score_arrays`: no pandas per request)."""
    ids, columns = customers
    scored = {S.CUSTOMER_ID: np.asarray(ids, dtype=object), **model.score_arrays(columns)}
    if spec_clv := model.spec.get("clv"):  # the horizon's columns under the answer's plain names
        h = spec_clv["horizon_days"]
        scored["expected_purchases"] = scored.pop(f"expected_purchases_{h}d")
        scored["expected_spend"] = scored.pop(f"expected_spend_{h}d")
    values = [_json_values(scored[c]) if c in scored else [None] * len(ids) for c in ANSWER]
    return [dict(zip(ANSWER, row)) for row in zip(*values)]


def _json_values(column: np.ndarray) -> list[Any]:
    if column.dtype.kind == "f":
        return [None if v != v else v for v in column.tolist()]  # NaN -> null
    return column.tolist()


def model_info(model: ScoringModel) -> ModelInfo:
    spec = model.spec
    learned = spec.get("learned") or {}
    return ModelInfo(
        model_version=spec["model_version"], customersense_version=spec.get("customersense_version"),
        trained_on=spec.get("trained_on") or {}, k=learned.get("k"), features=list(learned.get("features", [])),
        required_columns=model.required_columns, clv=bool(spec.get("clv")) and spec["clv"]["scorable"],
        clv_inputs=_clv_inputs(model),
        churn_horizon_days=spec["clv"]["horizon_days"] if spec.get("clv") else None,
        segments=[_segment(p) for p in spec.get("profiles", [])],
    )


def _clv_inputs(model: ScoringModel) -> str | None:
    """What churn and CLV need, in words (None without them)."""
    clv = model.spec.get("clv")
    if not clv:
        return None
    if not clv["scorable"]:
        return clv["reason"]
    if model.supervised:
        return ("transactions only: the supervised churn model reads each customer's purchase-day window "
                "features, which feature rows do not carry; POST /v1/score/transactions scores churn and CLV, "
                "POST /v1/score leaves them null")
    return ("clv_frequency, clv_recency, clv_T and clv_monetary_value in POST /v1/score (a run's customer "
            "table carries them), or transactions in POST /v1/score/transactions")


def _segment(profile: dict[str, Any]) -> SegmentInfo:
    named = ("segmentation", "segment", "customers", "share", "revenue", "description", "strategy")
    return SegmentInfo(
        **{k: profile.get(k) for k in named},
        recommendations={k: [s for s in (profile.get(k) or "").split(" | ") if s] for k in RECOMMENDATIONS},
        profile={k: v for k, v in profile.items() if k not in named and k not in RECOMMENDATIONS},
    )
