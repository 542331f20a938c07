"""Chains the stages into a result and writes it: read -> clean -> features(as_of) -> RFM ->
anomalies and learned segments -> profiles, names and recommendations -> outputs.

:func:`run` is the library's entry (the CLI and any API are thin shells over it). Each stage is
a small pure function; this module only passes results along, times each stage and keeps the
engine and the run's scratch folder alive while the stages and the writers need them.
"""

from __future__ import annotations

import dataclasses
import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import ibis
import pandas as pd

from .. import schema as S
from ..campaigns.history import measured_results
from ..cleaning import clean
from ..clv.stage import CLVResult, run_clv
from ..clv.support import segment_support
from ..config import Config
from ..engine import Engine, connect, default_memory_limit
from ..engine.base import first_line
from ..errors import ConfigError, CustomerSenseError, DataError, ResourceError
from ..evolution.stage import learn_representations
from ..features import FEATURE_COLUMNS, customer_frame
from ..features.pricing import PRICING_PIECES, overall_unit_price, segment_pricing
from ..io.readers import read_transactions
from ..models.learned import LearnedSegments, learn_segments, validate_learned
from ..profiles import segment_profiles
from ..profiles.assemble import recommended_profiles
from ..progress import Reporter, StageClock
from ..reporting import claim_outputs, write_outputs
from ..reporting.folder import scratch_folder
from ..result import RunResult
from ..rfm import load_segment_map, score_rfm
from .at_scale import analyse_at_scale
from .frozen import frozen_model

CLV_COLUMNS = ("churn_probability", "p_alive", "clv")

# Below this many customers, clusters and anomalies say nothing; the classic RFM segments remain.
MIN_CUSTOMERS_FOR_LEARNING = 10


def run(config: Config, reporter: Reporter | None = None) -> RunResult:
    """Run every stage on ``config``'s input and write every output into ``config.output.dir``
    (all or nothing). The result stays usable after the engine is closed: its ``transactions``
    (and, at scale on Spark, ``customer_table``) then read the Parquet files just written
    (``transactions`` is None where that file was not written: output.transactions_max_rows)."""
    with claim_outputs(config), session(config) as (engine, workdir):  # the output folder's lock first
        result = analyse(config, engine, workdir, reporter)
        files = write_outputs(result, config.output.dir, engine)
    return _detached(result, files)


def _detached(result: RunResult, files: list[Path]) -> RunResult:
    """``result`` with its lazy tables re-pointed from the closed engine to the written files,
    read by a fresh in-process DuckDB (Spark writes a folder of parts)."""
    reader = ibis.duckdb.connect()  # in-memory, read-only use; lives as long as the result

    def parquet(name: str) -> ibis.Table | None:
        path = Path(result.config.output.dir) / name
        if not path.exists():
            return None
        return reader.read_parquet(str(path / "*.parquet") if path.is_dir() else str(path))

    return dataclasses.replace(
        result,
        transactions=parquet("transactions_with_segments.parquet"),
        customer_table=parquet("customer_segments.parquet") if result.customer_table is not None else None,
        outputs=files,
    )


@contextmanager
def session(config: Config) -> Iterator[tuple[Engine, Path]]:
    """An engine and a scratch folder that live for one run (the engine spills into it)."""
    engine = connect(config.engine)
    with scratch_folder() as workdir:  # named with the pid: a killed run's is removed by the next
        try:
            engine.spill_to(workdir / "spill")
            yield engine, workdir
        except Exception as exc:
            if engine.is_out_of_memory(exc):
                raise _out_of_memory(config, exc) from exc
            if _disk_full(exc):
                raise ResourceError(
                    f"the disk is full (the engine's scratch folder {workdir} or the input's staging copy): free "
                    f"space there, or point TMPDIR at a larger disk ({first_line(exc)})"
                ) from exc
            raise
        finally:
            engine.close()


def _disk_full(exc: BaseException) -> bool:
    """ENOSPC from Python, or DuckDB's own report of it (not an error already told: the outputs')."""
    if isinstance(exc, CustomerSenseError):
        return False
    return (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "No space left on device" in str(exc)


def _out_of_memory(config: Config, exc: Exception) -> ResourceError:
    limit = config.engine.memory_limit
    where = f"--memory-limit {limit}" if limit else f"its default limit, a quarter of the RAM at most 4 GiB ({default_memory_limit()})"
    detail = first_line(exc)
    return ResourceError(
        f"the engine ran out of memory within {where}; raise --memory-limit (DuckDB spills to disk "
        f"beyond it, but some steps need room of their own), or run on a larger machine ({detail})"
    )


def analyse(config: Config, engine: Engine, workdir: Path, reporter: Reporter | None = None) -> RunResult:
    """Run every stage on ``engine``; the result's lazy tables need the engine open to be
    written (:func:`run` writes them, then closes it)."""
    clock = StageClock(reporter, watch=engine.watch)
    segment_map = load_segment_map(config.rfm.segment_map)
    with clock.stage("read", "Reading transactions"):
        tx = read_transactions(engine, config.input, workdir)
    with clock.stage("clean", "Cleaning"):
        cleaned = clean(engine, tx.table, config.cleaning, source=tx.info.path)
    notes: list[str] = []
    renamed = tx.info.details.get("parsing", {}).get("renamed_columns")
    if renamed:  # the engine's names are kept; the user's columns are renamed, never dropped
        notes.append("columns of yours renamed in the outputs, as their names are the engine's (case ignored): "
                     + ", ".join(f"{a} -> {b}" for a, b in renamed.items()))
    if not engine.writes_single_files and config.output.writes_transactions(cleaned.report.rows_kept):
        notes.append("Spark engine: transactions_with_segments.parquet is a folder of Parquet parts "
                     "written by the executors; no transactions CSV is written")
    limit = engine.max_collect_customers
    if limit is not None and cleaned.report.customers > limit:
        rep = config.representations
        if rep.trajectories or rep.embeddings or rep.holdout:
            notes.append("[representations] skipped: at scale on Spark trajectories, basket embeddings and "
                         "their holdout are not computed; raise engine.max_collect_customers to compute them")
        return analyse_at_scale(config, engine, tx, cleaned, clock, segment_map, notes)
    with clock.stage("features", "Customer features"):
        customers = customer_frame(cleaned.purchases_and_returns, cleaned.report.as_of, pricing=True, engine=engine)
        if len(customers) < 2:
            raise DataError(
                f"{tx.info.path}: only {len(customers)} customer left after cleaning; "
                "segments need at least 2 customers"
            )
        customers = customers.astype({S.CUSTOMER_ID: "string"})
        # The pricing signals' per-customer pieces, by customer id (absent without quantities).
        pieces = customers.columns.intersection(PRICING_PIECES)
        pricing = customers[pieces].set_axis(customers[S.CUSTOMER_ID]) if len(pieces) else None
        customers = customers.drop(columns=pieces)
    # The transaction-level queries are done for now: the engine's tables leave this process's
    # memory (read back from the scratch folder when next needed) for the customer-level stages.
    engine.release_memory()
    clv = None
    if config.clv.enabled:
        with clock.stage("clv", "Churn and lifetime value (candidates ranked on a holdout)") as progress:
            clv = _clv(cleaned, config, notes, engine, progress)
        engine.release_memory()
        if clv is not None:
            customers = customers.join(clv.columns, on=S.CUSTOMER_ID)
    with clock.stage("rfm", "RFM scores and segments"):
        rfm = score_rfm(customers)
        customers = pd.concat([customers, rfm.scores], axis=1)
        customers["rfm_segment"] = segment_map.assign(rfm.scores)
    learned = crosstab = validation = None
    if config.segmentation.enabled and len(customers) < MIN_CUSTOMERS_FOR_LEARNING:
        notes.append(
            f"learned segments skipped: {len(customers)} customers, fewer than {MIN_CUSTOMERS_FOR_LEARNING}"
        )
    elif config.segmentation.enabled:
        with clock.stage("segments", "Anomalies and learned segments") as progress:
            learned = learn_segments(customers, config.segmentation, progress)
            customers = pd.concat([customers, learned.columns], axis=1)
            crosstab = pd.crosstab(customers["segment"], customers["rfm_segment"])
        if config.validation.enabled:
            with clock.stage("validate", "Validating segments (bootstrap, gap, null test)") as progress:
                validation = validate_learned(customers, learned, config.validation, progress)
    representations = None
    rep = config.representations
    if rep.trajectories or rep.embeddings or rep.holdout:
        with clock.stage("representations", "Trajectories, basket embeddings, holdout"):
            representations = learn_representations(cleaned.purchases_and_returns, cleaned.report.as_of, rep, engine,
                                                    config.segmentation.random_state)
            notes.extend(representations.notes)
            extra = representations.columns()
            if extra is not None:
                customers = customers.join(extra, on=S.CUSTOMER_ID)
    segment_cols = ["rfm_segment", *(["segment"] if learned else [])]
    segments = ibis.memtable(customers[[S.CUSTOMER_ID, *segment_cols]].astype({c: "string" for c in segment_cols}))
    # The kept rows are the purchases and returns of the customers (orphan returns have none);
    # joining those skips the engine's anti-join for orphan returns, with the same rows.
    transactions = cleaned.purchases_and_returns.inner_join(segments, S.CUSTOMER_ID)
    with clock.stage("profiles", "Segment profiles and recommendations"):
        measured = measured_results(config.input.campaign_history, notes)
        profiles = _profiles(customers, pricing, learned, measured)
        if clv is not None:
            clv.record["segments"] = segment_support(customers, segment_cols, clv.horizon_days, config.clv)
            notes.extend(row["note"] for rows in clv.record["segments"].values() for row in rows if row["material"])
    return RunResult(
        config=config,
        source=tx.info,
        cleaning=cleaned.report,
        customers=customers,
        profiles=profiles,
        rfm=rfm,
        segment_map=segment_map,
        learned=learned,
        crosstab=crosstab,
        validation=validation,
        clv=clv,
        transactions=transactions,
        clock=clock,
        notes=notes,
        representations=representations,
        campaigns=measured,
        model=frozen_model(config, tx.info, cleaned.report, customers, rfm, segment_map, learned, clv, profiles),
    )


def _clv(cleaned, config: Config, notes: list[str], engine: Engine, progress=None) -> CLVResult | None:
    """Fit the CLV models; a fit that cannot converge (or too little data) becomes a note."""
    try:
        clv = run_clv(cleaned.purchases_and_returns, cleaned.report.as_of, config.clv, engine, progress,
                      random_state=config.segmentation.random_state)
    except ConfigError:
        raise
    except DataError as exc:
        notes.append(f"CLV skipped: {exc}")
        return None
    for name, error in clv.record["failed"].items():
        notes.append(f"churn/CLV candidate {name} not fitted: {error}")
    if clv.record["status"]["label"] != "supported":
        notes.append(clv.record["status"]["message"])
    fit = clv.record["prediction_model"].get("transactions")
    sample = clv.record.get("fit_sample", {})
    if sample.get("sampled"):
        notes.append(_sample_note(sample, fit))
    weak = [n for n, v in (fit or {}).get("identifiability", {}).items() if v != "identified"]
    if weak:
        where = "on the sample" if sample.get("sampled") else "on all data"
        notes.append(f"{fit['model']} fitted {where}: parameter(s) {', '.join(weak)} not well identified "
                     "(relative standard error 0.5 or more; clv_models.json); its predictions were checked on the "
                     "holdout, its parameters should not be read on their own")
    return clv


def _sample_note(sample: dict, fit: dict | None) -> str:
    """The run's note on a churn/CLV fit made on a sample of customers (clv.fit_sample)."""
    text = (f"churn/CLV models fitted, scored on the holdout and chosen on a seeded uniform sample of "
            f"{sample['customers_fitted']:,} of the {sample['customers']:,} customers (clv.fit_sample "
            f"{sample['limit']:,}; 0 fits on all); every customer is predicted by the sample's model")
    if fit is None:
        return text + " (the supervised model, trained on the sample)"
    rel = {k: fit["sampling_errors"][k] / v for k, v in fit["params"].items() if v}
    rel = {k: r for k, r in rel.items() if r == r}  # NaN: a parameter without a standard error
    worst = max(rel, key=lambda k: rel[k]) if rel else None
    return text + (f"; {fit['model']}'s parameters carry a sampling error (their expected difference from a fit on "
                   f"every customer) of at most {100 * rel[worst]:.1f}% of their value ({worst}; each in "
                   "clv_models.json, sampling_errors)"
                   if worst is not None else "")


def _profiles(customers: pd.DataFrame, pricing: pd.DataFrame | None, learned: LearnedSegments | None,
              measured: pd.DataFrame | None) -> pd.DataFrame:
    """Profiles of each segmentation; ``pricing``: per-customer pricing pieces by customer id."""
    features = [*FEATURE_COLUMNS, *(c for c in CLV_COLUMNS if c in customers.columns)]
    by_id = customers.set_index(S.CUSTOMER_ID)
    overall = overall_unit_price(pricing)

    def part(column: str, segmentation: str, order=None, basis=None) -> pd.DataFrame:
        signals = segment_pricing(pricing, by_id[column].reindex(pricing.index) if pricing is not None else None)
        return recommended_profiles(segment_profiles(customers, column, features, segmentation, order=order),
                                    customers, column, signals, overall, measured, basis)

    parts = [part("rfm_segment", "rfm")]
    if learned is not None:
        basis = {learned.names[c]: text for c, text in learned.evidence.items()}
        parts.append(part("segment", "learned", learned.order, basis))
    return pd.concat(parts, ignore_index=True)
