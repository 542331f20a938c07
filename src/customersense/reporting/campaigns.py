"""The files of ``customersense campaign plan`` and ``campaign analyze``, written all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from .writers import AtomicOutputs

PLAN_FILES = ("assignments.csv", "power.csv", "plan.json")
RESULT_FILES = ("campaign_results.csv", "campaign.json")


def write_plan(assignments: pd.DataFrame, power: pd.DataFrame, record: dict[str, Any], out_dir: str | Path) -> list[Path]:
    with AtomicOutputs(out_dir, replaces=PLAN_FILES) as out:
        out.write_csv("assignments.csv", assignments)
        out.write_csv("power.csv", power)
        out.write_json("plan.json", record)
    return [Path(out_dir) / name for name in out.written]


def write_campaign(results: pd.DataFrame, record: dict[str, Any], out_dir: str | Path) -> list[Path]:
    with AtomicOutputs(out_dir, replaces=RESULT_FILES) as out:
        out.write_csv("campaign_results.csv", results)
        rows = results.astype(object).where(results.notna(), None)  # NaN is not JSON: null
        out.write_json("campaign.json", {**record, "results": rows.to_dict(orient="records")})
    return [Path(out_dir) / name for name in out.written]
