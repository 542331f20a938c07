"""``customersense campaign plan`` and ``campaign analyze``: files in, the library's statistics, files out.

``plan`` reads a segments file (a run's ``customer_segments``: customer_id, segment, and
``monetary`` for the revenue power), assigns customers stratified by segment and writes
``assignments.csv``, ``power.csv`` and ``plan.json``. ``analyze`` reads the assignments and the
transactions (any format a run reads), cleans them with the run's rules up to ``end``, sums each
customer's revenue in ``[start, end)`` and in the equally long pre-period in the engine, and
writes ``campaign_results.csv`` and ``campaign.json``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from .. import schema as S
from ..campaigns import analyse, assign, outcomes, power_table
from ..campaigns.analysis import SRM_ALPHA
from ..campaigns.history import campaign_id, update_history
from ..campaigns.design import GROUP, SEGMENT, TREATMENT, CONTROL
from ..campaigns.outcomes import pre_period_start
from ..cleaning import clean
from ..config import load_config
from ..errors import ConfigError, DataError, InputError, SchemaError
from ..io.readers import read_transactions
from ..reporting.campaigns import write_campaign, write_plan
from .run import session


def _read_table(path: str | Path, needed: tuple[str, ...], what: str) -> pd.DataFrame:
    p = Path(path)
    try:
        if p.suffix.lower() == ".parquet" or p.is_dir():
            frame = pd.read_parquet(p)
        else:
            frame = pd.read_csv(p, dtype={S.CUSTOMER_ID: "string", SEGMENT: "string"}, encoding="utf-8-sig")
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the {what} ({str(exc).splitlines()[0]})") from None
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise SchemaError(f"{path}: the {what} has no column {', '.join(missing)}; it needs {', '.join(needed)}")
    if frame[S.CUSTOMER_ID].isna().any() or frame[SEGMENT].isna().any():
        raise DataError(f"{path}: empty customer_id or segment values; every row names its customer and segment")
    if frame[S.CUSTOMER_ID].duplicated().any():
        first = frame.loc[frame[S.CUSTOMER_ID].duplicated(), S.CUSTOMER_ID].iloc[0]
        raise DataError(f"{path}: customer {first} appears more than once; give one row per customer")
    return frame.astype({S.CUSTOMER_ID: "string", SEGMENT: "string"})


def _share(value: float) -> float:
    if not 0 < value < 1:
        raise ConfigError(f"--treatment-share {value}: give a share between 0 and 1")
    return value


def plan(segments_file: str | Path, out_dir: str | Path, treatment_share: float = 0.5, seed: int = 42,
         mde: float = 0.1, baseline_conversion: float = 0.1) -> dict[str, Any]:
    share = _share(treatment_share)
    if not mde > 0 or not 0 < baseline_conversion < 1:
        raise ConfigError(f"--mde {mde} must be above 0 and --baseline-conversion {baseline_conversion} between 0 and 1")
    customers = _read_table(segments_file, (S.CUSTOMER_ID, SEGMENT), "segments file")
    assignments = assign(customers, share, seed)
    power = power_table(customers, mde=mde, baseline_conversion=baseline_conversion, treatment_share=share)
    record = {"customersense_campaign_plan": 1, "segments_file": str(segments_file), "treatment_share": share,
              "seed": seed, "mde_relative": mde, "baseline_conversion": baseline_conversion,
              "customers": len(assignments), "alpha": 0.05, "power": 0.8,
              "too_small": [r[SEGMENT] for r in power.to_dict("records") if r["warning"]]}
    record["files"] = [p.name for p in write_plan(assignments, power, record, out_dir)]
    return {**record, "assignments": assignments, "power_table": power}


def analyze(assignments_file: str | Path, transactions: str | Path, start: dt.date, end: dt.date,
            out_dir: str | Path, cost_per_contact: float | None = None, margin: float = 1.0,
            treatment_share: float = 0.5, history: str | Path | None = None) -> dict[str, Any]:
    """Measure the campaign; with ``history``, record its per-segment results there (replacing an
    earlier analysis of the same assignments and window) for later runs' recommendations."""
    if not start < end:
        raise ConfigError(f"--start {start} must be before --end {end}")
    if cost_per_contact is not None and cost_per_contact <= 0:
        raise ConfigError(f"--cost-per-contact {cost_per_contact}: give a positive cost")
    share = _share(treatment_share)
    assignments = _read_table(assignments_file, (S.CUSTOMER_ID, SEGMENT, GROUP), "assignments file")
    bad = sorted(set(assignments[GROUP].astype(str)) - {TREATMENT, CONTROL})
    if bad:
        raise DataError(f"{assignments_file}: group {bad[0]!r}; every group is treatment or control")
    config = load_config(None, {"input": {"source": str(transactions)}, "cleaning": {"as_of": end.isoformat()}})
    with session(config) as (engine, workdir):
        tx = read_transactions(engine, config.input, workdir)
        cleaned = clean(engine, tx.table, config.cleaning, source=tx.info.path)
        per_customer = outcomes(engine, cleaned.table, start, end)
    known = assignments[S.CUSTOMER_ID].isin(per_customer[S.CUSTOMER_ID])
    if not known.any():
        raise DataError(f"{transactions}: none of the {len(assignments):,} assigned customers has a transaction "
                        f"between {pre_period_start(start, end)} and {end}; check the customer ids and the dates")
    frame = assignments.merge(per_customer, on=S.CUSTOMER_ID, how="left")
    frame = frame.fillna({"revenue": 0.0, "pre_revenue": 0.0, "converted": False}).astype({"converted": bool})
    has_pre = bool((frame["pre_revenue"] != 0).any())
    results = analyse(frame, share, cost_per_contact, margin, has_pre_period=has_pre)
    record = {"customersense_campaign": 1, "campaign": campaign_id(assignments_file, start, end),
              "assignments": str(assignments_file), "transactions": str(transactions),
              "window": {"start": start, "end": end}, "pre_period": {"start": pre_period_start(start, end), "end": start},
              "treatment_share": share, "cost_per_contact": cost_per_contact, "margin": margin,
              "customers_without_transactions": int((~known).sum()),
              "uplift": "CUPED-adjusted (theta pooled over both arms of a segment)" if has_pre
                        else "raw difference of means (no pre-period revenue)",
              "interval": "95%, Welch per segment; normal for 'all' (segments weighted by size)",
              "correction": "Holm across segments (p_value_holm)",
              "sample_ratio_check": f"chi-square against the planned share, mismatch when p < {SRM_ALPHA}",
              "history": str(history) if history else None}
    record["files"] = [p.name for p in write_campaign(results, record, out_dir)]
    if history:
        update_history(history, results, record["campaign"], start, end, cost_per_contact, margin,
                       str(assignments_file))
    return {**record, "results": results}
