"""The outputs of ``customersense score``: the scored customers and a record of what was done."""

from __future__ import annotations

import datetime as dt
import platform
from pathlib import Path
from typing import Any

from ..result import ScoreResult
from .outputs import _versions
from .writers import AtomicOutputs

SCORE_FILES = ("customer_scores.parquet", "customer_scores.csv", "score.json")


def write_scores(result: ScoreResult, out_dir: str | Path) -> list[Path]:
    """Write ``result`` into ``out_dir``, all or nothing."""
    customers = result.customers
    with AtomicOutputs(out_dir, replaces=SCORE_FILES) as out:
        with result.clock.stage("write", "Writing outputs"):
            out.write_parquet("customer_scores.parquet", customers)
            if len(customers) <= result.config.output.csv_max_rows:
                out.write_csv("customer_scores.csv", customers)
        out.write_json("score.json", score_record(result, [*out.written, "score.json"]))
    return [Path(out_dir) / name for name in out.written]


def score_record(result: ScoreResult, files: list[str]) -> dict[str, Any]:
    model, scoring_input, customers = result.model, result.input, result.customers
    spec = model.spec
    counts: dict[str, Any] = {"rfm_segment": customers["rfm_segment"].value_counts().sort_index().to_dict()}
    if "segment" in customers.columns:
        counts["segment"] = customers["segment"].value_counts().sort_index().to_dict()
        counts["anomalies"] = int(customers["is_anomaly"].sum())
    return {
        "customersense_score": 1,
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "model": {"version": spec["model_version"], "trained_on": spec["trained_on"],
                  "customersense_version": spec["customersense_version"]},
        "versions": {"python": platform.python_version(), **_versions()},
        "input": {"kind": scoring_input.kind, **scoring_input.source},
        "as_of": scoring_input.as_of.isoformat() if scoring_input.as_of else None,
        "cleaning": scoring_input.cleaning.to_dict() if scoring_input.cleaning is not None else None,
        "customers": len(customers),
        "clv": "computed" if spec["clv"] and customers["clv"].notna().any() else
               ("not in the model" if not spec["clv"] else spec["clv"]["reason"] if not spec["clv"]["scorable"]
                else model.clv_missing),
        "counts": counts,
        "timings": result.clock.to_dict(),
        "outputs": files,
    }
