"""Write a run's results into the output folder, atomically (see :mod:`.writers`)."""

from __future__ import annotations

import datetime as dt
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from .. import schema as S
from ..cleaning import IS_RETURN, LINE_AMOUNT, ORDER_KEY, PURCHASE_DATE
from ..features import ENGAGEMENT_WEIGHTS, FEATURE_COLUMNS
from ..profiles.totals import customer_totals
from ..profiles.views import rfm_grid
from ..engine import Engine
from ..result import RunResult
from ..scoring import save_bundle, write_bundle
from .clv_plot import clv_figure
from .dashboards import DASHBOARD_COLUMNS, k_selection_figure, segmentation_dashboard
from .bi import write_powerbi, write_tableau
from .bi.tableau import transaction_batches
from .excel import write_workbook
from .html import write_report
from .rfm_plot import rfm_figure
from .validation_plot import validation_figure
from .plot_worker import PlotJob, Plots
from .folder import check_ownership, foreign, locked
from .writers import AtomicOutputs

TRANSACTIONS_FILE = "transactions_with_segments.parquet"
OUTPUT_FILES = (
    "customer_segments.csv",
    "customer_segments.parquet",
    "customer_sample.parquet",
    "segment_profiles.csv",
    "segment_profiles.parquet",
    "transactions_with_segments.parquet",
    "transactions_with_segments.csv",
    "cleaning_report.json",
    "model_selection.csv",
    "segment_crosstab.csv",
    "customer_segmentation_dashboard.png",
    "rfm_segments.png",
    "optimal_clusters_analysis.png",
    "validation.json",
    "validation_analysis.png",
    "clv_models.json",
    "clv_holdout.csv",
    "clv_analysis.png",
    "model",
    "customer_embeddings.parquet",
    "representations.csv",
    "report.html",
    "customersense.xlsx",
    "tableau",
    "powerbi",
    "run.json",
)
_VERSIONED = (
    "customersense", "duckdb", "ibis-framework", "sqlglot", "pyarrow", "pandas", "numpy", "scikit-learn",
    "scipy", "matplotlib",
)


def _owned(config) -> tuple[str, ...]:
    # with --save-model the bundle lives elsewhere (perhaps in out_dir/model): not this folder's to remove
    return tuple(f for f in OUTPUT_FILES if f != "model" or config.output.save_model is None)


@contextmanager
def claim_outputs(config) -> Iterator[None]:
    """Hold the output folder's lock for a whole run and refuse, before any work, a folder
    holding a file of the user's with an output's name or too many files of the user's (see
    :mod:`.folder`)."""
    with locked(config.output.dir) as out:
        check_ownership(out, _owned(config))
        foreign(out, set(_owned(config)))  # a folder crowded with the user's files: refused now, not at the end
        yield


def write_outputs(result: RunResult, out_dir: str | Path, engine: Engine) -> list[Path]:
    """Write every output of ``result`` into ``out_dir``; all or nothing. ``engine`` is the one
    that computed ``result``: it writes the tables that still live in it."""
    clock = result.clock
    owned = _owned(result.config)
    cap = result.config.output.csv_max_rows
    with AtomicOutputs(out_dir, replaces=owned, csv_bom=result.config.output.csv_bom) as out, \
            _plots(result, out) as plots:
        with clock.stage("write", "Writing outputs"):
            customers = result.customers
            if result.customer_table is None:
                # Parquet always; CSV up to output.csv_max_rows rows (raise it to ask for more).
                if len(customers) <= cap:
                    out.write_csv("customer_segments.csv", customers)
                else:
                    result.notes.append(_csv_skipped("customer_segments", len(customers), cap))
                out.write_parquet("customer_segments.parquet", customers)
            else:  # at scale on Spark: written by the executors, as a folder of parts
                engine.write_parquet(result.customer_table.order_by(S.CUSTOMER_ID), out.path("customer_segments.parquet"))
                out.write_parquet("customer_sample.parquet", customers)
            out.write_csv("segment_profiles.csv", result.profiles)
            out.write_parquet("segment_profiles.parquet", result.profiles)
            rows = result.cleaning.rows_kept
            if result.config.output.writes_transactions(rows):
                tx = _ordered_transactions(result)
                engine.write_parquet(tx, out.path(TRANSACTIONS_FILE))
                # Spark writes the Parquet as a folder of parts from the executors; a CSV would have
                # to pass through the driver, so the Spark engine writes none.
                if rows <= cap and engine.writes_single_files:
                    out.write_table_csv("transactions_with_segments.csv",
                                        _csv_source(engine, tx, out.path(TRANSACTIONS_FILE)))
                elif engine.writes_single_files:
                    result.notes.append(_csv_skipped("transactions_with_segments", rows, cap))
            else:
                result.notes.append(_transactions_skipped(result, rows))
            out.write_json("cleaning_report.json", result.cleaning.to_dict())
            if result.learned is not None:
                out.write_csv("model_selection.csv", result.learned.model.selection_)
                out.write_csv("segment_crosstab.csv", result.crosstab.reset_index())
            if result.validation is not None:
                out.write_json("validation.json", result.validation.to_dict())
            if result.clv is not None:
                out.write_json("clv_models.json", result.clv.record)
                out.write_csv("clv_holdout.csv", result.clv.holdout)
            reps = result.representations
            if reps is not None and reps.embeddings is not None:
                out.write_parquet("customer_embeddings.parquet", reps.embeddings.columns.reset_index())
            if reps is not None and reps.holdout is not None:
                out.write_csv("representations.csv", reps.holdout)
        bundle = None
        if result.model is not None:
            with clock.stage("model", "Saving the model bundle"):
                bundle = _write_model(result, out)
        dashboards = None
        if result.config.output.dashboards:
            with clock.stage("dashboards", "Writing the report, the workbook and the BI files"):
                dashboards = _write_dashboards(result, out, engine)
        figures = None
        if result.config.output.plots:
            # in a worker: what is left of its drawing once the rest is written
            with clock.stage("plots", "Drawing the PNG dashboards"):
                figures = plots.finish()
            if "worker_stopped" in figures:
                _note(result, f"the PNGs were drawn in this process: the process drawing them stopped "
                              f"({figures['worker_stopped']})")
        out.write_json("run.json", run_record(result, [*out.written, "run.json"], bundle, dashboards, figures))
    return [Path(out_dir) / name for name in out.written]


def _write_dashboards(result: RunResult, out: AtomicOutputs, engine: Engine) -> dict[str, Any]:
    """report.html, the Excel workbook, the Tableau and Power BI files; what each wrote, for run.json."""
    at_scale = result.customer_table is not None  # on Spark, beyond max_collect_customers
    if at_scale:
        # the driver holds the models' sample while the profiles cover every customer: a report or
        # an extract would put the two side by side as one population
        _note(result, f"report.html and tableau/ not written at this scale: the driver holds the models' sample of "
                      f"{len(result.customers):,} customers, not every customer; open customer_segments.parquet "
                      "and segment_profiles.parquet in your BI tool")
    if not engine.writes_single_files:
        _note(result, "powerbi/ not written: on Spark the tables are folders of Parquet parts, which the Power BI "
                      "project does not read")
    written: dict[str, Any] = {}
    if not at_scale:
        report = write_report(result, out.path("report.html"))
        written["report"] = {k: v for k, v in report.items() if k != "file"}
    book = write_workbook(result, out.path("customersense.xlsx"))
    written["workbook"] = {k: v for k, v in book.items() if k != "path"}
    if book["customers_left_out"]:  # after the workbook: its Summary says so in its own words
        _note(result, f"customersense.xlsx: the Customers sheet holds the first {book['customer_rows']:,} customers; "
                      f"{book['customers_left_out']:,} more are in customer_segments.parquet (--workbook-max-rows -1: "
                      "as many as Excel holds)")
    # the transactions join the BI files only where they were written (output.transactions_max_rows)
    tx = TRANSACTIONS_FILE if TRANSACTIONS_FILE in out.written else None
    if not at_scale:
        tableau = write_tableau(result, out.path("tableau"), out.path(tx) if tx else None)
        written["tableau"] = {"files": [f"tableau/{Path(f).name}" for f in tableau["files"]], "rows": tableau["rows"]}
    if engine.writes_single_files:
        tables = {"customers": "customer_segments.parquet", "segments": "segment_profiles.parquet",
                  **({"transactions": tx} if tx else {})}
        info = write_powerbi(result, out.path("powerbi"), tables, output_folder=out.out_dir)
        written["powerbi"] = {"project": "powerbi/" + info["project"].name, "output_folder": info["output_folder"],
                              "tables": info["tables"]}
    return written


def _note(result: RunResult, text: str) -> None:
    if text not in result.notes:
        result.notes.append(text)


def _csv_skipped(name: str, rows: int, cap: int) -> str:
    return (f"{name}.csv not written: {rows:,} rows is more than output.csv_max_rows ({cap:,}); "
            f"{name}.parquet has every row (raise --csv-max-rows to get the CSV)")


def _transactions_skipped(result: RunResult, rows: int) -> str:
    columns = ", ".join(c for c in (S.CUSTOMER_ID, "rfm_segment", "segment") if c in result.customers.columns)
    bi = "; tableau/ and powerbi/ hold customers and segments only" if result.config.output.dashboards else ""
    return (f"{TRANSACTIONS_FILE} (and its CSV) not written: {rows:,} kept rows is more than "
            f"output.transactions_max_rows ({result.config.output.transactions_max_rows:,}); each customer's "
            f"segments are in customer_segments.parquet ({columns}): join it to your transactions on customer_id, "
            f"or ask for the file with --transactions-max-rows -1{bi}")


def _write_model(result: RunResult, out: AtomicOutputs) -> dict[str, str]:
    """The model bundle: ``model/`` among the outputs, or (``--save-model``) a folder elsewhere."""
    elsewhere = result.config.output.save_model
    if elsewhere is None:
        return {"version": write_bundle(result.model, out.path("model")), "folder": "model"}
    return {"version": save_bundle(result.model, elsewhere), "folder": str(elsewhere)}


def _plots(result: RunResult, out: AtomicOutputs) -> Plots:
    """The run's figures, started in a worker process now (``output.plots_worker``) so that they
    are drawn while the tables are written; none without ``output.plots``."""
    t0 = time.perf_counter()
    jobs = plot_jobs(result) if result.config.output.plots else []
    return Plots(jobs, {job.name: out.path(job.name) for job in jobs}, result.config.output.plots_worker,
                 inputs_seconds=time.perf_counter() - t0)


def plot_jobs(result: RunResult) -> list[PlotJob]:
    """The PNG figures of ``result``, each with the inputs it draws (see :mod:`.plot_worker`)."""
    learned, caption, currency = result.learned, result.caption, result.currency
    profiles = result.profiles
    if result.customer_table is not None:  # at scale on Spark: grids, boxes and points are the sample's
        caption += f" · grid, boxes and points: the models' sample of {len(result.customers):,} customers"
    jobs = [PlotJob("rfm_segments.png", rfm_figure, (profiles[profiles["segmentation"] == "rfm"],
                                                     rfm_grid(result.customers)),
                    {"caption": caption, "currency": currency})]
    if result.clv is not None:
        clv = result.clv
        segments = clv.record.get("segments", {})
        column = "segment" if "segment" in segments else "rfm_segment"
        by_segment = pd.DataFrame(segments.get(column, []))
        if len(by_segment):
            by_segment = by_segment.rename(columns={"clv_mean": "clv"})[["segment", "customers", "churn_probability",
                                                                          "clv"]]
        jobs.append(PlotJob(
            "clv_analysis.png", clv_figure, (clv.deciles, clv.gains, clv.tracking, result.customers["clv"], by_segment),
            {"caption": caption, "currency": currency, "chosen": clv.record["selection"]["chosen"],
             "horizon_days": clv.horizon_days, "title": f"Churn and customer lifetime value: {clv.record['selection']['chosen']}",
             "missing": None if clv.tracking is not None else
             {"Tracking: cumulative repeat purchases": "no BTYD model could be fitted"}}))
    if learned is None:
        return jobs
    # the dashboard reads these columns of the customers (a narrow copy travels to the worker)
    drawn = result.customers[[c for c in DASHBOARD_COLUMNS if c in result.customers.columns]]
    jobs.append(PlotJob("customer_segmentation_dashboard.png", segmentation_dashboard,
                        (drawn, profiles[profiles["segmentation"] == "learned"], learned.order),
                        {"caption": caption, "currency": currency}))
    jobs.append(PlotJob("optimal_clusters_analysis.png", k_selection_figure,
                        (learned.model.selection_, learned.model.n_clusters_), {"caption": caption}))
    if result.validation is not None:
        jobs.append(PlotJob("validation_analysis.png", validation_figure, (result.validation,), {"caption": caption}))
    return jobs


def _csv_source(engine: Engine, tx, parquet: Path):
    """The stream the transactions' CSV is written from: the Parquet file just written, read back
    (the join and the sort do not run a second time: 1M rows, 1.9 s to 1.0 s), where it holds the
    very Arrow types the engine's stream has (so the same CSV bytes); else the engine's stream."""
    with engine.record_batches(tx.limit(0)) as empty:
        engine_schema = empty.schema
    if pq.read_schema(parquet).equals(engine_schema, check_metadata=False):
        return lambda: transaction_batches(parquet)
    return lambda: engine.record_batches(tx)


# Functions of the columns before them in the sort key: they never break a tie, so the sort
# leaves them out (same order, narrower sort keys).
_DERIVED = (IS_RETURN, LINE_AMOUNT, PURCHASE_DATE, "rfm_segment", "segment", "cluster")


def _ordered_transactions(result: RunResult):
    """Kept rows with the customer's segment, in an order that makes the files reproducible: the
    order they came in (DuckDB engine: a duplicated row where its first copy was), else (Spark)
    customer, timestamp, order, then every input column (the derived ones follow from those)."""
    t = result.transactions
    if S.ROW_ID in t.columns:
        t = t.order_by(S.ROW_ID).drop(S.ROW_ID)
    else:
        first = [S.CUSTOMER_ID, S.TIMESTAMP, ORDER_KEY]
        rest = [c for c in t.columns if c not in first and c not in _DERIVED]
        t = t.order_by([*first, *rest])
    return t.drop(ORDER_KEY).relocate(
        "rfm_segment", IS_RETURN, LINE_AMOUNT, PURCHASE_DATE, after=S.CUSTOMER_ID
    )


def run_record(result: RunResult, files: list[str], bundle: dict[str, str] | None = None,
               dashboards: dict[str, Any] | None = None, figures: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the run did: config, versions, input fingerprint, row counts, timings (``figures``:
    where the PNG figures were drawn, in how many seconds, at what peak memory of the worker)."""
    customers = result.customers
    return {
        "customersense_run": 1,
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "config": result.config.to_dict(),
        "versions": {"python": platform.python_version(), **_versions()},
        "input": result.source.to_dict(),
        "as_of": result.as_of.isoformat(),
        "rows": {
            "in": result.cleaning.rows_in,
            "kept": result.cleaning.rows_kept,
            "dropped_by_rule": result.cleaning.dropped,
        },
        **_customer_totals(result),
        "features": list(FEATURE_COLUMNS),
        "engagement_score": {
            "formula": "100 * (0.4*PR(-recency_days) + 0.3*PR(frequency) + 0.3*PR(monetary)); "
            "PR = percent rank (rank-1)/(n-1), ties share the lowest rank",
            "weights": ENGAGEMENT_WEIGHTS,
        },
        "rfm": {"segment_map": result.segment_map.path, "bins": result.rfm.to_dict()},
        "segmentation": result.learned.summary() if result.learned is not None else {"enabled": False},
        "validation": _validation_summary(result),
        "clv": _clv_summary(result),
        "model_bundle": bundle,
        "dashboards": dashboards,
        "figures": figures,
        "representations": result.representations.summary() if result.representations is not None else None,
        "notes": result.notes,
        "timings": result.clock.to_dict(),
        "outputs": files,
    }


def _customer_totals(result: RunResult) -> dict[str, Any]:
    # at scale summed by the engine over every customer; the models' sample is described too
    totals = customer_totals(result.customers, result.customer_table)
    out = {**totals, "net_revenue": round(totals["net_revenue"], 6)}
    if result.sample is not None:
        out["model_sample"] = result.sample.to_dict()
    return out


def _clv_summary(result: RunResult) -> dict[str, Any]:
    if result.clv is None:
        return {"enabled": result.config.clv.enabled, "fitted": False}
    rec = result.clv.record
    table = result.clv.holdout.astype(object).where(result.clv.holdout.notna(), None)
    return {
        "model": rec["selection"]["chosen"],
        "selection": rec["selection"]["rule"],
        "status": rec["status"]["label"],
        "holdout_days": rec["holdout"]["days"],
        "holdout": table.to_dict(orient="records"),
        "total_clv": round(float(result.customers["clv"].sum()), 2),
        "details": "clv_models.json, clv_holdout.csv",
    }


def _validation_summary(result: RunResult) -> dict[str, Any]:
    v = result.validation
    if v is None:
        return {"enabled": False}
    return {
        "verdict": v.verdict(),
        "significant": v.significant,
        "p_value": v.p_value,
        "k_gap": v.k_gap,
        "stability": {name: {"jaccard": round(j, 4), "status": st}
                      for name, j, st in zip(v.segment_names, v.jaccard, v.stability)},
        "mean_ari": round(v.mean_ari, 4),
        "customers_used": v.n_used,
        "sampled": v.sampled,
        "details": "validation.json",
    }


def _versions() -> dict[str, str]:
    out = {}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
