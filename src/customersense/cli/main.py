"""``customersense`` command line. Parses flags into a Config, calls the library, prints a summary.

Exit codes: 0 ok, 1 internal error, 2 usage, 3 input cannot be read, 4 bad data or columns,
5 bad configuration, 6 outputs cannot be written, 7 out of memory. Errors are one line on
stderr; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import __version__
from ..errors import EXIT_INTERNAL, CustomerSenseError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="customersense")
def cli() -> None:
    """CustomerSense: customer segments from a raw transaction log."""


@cli.command()
@click.argument("source", required=False)
@click.option("--dataset", help="Run on an embedded dataset instead of SOURCE (see `customersense datasets`).")
@click.option("--as-of", "as_of", help="Snapshot date YYYY-MM-DD (exclusive). Default: day after the last transaction.")
@click.option("--map", "mappings", multiple=True, metavar="STD=COLUMN", help="Map a standard column to yours; repeatable.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML config file.")
@click.option("--out", "out_dir", help="Output folder (default: outputs).")
@click.option("--table", help="Table in a DuckDB database file; with --engine spark and no SOURCE, a Spark catalog table.")
@click.option("--sheet", help="Excel sheet name, or 'all'.")
@click.option("--date-format", help="strptime format of text dates, e.g. '%d/%m/%Y %H:%M'.")
@click.option("--encoding", help="CSV text encoding (sniffed when omitted).")
@click.option("--rfm-map", help="CSV mapping each of the 125 (R,F,M) cells to a segment.")
@click.option("--returns", type=click.Choice(["net", "ignore"]), help="Net returns against revenue, or drop them.")
@click.option("--threads", type=int, help="Engine threads (default: all cores).")
@click.option("--memory-limit", help="DuckDB memory cap, e.g. 2GB; beyond it the engine spills to disk (default: half the RAM).")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), help="Where transaction-level work runs (default duckdb).")
@click.option("--spark-master", help="Spark master URL (default: $SPARK_MASTER, spark-submit's, else local[*]).")
@click.option("--csv-max-rows", type=int, help="Write the CSV copies (customers, transactions) only up to this many rows; Parquet always (default 1,000,000).")
@click.option("--k", "k", type=int, help="Fix the number of learned segments (default: chosen from the data).")
@click.option("--seed", type=int, help="Random seed of the models (default 42).")
@click.option("--contamination", help="Share of customers flagged as anomalies, e.g. 0.05, or 'auto'.")
@click.option("--scaler", type=click.Choice(["standard", "robust"]), help="Feature scaling before clustering.")
@click.option("--outliers", type=click.Choice(["assign", "separate"]),
              help="Anomalies join their nearest segment (flagged), or form an 'Outliers' segment.")
@click.option("--segments/--no-segments", "learn", default=None, help="Learned segments on (default) or off.")
@click.option("--validate/--no-validate", "validate", default=None,
              help="Bootstrap stability, gap statistic and null test of the learned segments (default on).")
@click.option("--clv/--no-clv", "clv", default=None, help="Lifetime value and churn models (default on).")
@click.option("--clv-model", type=click.Choice(["pareto", "bgnbd"]), help="Transaction model (default pareto).")
@click.option("--calibration-end", help="CLV holdout evaluation after this date (default: the last third).")
@click.option("--horizon", type=int, help="CLV and expected-purchases horizon in months (default 12).")
@click.option("--discount-rate", type=float, help="Monthly discount rate for CLV (default 0.01).")
@click.option("--margin", type=float, help="Profit share of revenue for CLV (default 1.0: revenue).")
@click.option("--plots/--no-plots", default=None, help="Draw the PNG dashboards (default on).")
@click.option("--quiet", is_flag=True, help="No progress and no summary.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def run(source, dataset, as_of, mappings, config_file, out_dir, table, sheet, date_format, encoding,
        rfm_map, returns, threads, memory_limit, engine, spark_master, csv_max_rows, k, seed, contamination, scaler, outliers, learn, validate, clv, clv_model, calibration_end,
        horizon, discount_rate, margin, plots,
        quiet, debug) -> None:
    """Clean SOURCE, compute per-customer features and RFM segments, write the outputs.

    Without SOURCE it runs on the embedded Online Retail II (2009-2010) dataset.
    """
    try:
        from ..config import load_config
        from ..datasets import dataset_path
        from ..schema import parse_mapping_pairs
        from ..errors import ConfigError

        if source and dataset:
            raise ConfigError("give either SOURCE or --dataset, not both")
        if dataset:
            source = str(dataset_path(dataset))
        config = load_config(
            config_file,
            {
                "input": {"source": source, "table": table, "sheet": sheet, "date_format": date_format,
                          "encoding": encoding},
                "mapping": parse_mapping_pairs(mappings),
                "cleaning": {"as_of": as_of, "returns": returns},
                "rfm": {"segment_map": rfm_map},
                "segmentation": {"k": k, "random_state": seed, "contamination": _contamination(contamination),
                                 "scaler": scaler, "outliers": outliers, "enabled": learn},
                "validation": {"enabled": validate},
                "clv": {"enabled": clv, "model": clv_model, "calibration_end": calibration_end,
                        "horizon_months": horizon, "discount_rate": discount_rate, "margin": margin},
                "output": {"dir": out_dir, "csv_max_rows": csv_max_rows, "plots": plots},
                "engine": {"threads": threads, "memory_limit": memory_limit, "name": engine,
                           "spark_master": spark_master},
            },
        )
        _run(config, quiet)
    except CustomerSenseError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - the last line of defence for the user
        if debug:
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        click.echo(f"internal error: {type(exc).__name__}: {first} (rerun with --debug for the traceback)", err=True)
        sys.exit(EXIT_INTERNAL)


def _contamination(value: str | None):
    if value is None or value == "auto":
        return value
    try:
        return float(value)
    except ValueError:
        from ..errors import ConfigError

        raise ConfigError(f"--contamination {value!r}: use a number in [0, 0.5] or 'auto'") from None


def _run(config, quiet: bool) -> None:
    from ..pipeline import run
    from .display import RichReporter, print_summary

    reporter = None if quiet else RichReporter()
    try:
        result = run(config, reporter)
    finally:
        if reporter is not None:
            reporter.close()
    if not quiet:
        print_summary(result, Path(config.output.dir), result.outputs)


@cli.command()
def datasets() -> None:
    """List the embedded datasets."""
    from ..datasets import DATASETS, DEFAULT_DATASET, dataset_path

    for name in DATASETS:
        mark = " (default)" if name == DEFAULT_DATASET else ""
        click.echo(f"{name}{mark}: {dataset_path(name)}")


def main() -> None:
    cli(prog_name="customersense")
