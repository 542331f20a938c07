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
from .profiles.totals import customer_totals
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
    # the written transactions_with_segments.parquet (None where the driver cannot see it, or where it
    # was not written: more kept rows than output.transactions_max_rows).
    transactions: ibis.Table | None
    clock: StageClock
    notes: list[str]              # things the user should know (skipped stages, ...)
    # At scale on Spark (see customersense.pipeline.at_scale): every customer, scored in the engine; then
    # ``customers`` holds the sample the models were fitted on, described by ``sample``.
    customer_table: ibis.Table | None = None
    sample: Any = None
    model: ScoringModel | None = None  # the fitted rules, frozen for scoring (written as model/)
    representations: Representations | None = None  # trajectories, basket embeddings, their holdout
    campaigns: pd.DataFrame | None = None  # the latest measured campaign result per segment (campaign history)
    outputs: list[Path] = field(default_factory=list)  # the files written (set by pipeline.run)
    # The report's interactive figures by panel id (set by pipeline.run when dashboards are written);
    # in a notebook each one shows inline.
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def as_of(self):
        return self.cleaning.as_of

    def __repr__(self) -> str:
        k = f", k={self.learned.model.n_clusters_}" if self.learned is not None else ""
        return (f"<RunResult {self.caption}: {len(self.customers):,} customers, "
                f"{self.cleaning.rows_kept:,} rows kept{k}; outputs in {self.config.output.dir}>")

    def _repr_html_(self) -> str:
        """The notebook display: what the run did, and each segmentation's table."""
        from html import escape

        totals = customer_totals(self.customers, self.customer_table)
        money = self.currency or ""
        facts = [("input", self.dataset), ("as of", self.as_of.isoformat()),
                 ("currency", self.currency or "not set (input.currency)"),
                 ("rows", f"{self.cleaning.rows_in:,} in, {self.cleaning.rows_kept:,} kept"),
                 ("customers", f"{totals['customers']:,}"),
                 ("net revenue", f"{totals['net_revenue']:,.2f} {money}".rstrip())]
        if self.customer_table is not None:
            facts.append(("models' sample", f"{len(self.customers):,} customers"))
        if self.learned is not None:
            facts.append(("learned segments", f"k = {self.learned.model.n_clusters_}: {self.learned.model.k_reason_}"))
        if self.validation is not None:
            facts.append(("validation", self.validation.verdict()))
        if self.clv is not None:
            facts.append(("CLV total", f"{self.profiles.loc[self.profiles['segmentation'] == 'rfm', 'clv_total'].sum():,.0f} "
                                       f"{money}".rstrip()))
        facts += [("note", n) for n in self.notes]
        facts.append(("outputs", str(self.config.output.dir)))
        rows = "".join(f"<tr><th style='text-align:left'>{escape(a)}</th><td style='text-align:left'>{escape(b)}</td></tr>"
                       for a, b in facts)
        parts = [f"<div class='customersense-result'><h3>{escape(self.caption)}</h3><table>{rows}</table>"]
        columns = ["segment", "customers", "share", "revenue", "revenue_share", "anomalies"]
        for name, title in (("rfm", "Classic RFM segments"), ("learned", "Learned segments")):
            table = self.profiles.loc[self.profiles["segmentation"] == name,
                                      [c for c in columns if c in self.profiles.columns]]
            if len(table):
                shown = table.assign(**{c: table[c].map(lambda v: "" if pd.isna(v) else f"{v:.1%}")
                                        for c in ("share", "revenue_share")},
                                     revenue=table["revenue"].map("{:,.2f}".format))
                parts.append(f"<h4>{title}</h4>" + shown.to_html(index=False, escape=True, border=0))
        if self.figures:
            parts.append("<p>Figures: " + ", ".join(f'<code>result.figures["{escape(k)}"]</code>'
                                                     for k in self.figures) + "</p>")
        return "".join(parts) + "</div>"

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
