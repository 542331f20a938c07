"""Holdout evaluation of the CLV transaction models: pure functions of arrays and small tables.

- :func:`predict_holdout` / :func:`holdout_accuracy`: predicted vs actual holdout purchases,
  in total and per customer (mean absolute error).
- :func:`tracking_data`: cumulative repeat purchases per week, actual vs the unconditional
  model E[X(t)] summed over the customers by the day of their first purchase.
- :func:`calibration_by_frequency`: mean holdout purchases, actual vs predicted, grouped by
  calibration frequency 0, 1, ..., ``max_frequency - 1`` and ``max_frequency+``.
- :func:`churn_auc`: how well P(alive) separates the customers who buy again in the holdout
  from those who do not (ROC AUC; target = purchased in the holdout, score = P(alive)).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ..errors import DataError
from .summary import TIME_UNITS


def predict_holdout(model, summary: pd.DataFrame, p_alive=None) -> np.ndarray:
    """Conditional expected purchases of each customer over its ``holdout_duration``
    (``p_alive``: the model's P(alive) of the customers when already computed)."""
    if "holdout_duration" not in summary.columns:
        raise DataError("summary has no holdout_duration: build it with rfm_summary(..., holdout_end=...)")
    return model.expected_purchases(
        summary["holdout_duration"].to_numpy(float),
        summary["frequency"], summary["recency"], summary["T"], p_alive=p_alive,
    )


def holdout_accuracy(actual, predicted) -> dict[str, float]:
    """Totals and per-customer errors of holdout purchase predictions.

    Returns ``customers``, ``actual_total``, ``predicted_total``, ``total_error_pct``
    (100 * (predicted - actual) / actual), ``mae`` (mean absolute error per customer) and
    ``rmse``.
    """
    a = np.asarray(actual, dtype=float).ravel()
    p = np.asarray(predicted, dtype=float).ravel()
    if a.size != p.size or a.size == 0:
        raise DataError(f"actual and predicted must be non-empty and of one length ({a.size}, {p.size})")
    err = p - a
    total = float(a.sum())
    return {
        "customers": int(a.size),
        "actual_total": total,
        "predicted_total": float(p.sum()),
        "total_error_pct": float(100 * err.sum() / total) if total else float("nan"),
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt((err**2).mean())),
    }


def tracking_data(
    model,
    cohorts: pd.DataFrame,
    repeats: pd.DataFrame,
    end: dt.date,
    *,
    start: dt.date | None = None,
    calibration_end: dt.date | None = None,
    time_unit: str = "weeks",
    period_days: int = 7,
) -> pd.DataFrame:
    """Cumulative repeat purchases per period, actual vs expected.

    Parameters
    ----------
    model
        A fitted transaction model with ``expected_purchases_population(t)``.
    cohorts, repeats
        From :func:`customersense.clv.summary.tracking_inputs`: customers per first purchase
        date, and repeat purchase days per date.
    end : datetime.date
        Last day tracked (inclusive).
    start : datetime.date, optional
        First day tracked; default the first cohort date.
    calibration_end : datetime.date, optional
        Recorded in ``attrs`` for the plot (the vertical line between the periods).
    time_unit : {"weeks", "days"}
        The unit the model was fitted in.
    period_days : int
        Length of a tracking period (7: weeks).

    Returns
    -------
    pandas.DataFrame
        One row per period with ``period`` (1, 2, ...), ``period_end`` (last day, inclusive),
        ``actual``, ``expected`` (repeat purchases in the period) and ``actual_cumulative``,
        ``expected_cumulative``. A purchase on day D counts at time D; a customer whose first
        purchase was on day d contributes ``E[X(D - d)]`` to the expected cumulative total
        up to day D.
    """
    if time_unit not in TIME_UNITS:
        raise DataError(f"time_unit={time_unit!r}: use one of {', '.join(TIME_UNITS)}")
    if cohorts.empty:
        raise DataError("tracking_data: no cohorts (no customers)")
    cdates = pd.to_datetime(cohorts["first_purchase_date"]).to_numpy("datetime64[D]")
    sizes = cohorts["customers"].to_numpy(float)
    start64 = np.datetime64(start, "D") if start is not None else cdates.min()
    end64 = np.datetime64(end, "D")
    n = int(np.ceil(((end64 - start64).astype(int) + 1) / period_days))
    if n < 1:
        raise DataError(f"tracking_data: end {end} is before start {start64}")
    ends = np.minimum(start64 + (np.arange(1, n + 1) * period_days - 1).astype("timedelta64[D]"), end64)
    # Expected: Σ_cohorts size * E[X(D - d)] for the cohorts born by D.
    ages = (ends[:, None] - cdates[None, :]).astype(float) / TIME_UNITS[time_unit]
    born = ages >= 0
    ex = np.zeros(ages.shape)
    ex[born] = model.expected_purchases_population(ages[born])
    expected_cum = ex @ sizes
    rdates = pd.to_datetime(repeats["purchase_date"]).to_numpy("datetime64[D]")
    rcounts = repeats["repeat_purchases"].to_numpy(float)
    order = np.argsort(rdates)
    rdates, csum = rdates[order], np.concatenate([[0.0], np.cumsum(rcounts[order])])
    before_start = csum[np.searchsorted(rdates, start64, side="left")]
    actual_cum = csum[np.searchsorted(rdates, ends, side="right")] - before_start
    out = pd.DataFrame({
        "period": np.arange(1, n + 1),
        "period_end": pd.to_datetime(ends).date,
        "actual": np.diff(actual_cum, prepend=0.0),
        "expected": np.diff(expected_cum, prepend=0.0),
        "actual_cumulative": actual_cum,
        "expected_cumulative": expected_cum,
    })
    out.attrs.update(
        calibration_end=None if calibration_end is None else calibration_end.isoformat(),
        period_days=period_days,
    )
    return out


def calibration_by_frequency(frequency, actual, predicted, max_frequency: int = 7) -> pd.DataFrame:
    """Mean holdout purchases, actual vs predicted, by calibration frequency.

    Groups ``0 .. max_frequency - 1`` and ``"<max_frequency>+"``; columns ``customers``,
    ``actual`` and ``predicted`` (group means); groups without customers are left out.
    """
    x = np.asarray(frequency, dtype=float).ravel()
    a = np.asarray(actual, dtype=float).ravel()
    p = np.asarray(predicted, dtype=float).ravel()
    if not (x.size == a.size == p.size) or x.size == 0:
        raise DataError("frequency, actual and predicted must be non-empty and of one length")
    group = np.minimum(x, max_frequency).astype(int)
    labels = [str(i) for i in range(max_frequency)] + [f"{max_frequency}+"]
    df = pd.DataFrame({"group": group, "actual": a, "predicted": p})
    out = df.groupby("group").agg(
        customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean")
    )
    out.index = pd.Index([labels[i] for i in out.index], name="calibration_frequency")
    return out


def churn_auc(p_alive, holdout_frequency) -> float:
    """ROC AUC of P(alive) for "purchased again in the holdout" (1 - AUC ranks churners)."""
    from sklearn.metrics import roc_auc_score

    score = np.asarray(p_alive, dtype=float).ravel()
    target = (np.asarray(holdout_frequency, dtype=float).ravel() > 0).astype(int)
    if score.size != target.size:
        raise DataError(f"p_alive and holdout_frequency differ in length ({score.size}, {target.size})")
    if target.min() == target.max():
        raise DataError("churn_auc needs customers with and without holdout purchases")
    return float(roc_auc_score(target, score))
