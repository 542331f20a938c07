"""The outputs of ``customersense evolve``: migration tables, the flow figure and a record."""

from __future__ import annotations

import datetime as dt
import platform
from pathlib import Path
from typing import Any

from ..result import EvolveResult
from ..scoring import write_bundle
from .html.evolution import EVOLUTION_REPORT, write_evolution_report
from .outputs import _versions
from .writers import AtomicOutputs, write_parquet_parts

EVOLVE_FILES = ("snapshots.parquet", "segment_sizes.csv", "transitions.csv", "lifecycle.csv",
                "report.html", "evolve.json", "model")


def write_evolution(result: EvolveResult, out_dir: str | Path) -> list[Path]:
    m = result.migration
    # model/ is this command's only when it fitted the model (a given --model may live in out_dir)
    owned = tuple(f for f in EVOLVE_FILES if f != "model" or result.model_fitted)
    with AtomicOutputs(out_dir, replaces=owned) as out:
        with result.clock.stage("write", "Writing outputs"):
            write_parquet_parts(out.path("snapshots.parquet"), m.snapshots)
            out.write_csv("segment_sizes.csv", m.sizes)
            out.write_csv("transitions.csv", m.transitions)
            out.write_csv("lifecycle.csv", m.lifecycle)
            version = result.model_version
            if result.model_fitted:
                write_bundle(result.model, out.path("model"))
            report = None
            if result.config.output.plots:
                report = write_evolution_report(result, out.path(EVOLUTION_REPORT))
        out.write_json("evolve.json", evolve_record(result, version, [*out.written, "evolve.json"], report))
    return [Path(out_dir) / name for name in out.written]


def evolve_record(result: EvolveResult, version: str, files: list[str], report: dict | None = None) -> dict[str, Any]:
    m, spec = result.migration, result.model.spec
    per_pair = (m.transitions.groupby(["from_as_of", "to_as_of", "segmentation"])["customers"].sum()
                .reset_index().to_dict(orient="records"))
    return {
        "customersense_evolve": 1,
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "model": {"version": version, "fitted_here": result.model_fitted, "trained_on": spec["trained_on"]},
        "versions": {"python": platform.python_version(), **_versions()},
        "input": result.source.to_dict(),
        "cleaning": result.cleaning.to_dict(),
        "every": result.every,
        "snapshots": [d.isoformat() for d in m.dates],
        "customers_per_snapshot": {d.isoformat(): int(n) for d, n in m.customers_per_snapshot.items()},
        "transition_totals": per_pair,
        "definitions": "customersense.evolution.migration (module docstring); README 'Segment migration'",
        "report": report,
        "timings": result.clock.to_dict(),
        "outputs": files,
    }
