"""The API tests' trained model: one small pipeline run (session-scoped), and helpers.

The run's own outputs (customer_segments.parquet, computed by the pipeline, not by the API)
are what the API's answers are compared with.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from threadpoolctl import threadpool_limits

from customersense.api import create_app
from customersense.api.schemas import CustomerFeatures
from customersense.config import load_config
from customersense.datasets.synthetic import planted_transactions
from customersense.pipeline import run

KEY = "test-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
FEATURES = list(CustomerFeatures.model_fields)


@dataclass(frozen=True)
class Trained:
    out: Path
    model: Path
    customers: pd.DataFrame      # the run's customer_segments
    transactions: pd.DataFrame   # the run's raw input
    as_of: dt.date


def _train(root: Path, clv_model: str, **output) -> Trained:
    """A run on 400 planted customers (seed 7) with clv.model ``clv_model``."""
    table, _ = planted_transactions(n_customers=400, seed=7)
    pq.write_table(table, root / "tx.parquet")
    out = root / "out"
    config = load_config(None, {"input": {"source": str(root / "tx.parquet")},
                                "output": {"dir": str(out), "dashboards": False, **output},
                                "validation": {"enabled": False}, "clv": {"model": clv_model}})
    with threadpool_limits(1):  # OpenMP's waiting threads slow the boosting fits on 2 shared cores
        result = run(config)
    return Trained(out=out, model=out / "model", customers=pd.read_parquet(out / "customer_segments.parquet"),
                   transactions=table.to_pandas(), as_of=result.cleaning.as_of)


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> Trained:
    """The saved model scores churn and CLV with a BTYD model."""
    return _train(tmp_path_factory.mktemp("api_run"), "pareto")


@pytest.fixture(scope="session")
def trained_supervised(tmp_path_factory) -> Trained:
    """The supervised churn model asked for (saved as boosting arrays)."""
    return _train(tmp_path_factory.mktemp("api_supervised"), "supervised", plots=False)


@pytest.fixture
def model_dir(trained, tmp_path) -> Path:
    """A copy of the bundle this test may change."""
    return Path(shutil.copytree(trained.model, tmp_path / "model"))


@pytest.fixture
def client(trained):
    with TestClient(create_app(trained.model, api_key=KEY)) as c:
        yield c


def feature_rows(frame: pd.DataFrame) -> list[dict]:
    """Rows of a customer table as the /v1/score body's customers (NaN -> absent)."""
    rows = frame[[c for c in FEATURES if c in frame.columns]].astype(object).to_dict(orient="records")
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items() if not pd.isna(v)} for r in rows]


def transaction_rows(frame: pd.DataFrame) -> list[dict]:
    """Raw transactions as the /v1/score/transactions body's lines (timestamps as ISO text)."""
    out = frame.assign(timestamp=frame["timestamp"].map(lambda t: pd.Timestamp(t).isoformat()))
    rows = out.astype(object).to_dict(orient="records")
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items() if not pd.isna(v)} for r in rows]
