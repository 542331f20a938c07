"""Shared fixtures. Engine-level tests take the ``engine`` fixture, parametrized over backends."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import ibis
import pandas as pd
import pytest

from customersense.config import EngineConfig
from customersense.engine import connect
from customersense.io.standardise import standardise

def _spark_available() -> str | None:
    """Why the Spark backend cannot run here, or None when it can."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install 'customersense[spark]')"
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        return "Java is not installed"
    return None


SPARK_MISSING = _spark_available()
# Every engine-level test runs on each backend. Spark tests carry the ``spark`` marker:
# ``pytest -m "not spark"`` skips them; without pyspark or Java they are skipped with the reason.
BACKENDS = ["duckdb", pytest.param("spark", marks=[
    pytest.mark.spark, pytest.mark.skipif(SPARK_MISSING is not None, reason=str(SPARK_MISSING)),
])]
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"

OR_COLUMNS = ["Invoice", "StockCode", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]


@pytest.fixture(scope="session")
def spark_session():
    """One local Spark session for the whole test run (starting one takes seconds)."""
    owner = connect(EngineConfig(name="spark"))  # starts local[*] with the package's defaults
    yield owner
    owner.close()  # stops the session: this engine started it


@pytest.fixture(params=BACKENDS)
def engine(request):
    if request.param == "spark":
        request.getfixturevalue("spark_session")  # connect() then reuses the running session
    engine = connect(EngineConfig(name=request.param))
    yield engine
    engine.close()


def std_table(rows: list[tuple], columns: list[str] = OR_COLUMNS, mapping=None, engine=None) -> ibis.Table:
    """Raw rows (as in an Online Retail file, all text) -> standard-column transactions."""
    frame = pd.DataFrame(rows, columns=columns).astype("string")
    raw = ibis.memtable(frame)
    if engine is not None:  # bind the rows to the backend under test
        raw = engine.materialize(raw, "test_rows")
    table, _, _ = standardise(raw, mapping or {}, "test", None, engine)
    return table
