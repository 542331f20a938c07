"""One small real run shared by the HTML report's test modules (computed once per process)."""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

import pyarrow.parquet as pq

from customersense.config import load_config
from customersense.datasets.synthetic import planted_transactions
from customersense.pipeline import run

N_CUSTOMERS = 400
# Few resamples: the report only draws the validation, its numbers need not be tight.
QUICK_VALIDATION = {"n_bootstrap": 5, "n_null": 9, "gap_references": 3}


@lru_cache(maxsize=None)
def planted_run(off: tuple[str, ...] = ()):
    """A real run on 400 planted customers (EUR), with quick validation; the sections named in
    ``off`` (e.g. ``("segmentation", "clv")``) disabled. Outputs in a temporary folder."""
    tmp = Path(tempfile.mkdtemp(prefix="cs-html-"))
    table, _ = planted_transactions(n_customers=N_CUSTOMERS, seed=7)
    pq.write_table(table, tmp / "tx.parquet")
    overrides = {"input": {"source": str(tmp / "tx.parquet"), "currency": "EUR"},
                 "output": {"dir": str(tmp / "out"), "dashboards": False}, "validation": QUICK_VALIDATION}
    for name in off:
        overrides[name] = {**overrides.get(name, {}), "enabled": False}
    return run(load_config(None, overrides))
