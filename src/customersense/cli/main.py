"""``customersense`` command line. Parses flags into a Config, calls the library, prints a summary.

The ``run`` flags are generated from the settings definition (customersense.config, see cli/options.py).

Exit codes: 0 ok, 1 internal error, 2 usage, 3 input cannot be read, 4 bad data or columns,
5 bad configuration, 6 outputs cannot be written, 7 out of memory, 8 model bundle cannot be used. Errors are one line on
stderr; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import cloup

from .. import __version__
from ..config import keys
from ..errors import (EXIT_CONFIG, EXIT_DATA, EXIT_INPUT, EXIT_INTERNAL, EXIT_OK, EXIT_OUTPUT, EXIT_MODEL,
                      EXIT_RESOURCE, EXIT_USAGE, CustomerSenseError)
from .options import named_for_their_section, overrides, score_options, setting_groups


EXIT_CODES = {
    EXIT_OK: "ok", EXIT_INTERNAL: "internal error", EXIT_USAGE: "usage", EXIT_INPUT: "input cannot be read",
    EXIT_DATA: "bad data or columns", EXIT_CONFIG: "bad configuration", EXIT_OUTPUT: "outputs cannot be written",
    EXIT_RESOURCE: "out of memory", EXIT_MODEL: "model bundle cannot be used",
}

EPILOG = """\b
Examples:
  customersense run transactions.csv
  customersense run sales.xlsx --sheet all --out results
  customersense run export.csv --map customer_id="Client No" --map amount=Total
  customersense run shop.duckdb --table orders --as-of 2024-01-01
  customersense run --config customersense.toml --k 5 --no-validate
  customersense run --dataset cdnow_master --clv-model bgnbd

Every flag is a key of the TOML config file with dashes (--horizon-months is [clv] horizon_months;
""" + ", ".join(named_for_their_section()) + """ are named for their section).
Flags win over the file; paths in the file are relative to the file.

\b
Exit codes:
""" + "\n".join(f"  {code}  {text}" for code, text in EXIT_CODES.items())

_SOURCE = next(k for k in keys() if k.dotted == "input.source")


class _OneLineErrors(cloup.Group):
    """Usage errors (a bad flag or flag value) as one line, like every other error, exit code 2."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):  # type: ignore[override]
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(f"error: {exc.format_message().rstrip('.')}{where}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(EXIT_INTERNAL)
        sys.exit(code if isinstance(code, int) else EXIT_OK)


@cloup.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="customersense")
def cli() -> None:
    """CustomerSense: customer segments from a raw transaction log."""


@cli.command(epilog=EPILOG, align_option_groups=False, show_constraints=False)
@cloup.argument("input__source", metavar="[SOURCE]", required=False, help=_SOURCE.info.description)
@setting_groups(
    [
        cloup.option("--config", "config_file", type=click.Path(dir_okay=False),
                     help="TOML config file; its layout: customersense/config/__init__.py."),
        cloup.option("--quiet", is_flag=True, help="No progress and no summary."),
        cloup.option("--debug", is_flag=True, help="Show tracebacks."),
    ],
)
def run(config_file, quiet, debug, **settings) -> None:
    """Clean SOURCE, compute per-customer features and RFM segments, write the outputs.

    Without SOURCE it runs on the embedded Online Retail II (2009-2010) dataset.
    """
    def work() -> None:
        from ..config import load_config

        _run(load_config(config_file, overrides(settings)), quiet)

    _guarded(work, debug)


def _run(config, quiet: bool) -> None:
    from ..pipeline import run
    from .display import print_summary

    _reported(quiet, lambda reporter: run(config, reporter),
              lambda result: print_summary(result, Path(config.output.dir), result.outputs))


def _reported(quiet: bool, call, show) -> None:
    """``call(reporter)`` with live progress (none when quiet), then ``show(result)``."""
    from .display import RichReporter

    reporter = None if quiet else RichReporter()
    try:
        result = call(reporter)
    finally:
        if reporter is not None:
            reporter.close()
    if not quiet:
        show(result)


SCORE_EPILOG = """\b
Examples:
  customersense score --model outputs/model new_transactions.csv --out scores
  customersense score --model outputs/model outputs/customer_segments.parquet --out rescored
  customersense score --model outputs/model export.xlsx --as-of 2011-06-01 --out june
"""


@cli.command(epilog=SCORE_EPILOG)
@cloup.argument("source", metavar="INPUT", help="New transactions (any format `run` reads) or a customer table.")
@cloup.option("--model", "model_dir", required=True, type=click.Path(file_okay=False),
              help="The model bundle: a run's model/ folder, or its --save-model folder.")
@cloup.option("--kind", type=click.Choice(["auto", "transactions", "customers"]), default="auto",
              show_default=True, help="What INPUT holds; auto: a customer table when it has customer_id, "
              "recency_days, frequency and monetary.")
@score_options()
@cloup.option("--quiet", is_flag=True, help="No progress and no summary.")
@cloup.option("--debug", is_flag=True, help="Show tracebacks.")
def score(source, model_dir, kind, quiet, debug, **settings) -> None:
    """Score INPUT with a saved model: the run's frozen RFM edges, segments, anomaly detector and
    CLV model, so that the scores are comparable with the training run's."""

    def work() -> None:
        from ..config import load_config
        from ..pipeline import score as score_input
        from .display import print_scores

        config = load_config(None, {**overrides(settings), "input": {**overrides(settings).get("input", {}),
                                                                     "source": source}})
        _reported(quiet, lambda reporter: score_input(config, model_dir, kind, reporter), print_scores)

    _guarded(work, debug)


EVOLVE_EPILOG = """\b
Examples:
  customersense evolve transactions.csv --every month --out migration
  customersense evolve --every quarter --from 2010-01-01 --to 2010-12-01 --out migration
  customersense evolve new.csv --model outputs/model --every month --out migration
"""


@cli.command(epilog=EVOLVE_EPILOG)
@cloup.argument("source", metavar="[SOURCE]", required=False, help=_SOURCE.info.description)
@cloup.option("--every", type=click.Choice(["month", "quarter"]), default="month", show_default=True,
              help="Snapshot on the first day of every month or quarter.")
@cloup.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="First snapshot date (YYYY-MM-DD).")
@cloup.option("--to", "stop", type=click.DateTime(["%Y-%m-%d"]), help="Last snapshot date (YYYY-MM-DD).")
@cloup.option("--model", "model_dir", type=click.Path(file_okay=False),
              help="Score every snapshot with this saved model; default: fit one as of the last snapshot.")
@cloup.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="TOML config file (the settings of the model fitted here).")
@score_options(exclude=("cleaning.as_of",))
@cloup.option("--no-plots", is_flag=True, help="No report.html (the migration flows, sizes over time, lifecycle).")
@cloup.option("--quiet", is_flag=True, help="No progress and no summary.")
@cloup.option("--debug", is_flag=True, help="Show tracebacks.")
def evolve(source, every, start, stop, model_dir, config_file, no_plots, quiet, debug, **settings) -> None:
    """Snapshots of SOURCE every month or quarter, all scored by one frozen model: transition
    matrices of customers and revenue, segment sizes over time, new, retained, reactivated and
    lost customers per period, and a flow figure.

    Without SOURCE it runs on the embedded Online Retail II (2009-2010) dataset.
    """

    def work() -> None:
        from ..config import load_config
        from ..pipeline.evolve import evolve as evolve_input
        from .display import print_evolution

        given = overrides(settings)
        if source is not None:
            given["input"] = {**given.get("input", {}), "source": source}
        if no_plots:
            given["output"] = {**given.get("output", {}), "plots": False}
        config = load_config(config_file, given)
        dates = (start.date() if start else None, stop.date() if stop else None)
        _reported(quiet, lambda reporter: evolve_input(config, every, *dates, model_dir, reporter), print_evolution)

    _guarded(work, debug)


SERVE_EPILOG = """\b
Examples:
  CUSTOMERSENSE_API_KEY=... customersense serve --model outputs/model
  customersense serve --model outputs/model --api-key-file /run/secrets/key --port 9000
  customersense serve --model outputs/model --no-auth

The API key comes from $CUSTOMERSENSE_API_KEY or --api-key-file; --no-auth is allowed only on a
loopback address. SIGHUP reloads the model folder (a bundle that cannot be used is refused and
the current model keeps serving).
"""


@cli.command(epilog=SERVE_EPILOG)
@cloup.option("--model", "model_dir", required=True, type=click.Path(file_okay=False),
              help="The model bundle: a run's model/ folder, or its --save-model folder.")
@cloup.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@cloup.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port to listen on.")
@cloup.option("--api-key-file", type=click.Path(dir_okay=False), help="File holding the API key.")
@cloup.option("--no-auth", is_flag=True, help="No API key (loopback addresses only).")
@cloup.option("--max-batch", type=click.IntRange(1), default=1000, show_default=True,
              help="Most customers or transaction lines in one request.")
@cloup.option("--max-body-bytes", type=click.IntRange(1), default=5_000_000, show_default=True,
              help="Largest request body.")
@cloup.option("--debug", is_flag=True, help="Show tracebacks.")
def serve(model_dir, host, port, api_key_file, no_auth, max_batch, max_body_bytes, debug) -> None:
    """Serve a saved model over HTTP: POST /v1/score, /v1/score/transactions, GET /v1/model,
    /healthz, /metrics (OpenAPI at /docs)."""

    def work() -> None:
        from ..api.server import api_key, serve as serve_model

        key = api_key(api_key_file, no_auth, host)
        serve_model(model_dir, host=host, port=port, api_key=key, max_batch=max_batch,
                    max_body_bytes=max_body_bytes)

    _guarded(work, debug)


CAMPAIGN_EPILOG = """\b
Examples:
  customersense campaign plan outputs/customer_segments.parquet --seed 42 --out campaign
  customersense campaign analyze --assignments campaign/assignments.csv --transactions tx.csv \\
      --start 2011-01-01 --end 2011-02-01 --cost-per-contact 0.5 --margin 0.3 --out campaign
"""


@cli.group(epilog=CAMPAIGN_EPILOG)
def campaign() -> None:
    """Campaign A/B tests: plan a stratified assignment with its power, then measure the uplift."""


@campaign.command("plan")
@cloup.argument("segments_file", metavar="SEGMENTS_FILE",
                help="customer_id and segment per customer (a run's customer_segments, Parquet or CSV).")
@cloup.option("--treatment-share", type=float, default=0.5, show_default=True, help="Share of each segment treated.")
@cloup.option("--seed", type=int, default=42, show_default=True, help="Seed of the assignment.")
@cloup.option("--mde", type=float, default=0.1, show_default=True,
              help="Minimum detectable effect, relative (0.1: a 10% lift in conversion and in revenue).")
@cloup.option("--baseline-conversion", type=float, default=0.1, show_default=True,
              help="Expected conversion in the control arm during the campaign window.")
@cloup.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@cloup.option("--debug", is_flag=True, help="Show tracebacks.")
def campaign_plan(segments_file, treatment_share, seed, mde, baseline_conversion, out_dir, debug) -> None:
    """Assign the customers of SEGMENTS_FILE to treatment or control within each segment, and say
    per segment how large a lift it can read: assignments.csv, power.csv, plan.json."""

    def work() -> None:
        from ..pipeline.campaign import plan

        done = plan(segments_file, out_dir, treatment_share, seed, mde, baseline_conversion)
        click.echo(f"{done['customers']:,} customers assigned; written to {out_dir}: {', '.join(done['files'])}")
        for segment in done["too_small"]:
            click.echo(f"warning: segment {segment} is too small to read a {mde:.0%} lift (power.csv)")

    _guarded(work, debug)


@campaign.command("analyze")
@cloup.option("--assignments", "assignments_file", required=True, type=click.Path(dir_okay=False),
              help="customer_id, segment, group (treatment or control) per customer.")
@cloup.option("--transactions", required=True, help="Transactions before and during the campaign (any format `run` reads).")
@cloup.option("--start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day of the campaign window.")
@cloup.option("--end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Day after the campaign window.")
@cloup.option("--cost-per-contact", type=float, help="Cost of contacting one treated customer (for ROI).")
@cloup.option("--margin", type=float, default=1.0, show_default=True, help="Gross margin on incremental revenue.")
@cloup.option("--treatment-share", type=float, default=0.5, show_default=True,
              help="Planned treatment share (the sample-ratio check).")
@cloup.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@cloup.option("--history", default="campaign_history.csv", show_default=True, type=click.Path(dir_okay=False),
              help="Campaign results history to add this campaign to (read by later runs: input.campaign_history); "
                   "'' keeps none.")
@cloup.option("--debug", is_flag=True, help="Show tracebacks.")
def campaign_analyze(assignments_file, transactions, start, end, cost_per_contact, margin, treatment_share,
                     out_dir, history, debug) -> None:
    """Uplift per segment and overall with 95% intervals (CUPED with pre-period spend), Holm
    correction, sample-ratio check, incremental revenue and ROI: campaign_results.csv, campaign.json."""

    def work() -> None:
        from ..pipeline.campaign import analyze

        done = analyze(assignments_file, transactions, start.date(), end.date(), out_dir,
                       cost_per_contact, margin, treatment_share, history or None)
        overall = done["results"].set_index("segment").loc["all"]
        click.echo(f"uplift per customer {overall['uplift']:.2f} (95% CI {overall['uplift_ci_low']:.2f} to "
                   f"{overall['uplift_ci_high']:.2f}); written to {out_dir}: {', '.join(done['files'])}")
        if history:
            click.echo(f"campaign {done['campaign']} recorded in {history}: later runs show its measured uplift")

    _guarded(work, debug)


def _guarded(work, debug: bool) -> None:
    """Run ``work`` with the CLI's error policy: one line and a named exit code."""
    try:
        work()
    except click.ClickException:
        raise
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


@cli.command()
def datasets() -> None:
    """List the embedded datasets."""
    from ..datasets import DATASETS, DEFAULT_DATASET, dataset_path

    for name in DATASETS:
        mark = " (default)" if name == DEFAULT_DATASET else ""
        click.echo(f"{name}{mark}: {dataset_path(name)}")


def main() -> None:
    cli(prog_name="customersense")
