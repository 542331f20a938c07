"""Which candidate is used, whether it earned its numbers, and its predictions from all data.

- :func:`choose`: ``clv.model = "auto"`` takes the candidate with the lowest holdout Brier score
  of churn (ties: the higher AUC); a named model is used as asked (the others are still scored).
- :func:`statuses`: the chosen model against the naive baselines, in plain words.
- :func:`columns_for`: the chosen model refitted on all data (on the sample's whole history
  above ``clv.fit_sample`` customers: :mod:`.fit_sample`), and every customer's columns.

CLV of a BTYD model is :func:`~customersense.clv.models.lifetime_values` (discounted monthly
expected purchases times the Gamma-Gamma expected spend). The supervised model predicts the
next H days only; its CLV extrapolates them: ``K = horizon_months * 30 / H`` windows of H days,
window ``k`` (0, 1, ...) worth the predicted H-day spend times ``(1 - churn_probability)^k``
(the chance of buying in each earlier window) discounted to the window's end, the last window
counted by its fraction. Said in clv_models.json.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np
import pandas as pd

from ..config import CLVConfig
from ..engine.base import Engine
from ..errors import DataError
from .candidates import (BASELINES, BTYD, SUPERVISED, Candidate, btyd_predict, describe_fit, fit_btyd, fit_spend,
                         spend_customers)
from .fit_sample import FitSample
from .models import lifetime_values
from .summary import TIME_UNITS
from .supervised_candidate import fit_supervised, predict_supervised

MONTH_DAYS = 30.0
SUMMARY_COLUMNS = {"frequency": "clv_frequency", "recency": "clv_recency", "T": "clv_T",
                   "monetary_value": "clv_monetary_value"}


def choose(candidates: list[Candidate], table: dict[str, dict], requested: str, failures: dict[str, str]) -> Candidate:
    """The candidate to use (see the module docstring)."""
    if requested != "auto":
        named = BTYD[requested][0] if requested in BTYD else SUPERVISED[1]
        for c in candidates:
            if c.name == named:
                return c
        raise DataError(f"clv.model={requested!r}: {named} could not be fitted ({failures.get(named, 'unknown')}); "
                        "use --clv-model auto")
    return min(candidates, key=lambda c: (table[c.name]["brier"], -table[c.name]["churn_auc"]))


def statuses(chosen: Candidate, table: dict[str, dict]) -> dict[str, Any]:
    """Did the chosen model beat the baselines on the holdout? Churn: a higher AUC than recency
    alone and than frequency alone; spend: a lower mean absolute error per customer than the
    last-period spend."""
    mine = table[chosen.name]
    best_base = max((BASELINES[0], BASELINES[1]), key=lambda b: table[b]["churn_auc"])
    churn_ok = mine["churn_auc"] > table[best_base]["churn_auc"]
    base_mae = table[BASELINES[2]]["spend"]["mae"]
    spend_ok = mine["spend"]["mae"] < base_mae
    problems = []
    if not churn_ok:
        problems.append(f"its churn AUC {mine['churn_auc']:.3f} on the holdout is not above {best_base} "
                        f"({table[best_base]['churn_auc']:.3f})")
    if not spend_ok:
        problems.append(f"its spend error per customer {mine['spend']['mae']:,.2f} is not below last-period spend "
                        f"({base_mae:,.2f})")
    label = ("supported" if churn_ok and spend_ok else
             "churn and spend not better than baselines" if not churn_ok and not spend_ok else
             "churn not better than baselines" if not churn_ok else "spend not better than baselines")
    message = (f"{chosen.name} beats the naive baselines on the holdout (churn AUC {mine['churn_auc']:.3f} vs "
               f"{table[best_base]['churn_auc']:.3f} for {best_base}; spend error {mine['spend']['mae']:,.2f} vs "
               f"{base_mae:,.2f})") if not problems else (
        f"{chosen.name} does not beat the naive baselines: {'; '.join(problems)}. Its churn and CLV columns are "
        "published with clv_status saying so; use them as rough ranks, not as forecasts. To do better: a longer "
        "history, another --holdout-days, or --clv-model")
    return {"churn_beats_baselines": bool(churn_ok), "spend_beats_baselines": bool(spend_ok),
            "label": label, "message": message}


@dataclass(frozen=True)
class Refit:
    columns: pd.DataFrame
    fit: dict[str, Any]
    models: tuple


def columns_for(chosen: Candidate, full: pd.DataFrame, days: ibis.Table, cal_end: dt.date, last_day: dt.date,
                H: int, cfg: CLVConfig, engine: Engine | None, random_state: int, *,
                fit_summary: pd.DataFrame | None = None, fit_days: ibis.Table | None = None,
                sample: FitSample | None = None) -> Refit:
    """The chosen model refitted on all data (on ``fit_summary`` / ``fit_days``, the sampled
    customers' summary and purchase days, when ``sample`` says the fit is on a sample); one row
    per customer of ``full`` (the summary at ``last_day``), indexed by customer id."""
    fit_summary = full if fit_summary is None else fit_summary
    fit_days = days if fit_days is None else fit_days
    index = pd.Index(full["customer_id"].astype("string"), name="customer_id")
    inputs = {col: full[name].to_numpy() for name, col in SUMMARY_COLUMNS.items()}
    if chosen.kind == "btyd":
        model = fit_btyd(chosen.key, fit_summary, chosen.fit["penalizer"])
        spend = fit_spend(fit_summary)
        values = btyd_columns(model, spend, full, H, cfg)
        fit = {"transactions": describe_fit(chosen.name, model, len(fit_summary)),
               "spend": describe_fit("Gamma-Gamma", spend), "calibration_end": last_day.isoformat()}
        if sample is not None:
            fit["transactions"] = sample.with_sampling_errors(fit["transactions"], len(full))
            fit["spend"] = sample.with_sampling_errors(fit["spend"], spend_customers(full))
        models = (model, spend)
    else:
        model = fit_supervised(fit_days, last_day, H, engine, random_state)
        pred = predict_supervised(model, days, last_day, index, engine)
        values = supervised_columns(pred, H, cfg)
        fit = {**chosen.fit, "training_cut": (last_day - dt.timedelta(days=H)).isoformat(),
               "label_end": last_day.isoformat(), "training_customers": int(model.n_train_),
               "clv": "next-H-day spend extrapolated over the horizon with retention (1 - churn_probability) "
                      "per H-day window, discounted monthly"}
        models = (model,)
    frame = pd.DataFrame(values, index=index)
    frame["clv_model"] = pd.Series(chosen.name, index=index, dtype="string")
    return Refit(frame.assign(**inputs), fit, models)


def btyd_columns(model, spend, summary: pd.DataFrame, H: int, cfg: CLVConfig) -> dict[str, np.ndarray]:
    """A BTYD model's columns for ``summary``'s customers, rounded to 1e-6."""
    pred = btyd_predict(model, spend, summary, H / TIME_UNITS[cfg.time_unit])
    x, tx, t = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    clv = lifetime_values(model, spend, x, tx, t, summary["monetary_value"].to_numpy(float), horizon=cfg.horizon_months,
                          discount_rate=cfg.discount_rate, margin=cfg.margin, time_unit=cfg.time_unit,
                          period_days=MONTH_DAYS, p_alive=pred["p_alive"])
    return _rounded(pred["churn"], pred["purchases"], pred["spend"], clv, pred["p_alive"], H)


def supervised_columns(pred: dict[str, np.ndarray], H: int, cfg: CLVConfig) -> dict[str, np.ndarray]:
    """The supervised model's columns (CLV extrapolated: see the module docstring)."""
    windows = cfg.horizon_months * MONTH_DAYS / H
    keep = 1.0 - pred["churn"]
    clv = np.zeros_like(pred["spend"], dtype=float)
    for k in range(math.ceil(windows - 1e-9)):
        weight = min(1.0, windows - k)
        months = (k + weight) * H / MONTH_DAYS
        clv += weight * pred["spend"] * keep**k / (1.0 + cfg.discount_rate) ** months
    return _rounded(pred["churn"], pred["purchases"], pred["spend"], cfg.margin * clv, None, H)


def _rounded(churn, purchases, spend, clv, p_alive, H: int) -> dict[str, np.ndarray]:
    n = len(churn)
    return {
        "churn_probability": np.round(churn, 6),
        f"expected_purchases_{H}d": np.round(purchases, 6),
        f"expected_spend_{H}d": np.round(spend, 6),
        "clv": np.round(clv, 6),
        "p_alive": np.round(p_alive, 6) if p_alive is not None else np.full(n, np.nan),
    }



def rebuild_btyd(fit: dict[str, Any]):
    """The transaction and spend models of a BTYD ``prediction_model`` record (clv_models.json),
    rebuilt from their parameters, ready to predict."""
    from .models import GammaGammaFitter

    name = fit["transactions"]["model"]
    cls = next(c for n, c in BTYD.values() if n == name)
    model, spend = cls(penalizer_coef=fit["transactions"]["penalizer"]), GammaGammaFitter()
    model.params_ = {k: float(v) for k, v in fit["transactions"]["params"].items()}
    spend.params_ = {k: float(v) for k, v in fit["spend"]["params"].items()}
    return model, spend
