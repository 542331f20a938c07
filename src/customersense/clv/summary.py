"""Per-customer inputs of the CLV models, computed from raw transactions in the engine.

All transaction-level work is an Ibis expression run by the backend; only one row per
customer (or per day, for the tracking inputs) comes back to pandas.

Which purchases count
---------------------
- A *purchase* is a row with ``is_return == False``. Return lines are ignored here (they
  are neither transactions nor negative spend for the models).
- Purchases are counted in **distinct purchase days**: several purchases by one customer on
  one day are one transaction, whose value is the sum of that day's purchase ``line_amount``.
- The *calibration period* holds the purchase days ``<= calibration_end``; the *holdout
  period* holds the days in ``(calibration_end, holdout_end]``.
- Only customers whose first purchase day is ``<= calibration_end`` are summarised.

These are the definitions of Fader, Hardie & Lee (2005) for the CDNOW data: frequency is the
number of repeat purchase days, recency and ``T`` are measured from the first purchase day,
and the spend of the first purchase day is left out of ``monetary_value``.
"""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from ..errors import DataError

TIME_UNITS = {"days": 1.0, "weeks": 7.0}
PURCHASES_COUNTED = (
    "purchases = rows with is_return == False, counted in distinct purchase days "
    "(a day's value = sum of its purchase line_amount); returns ignored"
)
REQUIRED = ("customer_id", "purchase_date", "line_amount", "is_return")


def _days_per_unit(time_unit: str) -> float:
    if time_unit not in TIME_UNITS:
        raise DataError(f"time_unit={time_unit!r}: use one of {', '.join(TIME_UNITS)}")
    return TIME_UNITS[time_unit]


def _purchase_days(clean: ibis.Table) -> ibis.Table:
    """One row per (customer, purchase day) with the day's purchase value."""
    missing = [c for c in REQUIRED if c not in clean.columns]
    if missing:
        raise DataError(f"cleaned transactions lack column(s) {', '.join(missing)}: pass the output of cleaning.clean")
    purchases = clean.filter(~clean.is_return)
    return purchases.group_by(["customer_id", "purchase_date"]).aggregate(
        day_value=purchases.line_amount.sum()
    )


def _first_days(days: ibis.Table, calibration_end: dt.date) -> ibis.Table:
    """First purchase day of each customer whose first purchase is on or before calibration_end."""
    first = days.group_by("customer_id").aggregate(first_day=days.purchase_date.min())
    return first.filter(first.first_day <= ibis.literal(calibration_end))


def rfm_summary(
    clean: ibis.Table,
    calibration_end: dt.date,
    *,
    time_unit: str = "weeks",
    holdout_end: dt.date | None = None,
) -> pd.DataFrame:
    """Frequency / recency / T / monetary value per customer, for BG/NBD, Pareto/NBD and Gamma-Gamma.

    Parameters
    ----------
    clean : ibis.Table
        Cleaned transactions with at least ``customer_id`` (string), ``purchase_date``
        (date), ``line_amount`` (float, negative for returns) and ``is_return`` (bool).
    calibration_end : datetime.date
        Last day of the calibration period (inclusive).
    time_unit : {"weeks", "days"}
        Unit of ``recency``, ``T`` and ``holdout_duration`` (weeks = days / 7).
    holdout_end : datetime.date, optional
        Last day of the holdout period (inclusive); adds ``holdout_frequency`` and
        ``holdout_duration``.

    Returns
    -------
    pandas.DataFrame
        Sorted by ``customer_id``, one row per customer whose first purchase day is on or
        before ``calibration_end``, with columns:

        - ``frequency``: distinct purchase days in calibration minus 1 (repeat purchases);
        - ``recency``: last minus first purchase day in calibration;
        - ``T``: ``calibration_end`` minus the first purchase day;
        - ``monetary_value``: mean value of the repeat purchase days in calibration, the
          first purchase day excluded (0 when ``frequency == 0``);
        - ``holdout_frequency``: distinct purchase days in ``(calibration_end, holdout_end]``;
        - ``holdout_duration``: ``holdout_end - calibration_end``.

        ``DataFrame.attrs`` records which purchases count, the unit and the dates.
    """
    per = _days_per_unit(time_unit)
    if holdout_end is not None and holdout_end <= calibration_end:
        raise DataError(f"holdout_end {holdout_end} must be after calibration_end {calibration_end}")
    days = _purchase_days(clean)
    first = _first_days(days, calibration_end)
    cal = days.filter(days.purchase_date <= ibis.literal(calibration_end))
    cal = cal.join(first, "customer_id")
    is_repeat = cal.purchase_date > cal.first_day
    stats = cal.group_by("customer_id").aggregate(
        n_days=cal.count(),
        first_day=cal.first_day.min(),
        last_day=cal.purchase_date.max(),
        repeat_value=is_repeat.ifelse(cal.day_value, 0.0).sum(),
    )
    frequency = stats.n_days - 1
    out = stats.select(
        "customer_id",
        frequency=frequency,
        recency=stats.last_day.delta(stats.first_day, unit="day").cast("float64") / per,
        T=ibis.literal(calibration_end).delta(stats.first_day, unit="day").cast("float64") / per,
        monetary_value=(frequency > 0).ifelse(stats.repeat_value / frequency.cast("float64"), 0.0),
    )
    if holdout_end is not None:
        hold = days.filter(
            (days.purchase_date > ibis.literal(calibration_end))
            & (days.purchase_date <= ibis.literal(holdout_end))
        )
        hold_n = hold.group_by("customer_id").aggregate(holdout_frequency=hold.count())
        out = out.left_join(hold_n, "customer_id").select(
            out.columns,
            holdout_frequency=hold_n.holdout_frequency.fill_null(0),
        )
    df = out.order_by("customer_id").to_pandas()
    if df.empty:
        raise DataError(f"no customer made a purchase on or before calibration_end {calibration_end}")
    df["frequency"] = df["frequency"].astype("int64")
    if holdout_end is not None:
        df["holdout_frequency"] = df["holdout_frequency"].astype("int64")
        df["holdout_duration"] = (holdout_end - calibration_end).days / per
    df = df.reset_index(drop=True)
    df.attrs.update(
        purchases_counted=PURCHASES_COUNTED,
        monetary_value="mean value of repeat purchase days, first purchase day excluded",
        time_unit=time_unit,
        calibration_end=calibration_end.isoformat(),
        holdout_end=None if holdout_end is None else holdout_end.isoformat(),
    )
    return df


def tracking_inputs(
    clean: ibis.Table, calibration_end: dt.date, end: dt.date
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Daily inputs of the tracking plot, aggregated in the engine.

    For the customers whose first purchase day is on or before ``calibration_end``:

    - ``cohorts``: columns ``first_purchase_date``, ``customers`` (number of customers whose
      first purchase was that day);
    - ``repeats``: columns ``purchase_date``, ``repeat_purchases`` (number of repeat purchase
      days, i.e. distinct purchase days other than the customer's first, on that date, up to
      ``end`` inclusive).

    Both are sorted by date; see :func:`customersense.clv.evaluation.tracking_data`.
    """
    days = _purchase_days(clean)
    first = _first_days(days, calibration_end)
    cohorts = first.group_by(first_purchase_date=first.first_day).aggregate(customers=first.count())
    joined = days.join(first, "customer_id")
    rep = joined.filter(
        (joined.purchase_date > joined.first_day) & (joined.purchase_date <= ibis.literal(end))
    )
    repeats = rep.group_by("purchase_date").aggregate(repeat_purchases=rep.count())
    cohorts_df = cohorts.order_by("first_purchase_date").to_pandas()
    repeats_df = repeats.order_by("purchase_date").to_pandas()
    for df, col in ((cohorts_df, "first_purchase_date"), (repeats_df, "purchase_date")):
        df[col] = pd.to_datetime(df[col]).dt.date
    return cohorts_df, repeats_df
