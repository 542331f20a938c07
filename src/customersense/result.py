"""What a run produced: the result object that reporting, the CLI and the API read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import pandas as pd

from .cleaning import CleaningReport
from .clv.stage import CLVResult
from .config import Config
from .datasets import dataset_currency, dataset_title
from .evaluation.validation import ValidationReport
from .evolution.migration import Migration
from .evolution.stage import Representations
from .io.readers import SourceInfo
from .progress import StageClock
from .rfm import RFMScores, SegmentMap
from .models.learned import LearnedSegments
from .scoring import ScoringModel
from .scoring.inputs import ScoringInput


@dataclass
class RunResult:
    """Everything a run produced; writers, plots and the CLI only read it."""

    config: Config
    source: SourceInfo
    cleaning: CleaningReport
    customers: pd.DataFrame
    profiles: pd.DataFrame        # classic RFM rows, then learned rows (column "segmentation")
    rfm: RFMScores
    segment_map: SegmentMap
    learned: LearnedSegments | None
    crosstab: pd.DataFrame | None  # learned segment x classic RFM segment, customer counts
    validation: ValidationReport | None
    clv: CLVResult | None
    # Cleaned transactions with the customer's segments (lazy, in the engine); after pipeline.run,
    # the written transactions_with_segments.parquet (None where the driver cannot see it).
    transactions: ibis.Table | None
    clock: StageClock
    notes: list[str]              # things the user should know (skipped stages, ...)
    # At scale on Spark (see customersense.pipeline.at_scale): every customer, scored in the engine; then
    # ``customers`` holds the sample the models were fitted on, described by ``sample``.
    customer_table: ibis.Table | None = None
    sample: Any = None
    model: ScoringModel | None = None  # the fitted rules, frozen for scoring (written as model/)
    representations: Representations | None = None  # trajectories, basket embeddings, their holdout
    outputs: list[Path] = field(default_factory=list)  # the files written (set by pipeline.run)

    @property
    def as_of(self):
        return self.cleaning.as_of

    @property
    def dataset(self) -> str:
        """The input as titles name it: an embedded dataset's title, else the source's file name."""
        return dataset_title(self.source.path)

    @property
    def currency(self) -> str | None:
        """The amounts' currency: ``input.currency``, else the embedded dataset's, else None."""
        return self.config.input.currency or dataset_currency(self.source.path)

    @property
    def caption(self) -> str:
        """What every title carries: dataset, as-of date and currency."""
        money = self.currency or "currency not set (input.currency)"
        return f"{self.dataset} · as of {self.as_of.isoformat()} · {money}"


@dataclass
class ScoreResult:
    """What ``customersense score`` produced: the model, its input and the scored customers."""

    model: ScoringModel
    input: ScoringInput
    customers: pd.DataFrame
    clock: StageClock
    config: Config
    outputs: list[Path] = field(default_factory=list)


@dataclass
class EvolveResult:
    """What ``customersense evolve`` produced: snapshots scored by one frozen model, and their migration."""

    model: ScoringModel
    model_fitted: bool            # True: fitted by this command as of the last snapshot (written to model/)
    source: SourceInfo
    cleaning: CleaningReport
    every: str
    migration: Migration
    model_version: str            # the bundle's version (of model/ when fitted here)
    clock: StageClock
    config: Config
    outputs: list[Path] = field(default_factory=list)
