"""The churn and CLV candidates, each fitted before the holdout and scored on it.

- **BTYD**: BG/NBD, MBG/NBD and Pareto/NBD, each with Gamma-Gamma for spend, fitted on the
  purchases up to ``calibration_end``; the L2 penalty (lifetimes' ``penalizer_coef``) is chosen
  from :data:`PENALIZERS` by the holdout Brier score unless the settings fix it.
- **Supervised**: :class:`~customersense.clv.supervised.SupervisedCLV`, trained on features as
  of ``training_end = calibration_end - H`` with labels from ``(training_end, calibration_end]``,
  predicting the holdout from features as of ``calibration_end``.
- **Baselines**: recency only and frequency only (churn ranks), last-period spend (the spend
  of ``(calibration_end - H, calibration_end]`` predicts the holdout's).

Every function here is pure: arrays and small frames in, predictions and records out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from ._base import factorize_rows
from .holdout import Prediction
from .models import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter
from .mbgnbd import ModifiedBetaGeoFitter

# key -> (display name, class)
BTYD = {
    "bgnbd": ("BG/NBD", BetaGeoFitter),
    "mbgnbd": ("MBG/NBD", ModifiedBetaGeoFitter),
    "pareto": ("Pareto/NBD", ParetoNBDFitter),
}
SUPERVISED = ("supervised", "Gradient boosting (time split)")
PENALIZERS = (0.0, 0.001, 0.01, 0.1)
SEARCH_SAMPLE = 250_000  # customers: above it the penalty search runs on a seeded sample (btyd_candidate)
BASELINES = ("recency only", "frequency only", "last-period spend")


@dataclass
class Candidate:
    """One candidate's holdout result: its prediction and how it was fitted."""

    key: str
    name: str
    kind: str                                   # "btyd", "supervised" or "baseline"
    prediction: Prediction
    fit: dict[str, Any] = field(default_factory=dict)
    models: tuple = ()                          # the fitted models (not serialised)


def describe_fit(name: str, model, n: int | None = None) -> dict[str, Any]:
    """A parametric fit as plain JSON: parameters, standard errors, identifiability, status."""
    return {
        "model": name,
        "params": model.params_,
        "standard_errors": model.standard_errors_,
        "identifiability": getattr(model, "identifiability_", {}),
        "log_likelihood": model.log_likelihood_,
        "converged": bool(model.converged_),
        "penalizer": float(getattr(model, "penalizer_coef", 0.0)),
        "customers": int(n if n is not None else model.n_customers_),
    }


def _spends(summary: pd.DataFrame) -> pd.Series:
    return (summary["frequency"] > 0) & (summary["monetary_value"] > 0)


def spend_customers(summary: pd.DataFrame) -> int:
    """How many customers of ``summary`` :func:`fit_spend` fits on."""
    return int(_spends(summary).sum())


def fit_spend(summary: pd.DataFrame) -> GammaGammaFitter:
    """Gamma-Gamma on the repeat customers with positive spend (a repeat customer whose repeat
    purchases were all worth nothing is left out of this fit, not of the run)."""
    spends = _spends(summary)
    if int(spends.sum()) < 2:
        raise DataError("the spend model needs repeat customers with positive spend; none in this period")
    return GammaGammaFitter().fit(summary["frequency"][spends], summary["monetary_value"][spends])


def frt(summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (summary["frequency"].to_numpy(float), summary["recency"].to_numpy(float), summary["T"].to_numpy(float))


def btyd_predict(model, spend: GammaGammaFitter, summary: pd.DataFrame, horizon: float) -> dict[str, np.ndarray]:
    """P(alive), P(no purchase in the next ``horizon``), expected purchases and spend in it.

    The transaction model's three depend on (x, t_x, T) alone, elementwise: they are computed
    once per distinct (x, t_x, T) cell and spread back (the very values; customers measured in
    days share cells); the spend multiplies in each customer's own expected average spend."""
    x, tx, t = frt(summary)
    cells, rep = factorize_rows(x, tx, t)
    xc, txc, tc = x[rep], tx[rep], t[rep]
    p_alive = model.probability_alive(xc, txc, tc)
    purchases = model.expected_purchases(horizon, xc, txc, tc, p_alive=p_alive)[cells]
    return {
        "p_alive": p_alive[cells],
        "churn": model.probability_no_purchase(horizon, xc, txc, tc, p_alive=p_alive)[cells],
        "purchases": purchases,
        "spend": purchases * spend.expected_average_spend(x, summary["monetary_value"].to_numpy(float)),
    }


def fit_btyd(key: str, summary: pd.DataFrame, penalizer: float, standard_errors: bool = True):
    """The transaction model ``key`` of :data:`BTYD` fitted on ``summary`` with ``penalizer``."""
    _, cls = BTYD[key]
    return cls(penalizer_coef=penalizer).fit(*frt(summary), standard_errors=standard_errors)


def search_rows(n: int, n_penalizers: int, random_state: int) -> np.ndarray | None:
    """The customers the penalty search fits and scores on: all (None) up to
    :data:`SEARCH_SAMPLE` customers or with one penalty, else a seeded uniform sample of
    :data:`SEARCH_SAMPLE` of them (sorted row positions)."""
    if n_penalizers < 2 or n <= SEARCH_SAMPLE:
        return None
    return np.sort(np.random.default_rng(random_state).choice(n, SEARCH_SAMPLE, replace=False))


def btyd_candidate(key: str, summary: pd.DataFrame, spend: GammaGammaFitter, horizon: float,
                   churned: np.ndarray, penalizers: tuple[float, ...], random_state: int = 0) -> Candidate:
    """Fit ``key`` with each penalty; keep the one with the lowest holdout Brier score (ties:
    the smaller penalty). A penalty whose fit fails is recorded and skipped. Only the kept fit
    gets standard errors (the others' Hessians would be thrown away).

    Above :data:`SEARCH_SAMPLE` customers the search fits and scores each penalty on a seeded
    uniform sample of them (:func:`search_rows`), and the kept penalty is then fitted on every
    customer, whose prediction is the candidate's (said in the fit record, ``search_sample``)."""
    name = BTYD[key][0]
    rows = search_rows(len(summary), len(penalizers), random_state)
    sub = summary if rows is None else summary.iloc[rows]
    sub_churned = churned if rows is None else np.asarray(churned)[rows]
    search, best = [], None
    for pen in penalizers:
        try:
            model = fit_btyd(key, sub, pen, standard_errors=False)
            pred = btyd_predict(model, spend, sub, horizon)
        except DataError as exc:  # ConvergenceError included
            search.append({"penalizer": pen, "error": str(exc)})
            continue
        brier = float(np.mean((pred["churn"] - sub_churned) ** 2))
        search.append({"penalizer": pen, "brier": round(brier, 6), "converged": bool(model.converged_)})
        if best is None or brier < best[0] - 1e-12:
            best = (brier, model, pred)
    if best is None:
        raise DataError(f"{name} could not be fitted with any penalty: {search[-1]['error']}")
    _, model, pred = best
    if rows is None:
        model.add_standard_errors(*frt(summary))
    else:
        model = fit_btyd(key, summary, float(model.penalizer_coef))
        pred = btyd_predict(model, spend, summary, horizon)
    fit = describe_fit(name, model, len(summary))
    fit["penalizer_search"] = search
    if rows is not None:
        fit["search_sample"] = {
            "customers": int(rows.size), "of": int(len(summary)), "seed": int(random_state),
            "rule": f"above {SEARCH_SAMPLE:,} customers each penalty is fitted and its Brier score taken on a "
                    "seeded uniform sample of them; the chosen penalty is then fitted on every customer"}
    return Candidate(key, name, "btyd", Prediction(churn=pred["churn"], purchases=pred["purchases"],
                                                    spend=pred["spend"]), fit, (model, spend))


def baselines(summary: pd.DataFrame, last_period_spend: np.ndarray) -> list[Candidate]:
    """The naive baselines on the calibration summary (one row per holdout customer)."""
    x, tx, t = frt(summary)
    return [
        Candidate("recency", BASELINES[0], "baseline", Prediction(churn_score=t - tx),
                  {"rule": "time since the last purchase: the longer, the likelier churn"}),
        Candidate("frequency", BASELINES[1], "baseline", Prediction(churn_score=-x),
                  {"rule": "repeat purchase days: the fewer, the likelier churn"}),
        Candidate("last_spend", BASELINES[2], "baseline", Prediction(spend=np.asarray(last_period_spend, float)),
                  {"rule": "the spend of the H days before the holdout predicts the holdout's"}),
    ]
