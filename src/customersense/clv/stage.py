"""The CLV stage of a run: every candidate scored on a holdout, the best one refitted on all data.

Time line (days; ``last_day = as_of - 1``; ``H = clv.holdout_days``, or the days after
``clv.calibration_end`` when that is set)::

    training_end = calibration_end - H     calibration_end = last_day - H     last_day
    |---- history ----|---- training labels ----|----------- holdout -----------|

1. The candidates (:mod:`.candidates`): BG/NBD, MBG/NBD and Pareto/NBD with Gamma-Gamma,
   fitted up to ``calibration_end``, and the supervised model trained on features as of
   ``training_end`` with labels from ``(training_end, calibration_end]``, each predict for the
   customers known at ``calibration_end``: the probability of no purchase in the holdout, its
   purchase days and its spend. The naive baselines (recency only, frequency only, last-period
   spend) are scored beside them (:mod:`.holdout`).
2. The chosen model (``clv.model``, by default the lowest holdout Brier score of churn; ties by
   AUC) is refitted on all data and predicts every customer from ``last_day``:
   ``churn_probability`` (no purchase in the next H days), ``expected_purchases_<H>d``,
   ``expected_spend_<H>d``, ``clv`` (discounted over ``clv.horizon_months``, times the margin),
   ``p_alive`` (BTYD models only), ``clv_model`` and ``clv_status``.
3. Above ``clv.fit_sample`` customers (default 200,000; 0: never) steps 1 and 2 run on a seeded
   uniform sample of about that many customers (:mod:`.fit_sample`: a hash of the customer id
   and the seed, the same sample for every candidate): the candidates are fitted, scored on the
   holdout and chosen on the sample, the chosen model is refitted on the sample's whole history,
   and its columns are computed for every customer. clv_models.json says so (``fit_sample``)
   and gives each parameter's sampling error against a fit on every customer; at or below the
   limit nothing is sampled and the results are those of the exact path.
4. ``clv_status`` says whether the chosen model beat the baselines on the holdout: churn AUC
   above recency alone and frequency alone, spend error below last-period spend. A model that
   does not is still published, with that status in every row, in clv_models.json and in the
   run's notes with what the user can do.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np
import pandas as pd

from ..config import CLVConfig
from ..engine.base import Engine
from ..errors import ConfigError, DataError
from ..progress import ProgressFn
from .candidates import BASELINES, BTYD, SUPERVISED, Candidate, baselines, btyd_candidate, fit_spend, PENALIZERS
from .choice import MONTH_DAYS, SUMMARY_COLUMNS, choose, columns_for, statuses
from .evaluation import tracking_data
from .fit_sample import BUCKET, FitSample
from .holdout import Outcome, deciles, gains, scores
from .summary import TIME_UNITS, customer_periods, purchase_days, repeat_counts, summary_frame, tracking_frames
from .supervised_candidate import supervised_candidate

WHOLE, CALIBRATION = 0, 1  # the two period ends, in the order given to customer_periods
HOLDOUT, BEFORE = 0, 1      # the two windows: the holdout, and the H days before it

# The stage's steps, counted for progress.
STEPS = ("purchase days", "customer periods", "BTYD candidates", "supervised candidate",
         "holdout scores", "refit on all data")


@dataclass(frozen=True)
class CLVResult:
    columns: pd.DataFrame          # indexed by customer_id
    record: dict[str, Any]         # clv_models.json
    tracking: pd.DataFrame | None  # cumulative repeat purchases, the best BTYD candidate
    deciles: pd.DataFrame          # the chosen model's holdout by decile of predicted churn
    gains: pd.DataFrame            # churners caught by share targeted, every churn candidate
    holdout: pd.DataFrame          # one row per candidate and baseline: the holdout table
    fitted: tuple = ()             # the chosen model's refitted estimators (for a saved model)

    @property
    def horizon_days(self) -> int:
        return int(self.record["holdout"]["days"])


def periods_of(first_day: dt.date, as_of: dt.date, cfg: CLVConfig) -> tuple[dt.date, dt.date, int]:
    """(calibration_end, last_day, H) of a run; a DataError when the history is too short."""
    last_day = as_of - dt.timedelta(days=1)
    if cfg.calibration_end is not None:
        cal_end = cfg.calibration_end
        if not first_day <= cal_end < last_day:
            raise ConfigError(f"clv.calibration_end={cal_end}: must be between the first purchase ({first_day}) "
                              f"and the day before as_of ({last_day})")
    else:
        cal_end = last_day - dt.timedelta(days=cfg.holdout_days)
        if cal_end <= first_day:
            raise DataError(
                f"the purchases span {(last_day - first_day).days + 1} day(s) ({first_day} to {last_day}): too short "
                f"to hold out the last {cfg.holdout_days} days for checking the models; give a longer history, a "
                "shorter --holdout-days, or --no-clv")
    return cal_end, last_day, (last_day - cal_end).days


def run_clv(clean: ibis.Table, as_of: dt.date, cfg: CLVConfig, engine: Engine | None = None,
            progress: ProgressFn | None = None, random_state: int = 0) -> CLVResult:
    """The CLV stage on cleaned transactions. ``progress`` hears each of :data:`STEPS` done."""
    step = _Steps(progress)
    first_day = clean.purchase_date.min().to_pyarrow().as_py()
    cal_end, last_day, H = periods_of(first_day, as_of, cfg)
    train_end = cal_end - dt.timedelta(days=H)
    unit = TIME_UNITS[cfg.time_unit]
    days = purchase_days(clean)
    if engine is not None:
        days = engine.materialize(days, "clv_days")
    step()
    periods = customer_periods(days, [last_day, cal_end], engine=engine,
                               windows=[(cal_end, last_day), (train_end, cal_end)], bucket_seed=random_state)
    if engine is not None:
        engine.release_memory()  # the fits and predictions that follow work on the customers in Python
    sample = FitSample.of(len(periods), cfg.fit_sample, random_state)
    keep = sample.mask(periods[BUCKET].to_numpy())
    fitting = periods if keep is None else periods[keep]   # the customers the candidates are fitted on
    full = summary_frame(periods, WHOLE, last_day, time_unit=cfg.time_unit)  # every customer: predicted
    full_fit = full if keep is None else summary_frame(fitting, WHOLE, last_day, time_unit=cfg.time_unit)
    cal = summary_frame(fitting, CALIBRATION, cal_end, time_unit=cfg.time_unit)
    known = fitting[fitting[f"n_{CALIBRATION}"].to_numpy() > 0]
    known_all = int(np.count_nonzero(periods[f"n_{CALIBRATION}"].to_numpy() > 0))
    outcome = Outcome.from_counts(known[f"w{HOLDOUT}_n"].to_numpy(), known[f"w{HOLDOUT}_value"].to_numpy())
    if outcome.churned.min() == outcome.churned.max():
        raise DataError(f"in the holdout ({cal_end} to {last_day}) {'no' if outcome.churned.min() else 'every'} "
                        "customer bought again: churn cannot be checked; give another --holdout-days or a longer history")
    fit_days = sample.days(days)
    if sample.sampled and engine is not None:
        fit_days = engine.materialize(fit_days, "clv_fit_days")
    step()
    failures: dict[str, str] = {}
    candidates: list[Candidate] = []
    spend = fit_spend(cal)
    penalizers = PENALIZERS if cfg.penalizer is None else (cfg.penalizer,)
    for key in BTYD:
        try:
            candidate = btyd_candidate(key, cal, spend, H / unit, outcome.churned, penalizers, random_state)
            candidate.fit = sample.with_sampling_errors(candidate.fit, known_all)
            candidates.append(candidate)
        except DataError as exc:
            failures[BTYD[key][0]] = str(exc)
    step()
    try:
        candidates.append(supervised_candidate(fit_days, train_end, cal_end, H, cal["customer_id"], engine,
                                               random_state))
    except DataError as exc:
        failures[SUPERVISED[1]] = str(exc)
    step()
    if not candidates:
        raise DataError("no churn model could be fitted: " + "; ".join(f"{k}: {v}" for k, v in failures.items()))
    base = baselines(cal, known[f"w{BEFORE}_value"].to_numpy())
    table = {c.name: scores(c.prediction, outcome) for c in [*candidates, *base]}
    chosen = choose(candidates, table, cfg.model, failures)
    status = statuses(chosen, table)
    step()
    refit = columns_for(chosen, full, days, cal_end, last_day, H, cfg, engine, random_state,
                        fit_summary=full_fit, fit_days=fit_days, sample=sample)
    columns = refit.columns
    columns.insert(columns.columns.get_loc("clv_model") + 1, "clv_status",
                   pd.Series(status["label"], index=columns.index, dtype="string"))
    columns[f"spend_last_{H}d"] = known_spend(periods, columns.index)
    step()
    record = _record(cfg, cal_end, last_day, train_end, H, outcome, candidates, base, table, chosen, failures,
                     status, refit.fit, full)
    record["fit_sample"] = sample.record(len(full_fit), outcome.churned.size, known_all)
    return CLVResult(
        columns=columns, record=record,
        tracking=_tracking(candidates, table, periods, days, cal_end, last_day, cfg),
        deciles=deciles(chosen.prediction, outcome),
        gains=_gains([*candidates, *base], outcome),
        holdout=_holdout_frame(table, candidates, base, chosen),
        fitted=refit.models,
    )


def known_spend(periods: pd.DataFrame, index: pd.Index) -> np.ndarray:
    """Each customer's spend in the last H days (the holdout window), in ``index`` order."""
    values, ids = periods[f"w{HOLDOUT}_value"].to_numpy(float), periods["customer_id"].to_numpy(object)
    if len(ids) == len(index) and np.array_equal(ids, index.to_numpy(object)):
        return values.copy()  # the same customers in the same order (the run's case): no string lookup
    spend = pd.Series(values, index=periods["customer_id"].astype("string"))
    return spend.reindex(index).fillna(0.0).to_numpy()


def _gains(candidates: list[Candidate], outcome: Outcome) -> pd.DataFrame:
    parts = []
    for c in candidates:
        if c.prediction.score is None:
            continue
        share, caught = gains(c.prediction.score, outcome.churned)
        parts.append(pd.DataFrame({"candidate": c.name, "share_targeted": share, "share_of_churners": caught}))
    return pd.concat(parts, ignore_index=True)


def _holdout_frame(table: dict, candidates: list[Candidate], base: list[Candidate], chosen: Candidate) -> pd.DataFrame:
    rows = []
    for c in [*candidates, *base]:
        s = table[c.name]
        rows.append({
            "candidate": c.name, "kind": c.kind, "chosen": c.name == chosen.name,
            "churn_auc": s["churn_auc"], "brier": s["brier"],
            "purchases_predicted": (s["purchases"] or {}).get("predicted"),
            "purchases_actual": (s["purchases"] or {}).get("actual"),
            "spend_predicted": (s["spend"] or {}).get("predicted"),
            "spend_actual": (s["spend"] or {}).get("actual"),
            "spend_error_pct": (s["spend"] or {}).get("error_pct"),
            "spend_mae": (s["spend"] or {}).get("mae"),
            "penalizer": c.fit.get("penalizer"),
        })
    return pd.DataFrame(rows)


def _tracking(candidates, table, periods, days, cal_end, last_day, cfg) -> pd.DataFrame | None:
    """Cumulative repeat purchases, actual vs the best BTYD candidate fitted up to ``cal_end``."""
    btyd = [c for c in candidates if c.kind == "btyd"]
    if not btyd:
        return None
    best = min(btyd, key=lambda c: table[c.name]["brier"])
    repeats = repeat_counts(days, [last_day, cal_end], last_day)
    cohorts, reps = tracking_frames(periods, repeats, CALIBRATION, cal_end)
    out = tracking_data(best.models[0], cohorts, reps, last_day, calibration_end=cal_end, time_unit=cfg.time_unit)
    out.attrs["model"] = best.name
    return out


def _record(cfg, cal_end, last_day, train_end, H, outcome, candidates, base, table, chosen, failures, status,
            fit, full) -> dict[str, Any]:
    rows = []
    for c in [*candidates, *base]:
        by_decile = ({"deciles": deciles(c.prediction, outcome).round(6).to_dict(orient="records")}
                     if c.prediction.churn is not None else {})  # calibration, purchases and spend by decile
        rows.append({"name": c.name, "kind": c.kind, "chosen": c.name == chosen.name, **table[c.name],
                     **by_decile, **({"fit": c.fit} if c.fit else {})})
    return {
        "purchases_counted": full.attrs.get("purchases_counted"),
        "spend": "sum of the purchase days' value in the window; Gamma-Gamma: mean value of the repeat "
                 "purchase days, the first purchase excluded (Fader & Hardie)",
        "holdout": {
            "days": H, "calibration_end": cal_end.isoformat(), "holdout_end": last_day.isoformat(),
            "training_end": train_end.isoformat(), "customers": int(outcome.churned.size),
            "churn_rate": round(float(outcome.churned.mean()), 6),
            "churn": f"no purchase day in the {H} days after the cut",
        },
        "selection": {
            "requested": cfg.model,
            "rule": "the lowest holdout Brier score of churn (ties: the higher AUC)" if cfg.model == "auto"
                    else f"clv.model = {cfg.model!r}",
            "chosen": chosen.name,
            "penalizers_tried": list(PENALIZERS) if cfg.penalizer is None else [cfg.penalizer],
        },
        "status": status,
        "candidates": rows,
        "failed": failures,
        "prediction_model": fit,
        "horizon_months": cfg.horizon_months,
        "discount_rate_per_month": cfg.discount_rate,
        "margin": cfg.margin,
        "time_unit": cfg.time_unit,
        "columns": {
            "churn_probability": f"P(no purchase day in the next {H} days)",
            f"expected_purchases_{H}d": f"expected purchase days in the next {H} days",
            f"expected_spend_{H}d": f"expected spend in the next {H} days",
            "clv": f"discounted expected spend over the next {cfg.horizon_months} months x margin {cfg.margin}",
            "p_alive": "P(still a customer) from the BTYD model; empty for the supervised model",
            f"spend_last_{H}d": f"actual spend in the last {H} days",
        },
    }


class _Steps:
    """Counts the stage's steps for ``progress`` (see :data:`STEPS`)."""

    def __init__(self, progress: ProgressFn | None) -> None:
        self.progress, self.done = progress, 0

    def __call__(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, len(STEPS), "CLV steps")


__all__ = ["BASELINES", "CLVResult", "MONTH_DAYS", "STEPS", "SUMMARY_COLUMNS", "run_clv"]
