"""What a saved model scores: customer tables, built from new transactions or read as they are.

From transactions, the run's own stages compute the customer table, with the model's frozen
cleaning settings and column mapping: read (or take in-memory rows), clean, features as of the
given date (else the day after the last transaction, the run's rule), and the CLV models'
inputs; for a saved supervised churn model also its window features as of the day before
as_of (:func:`customersense.clv.windows.window_features`, in the engine as the run computes
them), kept beside the customer table (``ScoringInput.windows``), not as columns of it.

A customer table (for example a run's ``customer_segments.parquet``) is read as it is; its
customer ids are read as text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from .. import schema as S
from ..cleaning import CleaningReport, clean
from ..clv.stage import SUMMARY_COLUMNS, known_spend
from ..clv.summary import customer_periods, purchase_days, summary_frame
from ..clv.windows import window_features
from ..config import CleaningPolicy, InputConfig
from ..engine import Engine
from ..errors import DataError, InputError
from ..features import customer_frame
from ..io.readers import SourceInfo, read_frame, read_transactions
from .model import RFM_INPUTS, ScoringModel

KINDS = ("auto", "transactions", "customers")


@dataclass(frozen=True)
class ScoringInput:
    customers: pd.DataFrame
    kind: str                       # "transactions" or "customers"
    as_of: dt.date | None
    source: dict[str, Any]
    cleaning: CleaningReport | None = None
    windows: pd.DataFrame | None = None  # the supervised model's features, one row per customer row


def input_kind(path: str) -> str:
    """"customers" for a table with customer_id and the RFM feature columns (a run's
    customer_segments), else "transactions"."""
    columns = _columns(path)
    return "customers" if columns is not None and {S.CUSTOMER_ID, *RFM_INPUTS} <= set(columns) else "transactions"


def _columns(path: str) -> list[str] | None:
    p = Path(path)
    try:
        if p.suffix.lower() == ".parquet" or p.is_dir():
            return pq.read_schema(str(next(p.glob("*.parquet"))) if p.is_dir() else str(p)).names
        if p.suffix.lower() in (".csv", ".txt"):
            with p.open(encoding="utf-8-sig", errors="replace") as fh:
                return [c.strip().strip('"') for c in fh.readline().rstrip("\r\n").split(",")]
    except (OSError, StopIteration, ValueError):
        return None
    return None


def read_customers(path: str) -> ScoringInput:
    """A customer table from Parquet or CSV, customer ids as text."""
    p = Path(path)
    try:
        if p.suffix.lower() == ".parquet" or p.is_dir():
            frame = pd.read_parquet(p)
        else:
            frame = pd.read_csv(p, dtype={S.CUSTOMER_ID: "string"}, encoding="utf-8-sig")
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the customer table ({str(exc).splitlines()[0]})") from None
    if S.CUSTOMER_ID not in frame.columns:
        raise DataError(f"{path}: no customer_id column; a customer table names each row's customer "
                        "(or pass --kind transactions for transaction lines)")
    if frame[S.CUSTOMER_ID].isna().any():
        raise DataError(f"{path}: column customer_id has empty values; every row must name its customer")
    if frame[S.CUSTOMER_ID].duplicated().any():
        first = frame.loc[frame[S.CUSTOMER_ID].duplicated(), S.CUSTOMER_ID].iloc[0]
        raise DataError(f"{path}: customer {first} appears more than once; give one row per customer")
    return ScoringInput(customers=frame.astype({S.CUSTOMER_ID: "string"}), kind="customers", as_of=None,
                        source={"path": str(path), "format": "customer table", "rows": len(frame)})


def customers_from_transactions(engine: Engine, model: ScoringModel, cfg: InputConfig, as_of: dt.date | None,
                                workdir: Path) -> ScoringInput:
    """Read the transactions of ``cfg`` and build their customer table (see the module doc)."""
    return _from(engine, model, read_transactions(engine, with_model_reading(model, cfg), workdir), as_of)


def customers_from_records(engine: Engine, model: ScoringModel, rows: pd.DataFrame, as_of: dt.date | None,
                           source: str = "request") -> ScoringInput:
    """The same from in-memory rows with standard column names (an API request)."""
    return _from(engine, model, read_frame(engine, rows, InputConfig(), source), as_of)


def with_model_reading(model: ScoringModel, cfg: InputConfig) -> InputConfig:
    """The user's reading settings, the training run's explicit column mapping beneath them."""
    trained = model.spec["input"]
    mapping = {**trained.get("mapping", {}), **dict(cfg.mapping)}
    return cfg.model_copy(update={"mapping": mapping,
                                  "date_format": cfg.date_format or trained.get("date_format")})


def _from(engine: Engine, model: ScoringModel, tx, as_of: dt.date | None) -> ScoringInput:
    policy = CleaningPolicy(**{**model.spec["cleaning"], "as_of": as_of})
    cleaned = clean(engine, tx.table, policy, source=tx.info.path)
    if cleaned.report.customers == 0:
        raise DataError(f"{tx.info.path}: no customer has a purchase before {cleaned.report.as_of} after cleaning")
    kept = cleaned.purchases_and_returns
    customers = customer_frame(kept, cleaned.report.as_of, engine=engine)
    customers = customers.astype({S.CUSTOMER_ID: "string"})
    windows = None
    if model.spec["clv"]:
        last_day = cleaned.report.as_of - dt.timedelta(days=1)
        days = purchase_days(kept)
        if model.supervised:
            windows = _windows(days, last_day, customers[S.CUSTOMER_ID], model.supervised["features"], engine)
        h = model.spec["clv"]["horizon_days"]
        periods = customer_periods(days, [last_day], engine=engine,
                                   windows=[(last_day - dt.timedelta(days=h), last_day)])
        summary = summary_frame(periods, 0, last_day, time_unit=model.spec["clv"]["settings"]["time_unit"])
        inputs = summary.set_index(summary["customer_id"].astype("string"))[list(SUMMARY_COLUMNS)]
        inputs[f"spend_last_{h}d"] = known_spend(periods, inputs.index)
        customers = customers.join(inputs.rename(columns=SUMMARY_COLUMNS), on=S.CUSTOMER_ID)
    return ScoringInput(customers=customers, kind="transactions", as_of=cleaned.report.as_of,
                        source=_source(tx.info), cleaning=cleaned.report, windows=windows)


def _windows(days, last_day: dt.date, customer_ids: pd.Series, features: list[str], engine: Engine) -> pd.DataFrame:
    """The window features as of ``last_day`` of ``customer_ids``, in their order (NaN for a
    customer without a purchase day by then)."""
    feats = window_features(days, last_day, engine=engine)
    feats = feats.set_index(feats[S.CUSTOMER_ID].astype("string"))
    return feats.reindex(pd.Index(customer_ids.astype("string")))[list(features)].reset_index(drop=True)


def _source(info: SourceInfo) -> dict[str, Any]:
    return info.to_dict()
