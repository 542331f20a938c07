"""Shared fixtures. Engine-level tests take the ``con`` fixture, parametrized over backends."""

from __future__ import annotations

from pathlib import Path

import ibis
import pandas as pd
import pytest

from customersense.config import EngineConfig
from customersense.engine import connect
from customersense.io.standardise import standardise

BACKENDS = ["duckdb"]  # Spark joins here once its backend exists.
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"

OR_COLUMNS = ["Invoice", "StockCode", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]


@pytest.fixture(params=BACKENDS)
def con(request):
    backend = connect(EngineConfig(name=request.param))
    yield backend
    backend.disconnect()


def std_table(rows: list[tuple], columns: list[str] = OR_COLUMNS, mapping=None) -> ibis.Table:
    """Raw rows (as in an Online Retail file, all text) -> standard-column transactions."""
    frame = pd.DataFrame(rows, columns=columns).astype("string")
    table, _, _ = standardise(ibis.memtable(frame), mapping or {}, "test", None)
    return table
