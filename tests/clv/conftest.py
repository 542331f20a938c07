"""CDNOW fixtures shared by the CLV tests: the embedded 1/10 sample, cleaned, and its summary in
weeks (calibration 1997-01-01 .. 1997-09-30, holdout to 1998-06-30)."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pytest

from customersense.clv import rfm_summary

CAL_END = dt.date(1997, 9, 30)
HOLD_END = dt.date(1998, 6, 30)


@pytest.fixture(scope="session")
def cdnow_table():
    from customersense.cleaning import clean
    from customersense.config import CleaningPolicy, load_config
    from customersense.datasets import dataset_path
    from customersense.engine import connect
    from customersense.io.readers import read_transactions

    cfg = load_config(None, {"input": {"source": str(dataset_path("cdnow_sample"))}})
    engine = connect()
    tx = read_transactions(engine, cfg.input, Path(tempfile.mkdtemp()))
    cleaned = clean(engine, tx.table, CleaningPolicy(drop_duplicates=False, drop_non_positive_price=False))
    return cleaned.table


@pytest.fixture(scope="session")
def summary(cdnow_table):
    return rfm_summary(cdnow_table, CAL_END, time_unit="weeks", holdout_end=HOLD_END)


