"""The CLV stage of a run: fit on all data for the predictions, and on a calibration period for
a measured holdout evaluation.

- **Predictions** (added to every customer): the transaction model (Pareto/NBD by default) and
  Gamma-Gamma are fitted on all purchases up to the day before ``as_of``; each customer gets
  ``p_alive``, ``expected_purchases_<h>m`` (the next h months, 30 days each), ``expected_spend``
  and ``clv`` (discounted, times the margin).
- **Evaluation**: the same models fitted on the calibration period only (to ``calibration_end``;
  by default the last third of the observed period is the holdout) and compared with what the
  customers really did afterwards: total and per-customer error, purchases by calibration
  frequency, and how well P(alive) separates customers who bought again (ROC AUC).

Pareto/NBD is the default because BG/NBD gives P(alive) = 1 to every customer without a repeat
purchase, which makes it a poor churn score (on the CDNOW sample's holdout: churn AUC 0.73 for
Pareto/NBD, 0.32 for BG/NBD), while both predict purchases about equally well.
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
from .evaluation import calibration_by_frequency, churn_auc, holdout_accuracy, predict_holdout, tracking_data
from .models import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter, lifetime_values
from .summary import TIME_UNITS, customer_periods, purchase_days, repeat_counts, summary_frame, tracking_frames

MODELS = {"pareto": ("Pareto/NBD", ParetoNBDFitter), "bgnbd": ("BG/NBD", BetaGeoFitter)}
MONTH_DAYS = 30.0
WHOLE, CALIBRATION = 0, 1  # the two period ends, in the order given to customer_periods


@dataclass(frozen=True)
class CLVResult:
    columns: pd.DataFrame          # indexed by customer_id
    record: dict[str, Any]         # clv_models.json
    tracking: pd.DataFrame
    calibration_table: pd.DataFrame


def _fit(summary: pd.DataFrame, cfg: CLVConfig):
    name, cls = MODELS[cfg.model]
    model = cls().fit(summary["frequency"], summary["recency"], summary["T"])
    # Gamma-Gamma models positive spend: a repeat customer whose repeat purchases were all worth
    # nothing (zero-value purchases, cleaning.zero_value) is left out of its fit, not of the run.
    spends = summary["monetary_value"] > 0
    spend = GammaGammaFitter().fit(summary["frequency"][spends], summary["monetary_value"][spends])
    return name, model, spend


def _describe(name: str, model, cfg: CLVConfig, calibration_end: dt.date, n: int) -> dict[str, Any]:
    return {
        "model": name,
        "params": model.params_,
        "standard_errors": model.standard_errors_,
        "log_likelihood": model.log_likelihood_,
        "converged": bool(model.converged_),
        "customers": n,
        "time_unit": cfg.time_unit,
        "calibration_end": calibration_end.isoformat(),
    }


def default_calibration_end(first_day: dt.date, as_of: dt.date) -> dt.date:
    """Leave the last third of the observed period for the holdout."""
    span = (as_of - first_day).days
    return as_of - dt.timedelta(days=max(1, span // 3)) - dt.timedelta(days=1)


# The CLV models' inputs, kept in the customer table so that a saved model can score it again
# (customersense.scoring): summary column -> customer-table column.
SUMMARY_COLUMNS = {"frequency": "clv_frequency", "recency": "clv_recency", "T": "clv_T",
                   "monetary_value": "clv_monetary_value"}


def prediction_columns(model, spend, summary: pd.DataFrame, cfg: CLVConfig) -> pd.DataFrame:
    """Per customer of ``summary`` (:func:`summary_frame` rows): the models' inputs
    (:data:`SUMMARY_COLUMNS`), ``p_alive``, ``expected_purchases_<h>m``, ``expected_spend`` and
    ``clv``, indexed by customer id. One definition for the run and for a saved model."""
    inputs = {name: summary[name].to_numpy() for name in SUMMARY_COLUMNS}
    return pd.DataFrame(
        {**prediction_arrays(model, spend, inputs, cfg),
         **{column: inputs[name] for name, column in SUMMARY_COLUMNS.items()}},
        index=pd.Index(summary["customer_id"].astype("string"), name="customer_id"),
    )


def prediction_arrays(model, spend, inputs: dict[str, np.ndarray], cfg: CLVConfig) -> dict[str, np.ndarray]:
    """The predictions of :func:`prediction_columns` from the summary's arrays (``frequency``,
    ``recency``, ``T``, ``monetary_value``), rounded to 1e-6."""
    horizon = cfg.horizon_months * MONTH_DAYS / TIME_UNITS[cfg.time_unit]
    x, m = inputs["frequency"], inputs["monetary_value"]
    cols = (x, inputs["recency"], inputs["T"])
    p_alive = model.probability_alive(*cols)  # computed once, reused by the predictions
    return {
        "p_alive": np.round(p_alive, 6),
        f"expected_purchases_{cfg.horizon_months}m": np.round(model.expected_purchases(horizon, *cols, p_alive=p_alive), 6),
        "expected_spend": np.round(spend.expected_average_spend(x, m), 6),
        "clv": np.round(lifetime_values(model, spend, *cols, m, horizon=cfg.horizon_months,
                                        discount_rate=cfg.discount_rate, margin=cfg.margin, time_unit=cfg.time_unit,
                                        period_days=MONTH_DAYS, p_alive=p_alive), 6),
    }


def fitted_models(record: dict[str, Any]):
    """The transaction and spend models of ``record["prediction_models"]`` (clv_models.json),
    rebuilt from their parameters, ready to predict."""
    models = record["prediction_models"]
    name = models["transactions"]["model"]
    cls = next(c for n, c in MODELS.values() if n == name)
    model, spend = cls(), GammaGammaFitter()
    model.params_ = {k: float(v) for k, v in models["transactions"]["params"].items()}
    spend.params_ = {k: float(v) for k, v in models["spend"]["params"].items()}
    return model, spend


# The stage's steps, counted for progress: the two engine summaries, then each period's fits.
STEPS = ("purchase days", "customer periods", "fits on all data", "predictions",
         "fits on the calibration period", "holdout evaluation")


def run_clv(clean: ibis.Table, as_of: dt.date, cfg: CLVConfig, engine: Engine | None = None,
            progress: ProgressFn | None = None) -> CLVResult:
    """The CLV stage on cleaned transactions; with the ``engine`` the purchase
    days are materialised once and every summary is read from them. ``progress`` hears each
    of :data:`STEPS` done: ``progress(done, len(STEPS), "CLV steps")``."""
    step = _Steps(progress)
    last_day = as_of - dt.timedelta(days=1)
    first_day = clean.purchase_date.min().to_pyarrow().as_py()
    cal_end = cfg.calibration_end or default_calibration_end(first_day, as_of)
    if not first_day <= cal_end < last_day and cfg.calibration_end is None:  # the data's limit, not a setting's
        raise DataError(
            f"the purchases span {(last_day - first_day).days + 1} day(s) ({first_day} to {last_day}): too short "
            "to hold out a period for checking the fit; give a longer history or --no-clv"
        )
    if not first_day <= cal_end < last_day:
        raise ConfigError(
            f"clv.calibration_end={cal_end}: must be between the first purchase ({first_day}) and "
            f"the day before as_of ({last_day})"
        )
    days = purchase_days(clean)
    if engine is not None:
        days = engine.materialize(days, "clv_days")
    step()
    # Both periods in one query: cut 0 (WHOLE) is the whole period, cut 1 (CALIBRATION) the calibration period.
    cuts = [last_day, cal_end]
    periods = customer_periods(days, cuts, holdout=(cal_end, last_day), engine=engine)
    full = summary_frame(periods, WHOLE, last_day, time_unit=cfg.time_unit)
    step()
    # Predictions from all data.
    name, model, spend = _fit(full, cfg)
    step()
    columns = prediction_columns(model, spend, full, cfg)
    record = {
        "purchases_counted": full.attrs.get("purchases_counted", "distinct purchase days; returns excluded"),
        "spend": "mean value of the repeat purchase days, the first purchase excluded (Fader & Hardie)",
        "horizon_months": cfg.horizon_months,
        "discount_rate_per_month": cfg.discount_rate,
        "margin": cfg.margin,
        "prediction_models": {
            "transactions": _describe(name, model, cfg, last_day, len(full)),
            "spend": _describe("Gamma-Gamma", spend, cfg, last_day, spend.n_customers_),
        },
    }
    repeats = repeat_counts(days, cuts, last_day)
    step()
    try:
        record["evaluation"], tracking, table = _evaluate(periods, repeats, cal_end, last_day, cfg, step)
    except DataError as exc:  # ConvergenceError included
        # The predictions stand; say plainly that the holdout check could not be made.
        record["evaluation"] = {"calibration_end": cal_end.isoformat(), "error": str(exc)}
        cohorts, repeats = tracking_frames(periods, repeats, WHOLE, last_day)
        tracking = tracking_data(model, cohorts, repeats, last_day, time_unit=cfg.time_unit)
        table = None
    step.finish()
    return CLVResult(columns=columns, record=record, tracking=tracking, calibration_table=table)


class _Steps:
    """Counts the stage's steps for ``progress`` (see :data:`STEPS`)."""

    def __init__(self, progress: ProgressFn | None) -> None:
        self.progress, self.done = progress, 0

    def __call__(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, len(STEPS), "CLV steps")

    def finish(self) -> None:  # a failed evaluation skips its steps
        while self.done < len(STEPS):
            self()


def _evaluate(periods: pd.DataFrame, repeats: pd.DataFrame, cal_end: dt.date, last_day: dt.date, cfg: CLVConfig,
              step: _Steps):
    """Fit on the calibration period, compare with the holdout."""
    cal = summary_frame(periods, CALIBRATION, cal_end, time_unit=cfg.time_unit, holdout_end=last_day)
    name, model, spend = _fit(cal, cfg)
    step()
    p_alive = model.probability_alive(cal["frequency"], cal["recency"], cal["T"])
    predicted = predict_holdout(model, cal, p_alive)
    actual = cal["holdout_frequency"].to_numpy(float)
    cohorts, repeats = tracking_frames(periods, repeats, CALIBRATION, cal_end)
    tracking = tracking_data(model, cohorts, repeats, last_day, calibration_end=cal_end, time_unit=cfg.time_unit)
    table = calibration_by_frequency(cal["frequency"], actual, predicted)
    evaluation = {
        "calibration_end": cal_end.isoformat(),
        "holdout_end": last_day.isoformat(),
        "transactions_model": _describe(name, model, cfg, cal_end, len(cal)),
        "spend_model": _describe("Gamma-Gamma", spend, cfg, cal_end, spend.n_customers_),
        "holdout_purchases": holdout_accuracy(actual, predicted),
        "churn_auc": churn_auc(p_alive, actual),
        "by_calibration_frequency": table.reset_index().to_dict(orient="records"),
    }
    return evaluation, tracking, table
