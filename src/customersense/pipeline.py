"""Chains the stages into a result: read -> clean -> features(as_of) -> RFM -> profiles.

Each stage is a small pure function; this module only passes results along, times each stage
and keeps the engine connection and the run's scratch folder alive while the result is used.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import pandas as pd

from . import schema as S
from .cleaning import CleaningReport, clean
from .config import Config
from .engine import connect
from .errors import DataError
from .features import FEATURE_COLUMNS, customer_features
from .io.readers import SourceInfo, read_transactions
from .profiles import segment_profiles
from .progress import Reporter, StageClock
from .rfm import RFMScores, SegmentMap, load_segment_map, score_rfm


@dataclass
class RunResult:
    """Everything a run produced; writers, plots and the CLI only read it."""

    config: Config
    source: SourceInfo
    cleaning: CleaningReport
    customers: pd.DataFrame
    profiles: pd.DataFrame
    rfm: RFMScores
    segment_map: SegmentMap
    transactions: ibis.Table  # cleaned transactions with the customer's rfm_segment (lazy)
    clock: StageClock

    @property
    def as_of(self):
        return self.cleaning.as_of


@contextmanager
def session(config: Config) -> Iterator[tuple[Any, Path]]:
    """An engine connection and a scratch folder that live for one run."""
    con = connect(config.engine)
    with tempfile.TemporaryDirectory(prefix="customersense-") as workdir:
        try:
            yield con, Path(workdir)
        finally:
            con.disconnect()


def analyse(config: Config, con: Any, workdir: Path, reporter: Reporter | None = None) -> RunResult:
    """Run every stage on ``con``; the result's lazy tables need ``con`` open to be written."""
    clock = StageClock(reporter)
    segment_map = load_segment_map(config.rfm.segment_map)
    with clock.stage("read", "Reading transactions"):
        tx = read_transactions(con, config.input, workdir)
    with clock.stage("clean", "Cleaning"):
        cleaned = clean(con, tx.table, config.cleaning, source=tx.info.path)
    with clock.stage("features", "Customer features"):
        customers = customer_features(cleaned.table, cleaned.report.as_of).to_pandas()
        if len(customers) < 2:
            raise DataError(
                f"{tx.info.path}: only {len(customers)} customer left after cleaning; "
                "segments need at least 2 customers"
            )
        customers = customers.astype({S.CUSTOMER_ID: "string"})
    with clock.stage("rfm", "RFM scores and segments"):
        rfm = score_rfm(customers)
        customers = pd.concat([customers, rfm.scores], axis=1)
        customers["rfm_segment"] = segment_map.assign(rfm.scores)
    with clock.stage("profiles", "Segment profiles"):
        profiles = segment_profiles(customers, "rfm_segment", FEATURE_COLUMNS, "rfm")
    segments = ibis.memtable(customers[[S.CUSTOMER_ID, "rfm_segment"]].astype({"rfm_segment": "string"}))
    transactions = cleaned.table.inner_join(segments, S.CUSTOMER_ID)
    return RunResult(
        config=config,
        source=tx.info,
        cleaning=cleaned.report,
        customers=customers,
        profiles=profiles,
        rfm=rfm,
        segment_map=segment_map,
        transactions=transactions,
        clock=clock,
    )
