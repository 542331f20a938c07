"""The files of ``customersense campaign plan`` and ``campaign analyze``, written all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from .figures import add_caption, freeze_layout, money_label, save_figure
from .writers import AtomicOutputs

PLAN_FILES = ("assignments.csv", "power.csv", "plan.json")
RESULT_FILES = ("campaign_results.csv", "campaign.json", "campaign_uplift.png")


def write_plan(assignments: pd.DataFrame, power: pd.DataFrame, record: dict[str, Any], out_dir: str | Path) -> list[Path]:
    with AtomicOutputs(out_dir, replaces=PLAN_FILES) as out:
        out.write_csv("assignments.csv", assignments)
        out.write_csv("power.csv", power)
        out.write_json("plan.json", {**record, "files": list(PLAN_FILES)})
    return [Path(out_dir) / name for name in out.written]


def write_campaign(results: pd.DataFrame, record: dict[str, Any], out_dir: str | Path) -> list[Path]:
    with AtomicOutputs(out_dir, replaces=RESULT_FILES) as out:
        out.write_csv("campaign_results.csv", results)
        rows = results.astype(object).where(results.notna(), None)  # NaN is not JSON: null
        out.write_json("campaign.json", {**record, "files": list(RESULT_FILES),
                                         "results": rows.to_dict(orient="records")})
        draw_uplift(results, record, out.path("campaign_uplift.png"))
    return [Path(out_dir) / name for name in out.written]


def draw_uplift(results: pd.DataFrame, record: dict[str, Any], path: Path) -> None:
    """Uplift per segment and overall: the reported interval (dark) over the raw one (light)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 1.2 + 0.6 * len(results)), layout="constrained")
    ax = fig.add_subplot()
    y = list(range(len(results)))[::-1]
    ax.hlines(y, results["uplift_raw_ci_low"], results["uplift_raw_ci_high"], color="#bbbbbb", linewidth=6,
              label="95% interval, raw")
    ax.hlines(y, results["uplift_ci_low"], results["uplift_ci_high"], color="#1f4e79", linewidth=2.5,
              label="95% interval, reported")
    ax.plot(results["uplift"], y, "o", color="#1f4e79")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, [f"{s} ({t:,} vs {c:,})" for s, t, c in
                      zip(results["segment"], results["n_treatment"], results["n_control"])])
    ax.set_xlabel(money_label("revenue per customer, treatment minus control", None))
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    window = record["window"]
    kind = "CUPED" if record["uplift"].startswith("CUPED") else "raw"
    add_caption(fig, "Campaign uplift per segment",
                f"window {window['start']} to {window['end']} (end excluded) · reported: {kind}", fontsize=11)
    save_figure(freeze_layout(fig), path)
