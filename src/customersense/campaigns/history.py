"""The campaign results history: every analysed campaign's per-segment results, kept in one CSV
that later runs read, so a segment's recommendation shows its last measured uplift and ROI
instead of a prior.

One row per (campaign, segment). A campaign's id is a digest of its assignments file and its
window, so analysing the same campaign again replaces its rows instead of adding them. The file
is rewritten whole through a temporary file and one rename: a reader sees the old or the new
history, never half of one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from pathlib import Path

import pandas as pd

from ..errors import InputError, OutputError

HISTORY_COLUMNS = ("campaign", "start", "end", "segment", "n_treatment", "n_control", "uplift", "uplift_ci_low",
                   "uplift_ci_high", "relative_uplift", "conversion_uplift", "p_value_holm", "roi", "roi_ci_low",
                   "roi_ci_high", "cost_per_contact", "margin", "assignments")


def campaign_id(assignments_file: str | Path, start: dt.date, end: dt.date) -> str:
    digest = hashlib.sha256(Path(assignments_file).read_bytes())
    digest.update(f"{start.isoformat()}/{end.isoformat()}".encode())
    return digest.hexdigest()[:12]


def read_history(path: str | Path) -> pd.DataFrame | None:
    """The history, or None when the file does not exist."""
    p = Path(path)
    if not p.is_file():
        return None
    try:
        frame = pd.read_csv(p, dtype={"campaign": "string", "segment": "string", "start": "string",
                                      "end": "string", "assignments": "string"}, keep_default_na=False,
                            na_values=[""])
    except (OSError, ValueError) as exc:
        raise InputError(f"{p}: cannot read the campaign history ({str(exc).splitlines()[0]}); "
                         f"fix or move the file") from None
    missing = [c for c in HISTORY_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"{p}: not a campaign history (no column {', '.join(missing)}); it is written by "
                         f"`customersense campaign analyze --history`")
    return frame


def latest_per_segment(history: pd.DataFrame | None) -> pd.DataFrame | None:
    """Per segment, the result of the campaign that ended last (ties: the later campaign id)."""
    if history is None or history.empty:
        return None
    rows = history[(history["segment"] != "all") & history["uplift"].notna()]
    rows = rows.sort_values(["segment", "end", "campaign"], kind="stable")
    return rows.groupby("segment", sort=True).tail(1).reset_index(drop=True)


def update_history(path: str | Path, results: pd.DataFrame, campaign: str, start: dt.date, end: dt.date,
                   cost_per_contact: float | None, margin: float, assignments: str) -> pd.DataFrame:
    """Replace ``campaign``'s rows in the history at ``path`` (created if absent) by ``results``."""
    p = Path(path)
    new = pd.DataFrame({c: results[c] if c in results.columns else pd.NA for c in HISTORY_COLUMNS})
    new["campaign"], new["start"], new["end"] = campaign, start.isoformat(), end.isoformat()
    new["cost_per_contact"], new["margin"], new["assignments"] = cost_per_contact, margin, Path(assignments).name
    old = read_history(p)
    if old is not None:
        new = pd.concat([old[old["campaign"] != campaign][list(HISTORY_COLUMNS)], new], ignore_index=True)
    new = new.sort_values(["end", "campaign"], kind="stable").reset_index(drop=True)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            new.to_csv(f, index=False)
        os.replace(tmp, p)
    except OSError as exc:
        raise OutputError(f"{p}: cannot write the campaign history ({exc.strerror or exc})") from None
    return new


def measured_results(path: str | Path | None, notes: list[str]) -> pd.DataFrame | None:
    """For a run: the latest measured result per segment from the history at ``path`` (None when
    ``path`` is empty or the file does not exist), and a note saying what was used."""
    latest = latest_per_segment(read_history(path)) if path else None
    if latest is not None:
        notes.append(f"campaign history {path}: measured uplift for {len(latest)} segment(s) "
                     f"({', '.join(latest['segment'])}); their recommendations use it instead of the prior")
    return latest
