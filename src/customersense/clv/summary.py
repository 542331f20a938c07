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
from collections.abc import Sequence

import ibis
import numpy as np
import pandas as pd

from ..engine.base import Engine, fetch_columns, sample_bucket
from ..errors import DataError

TIME_UNITS = {"days": 1.0, "weeks": 7.0}
PURCHASES_COUNTED = (
    "purchases = rows with is_return == False, counted in distinct purchase days "
    "(a day's value = sum of its purchase line_amount); returns ignored"
)
REQUIRED = ("customer_id", "purchase_date", "line_amount", "is_return")
MONEY = "decimal(38, 6)"


def _days_per_unit(time_unit: str) -> float:
    if time_unit not in TIME_UNITS:
        raise DataError(f"time_unit={time_unit!r}: use one of {', '.join(TIME_UNITS)}")
    return TIME_UNITS[time_unit]


def purchase_days(clean: ibis.Table) -> ibis.Table:
    """One row per (customer, purchase day) with the day's purchase value (``day_value``) and
    the customer's first purchase day (``first_day``).

    Every summary and tracking input derives from this table: the CLV stage materialises it
    once (``Engine.materialize``) and passes it to :func:`customer_periods`
    and :func:`repeat_counts`.
    """
    missing = [c for c in REQUIRED if c not in clean.columns]
    if missing:
        raise DataError(f"cleaned transactions lack column(s) {', '.join(missing)}: pass the output of cleaning.clean")
    purchases = clean.filter(~clean.is_return)
    # Money is added as decimals (each line rounded to 1e-6 first): float sums depend on the
    # order the engine's threads add rows in, decimal sums do not, so runs are repeatable.
    days = purchases.group_by(["customer_id", "purchase_date"]).aggregate(
        day_value=purchases.line_amount.cast(MONEY).sum()
    )
    first = days.group_by("customer_id").aggregate(first_day=days.purchase_date.min())
    return days.join(first, "customer_id")


def customer_periods(
    days: ibis.Table, cuts: Sequence[dt.date], holdout: tuple[dt.date, dt.date] | None = None,
    engine: Engine | None = None, windows: Sequence[tuple[dt.date, dt.date]] = (), bucket_seed: int | None = None,
) -> pd.DataFrame:
    """Per-customer counts for several period ends at once: one query on ``days`` (from
    :func:`purchase_days`).

    One row per customer whose first purchase day is on or before ``max(cuts)``, sorted by
    ``customer_id``, with ``first_day`` and, for each ``cuts[k]``: ``n_k`` (purchase days on
    or before the cut; 0 when the first purchase is later), ``recency_k`` (the last of them
    minus the first purchase day, in days), ``T_k`` (the cut minus the first purchase day)
    and ``repeat_value_k`` (value of those days, the first excluded). With ``holdout =
    (start, end)`` also ``holdout_n``: the purchase days in ``(start, end]``; for each
    ``windows[j] = (start, end)``: ``w{j}_n`` and ``w{j}_value``, the purchase days in ``(start, end]``
    and their value. With ``bucket_seed``, ``sample_bucket``: the customer's hash bucket for that
    seed (:func:`customersense.engine.base.sample_bucket`, int64).
    """
    j = days.filter(days.first_day <= ibis.literal(max(cuts)))
    date = j.purchase_date
    aggs: dict[str, ibis.Value] = {"first_day": j.first_day.min()}
    for k, cut in enumerate(cuts):
        upto = date <= ibis.literal(cut)
        aggs[f"n_{k}"] = j.count(where=upto)
        aggs[f"last_{k}"] = date.max(where=upto)
        aggs[f"repeat_value_{k}"] = j.day_value.sum(where=upto & (date > j.first_day)).cast("float64")
    if holdout is not None:
        aggs["holdout_n"] = j.count(where=(date > ibis.literal(holdout[0])) & (date <= ibis.literal(holdout[1])))
    for w, (start, end) in enumerate(windows):
        inside = (date > ibis.literal(start)) & (date <= ibis.literal(end))
        aggs[f"w{w}_n"] = j.count(where=inside)
        aggs[f"w{w}_value"] = j.day_value.sum(where=inside).cast("float64")
    stats = j.group_by("customer_id").aggregate(**aggs)
    derived = {}
    for k, cut in enumerate(cuts):
        derived[f"recency_{k}"] = stats[f"last_{k}"].delta(stats.first_day, unit="day")
        derived[f"T_{k}"] = ibis.literal(cut).delta(stats.first_day, unit="day")
        derived[f"repeat_value_{k}"] = stats[f"repeat_value_{k}"].fill_null(0.0)
    for w in range(len(windows)):
        derived[f"w{w}_value"] = stats[f"w{w}_value"].fill_null(0.0)
    if bucket_seed is not None:
        derived["sample_bucket"] = sample_bucket(stats.customer_id, bucket_seed).cast("int64")
    stats = stats.mutate(**derived).drop(*[f"last_{k}" for k in range(len(cuts))])
    df = fetch_columns(stats.order_by("customer_id"), engine)
    df["first_day"] = pd.to_datetime(df["first_day"]).dt.date
    return df


def summary_frame(
    periods: pd.DataFrame, k: int, cut: dt.date, *, time_unit: str = "weeks", holdout_end: dt.date | None = None
) -> pd.DataFrame:
    """The :func:`rfm_summary` of period end ``cuts[k]`` from :func:`customer_periods` rows
    (``holdout_end`` needs ``holdout_n`` counted from ``cut``)."""
    per = _days_per_unit(time_unit)
    keep = periods[f"n_{k}"].to_numpy() > 0
    if not keep.any():
        raise DataError(f"no customer made a purchase on or before calibration_end {cut}")
    every = bool(keep.all())

    def rows(name: str, dtype=None) -> np.ndarray:  # the column's values of the kept rows (no frame copy)
        values = periods[name].to_numpy(dtype)
        return values if every else values[keep]

    frequency = rows(f"n_{k}").astype("int64") - 1
    repeat_value = rows(f"repeat_value_{k}", float)
    with np.errstate(divide="ignore", invalid="ignore"):
        monetary = np.where(frequency > 0, repeat_value / frequency.astype(float), 0.0)
    df = pd.DataFrame({
        "customer_id": rows("customer_id"),
        "frequency": frequency,
        "recency": rows(f"recency_{k}", float) / per,
        "T": rows(f"T_{k}", float) / per,
        "monetary_value": monetary,
    })
    if holdout_end is not None:
        df["holdout_frequency"] = rows("holdout_n").astype("int64")
        df["holdout_duration"] = (holdout_end - cut).days / per
    df.attrs.update(
        purchases_counted=PURCHASES_COUNTED,
        monetary_value="mean value of repeat purchase days, first purchase day excluded",
        time_unit=time_unit,
        calibration_end=cut.isoformat(),
        holdout_end=None if holdout_end is None else holdout_end.isoformat(),
    )
    return df


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
    _days_per_unit(time_unit)
    if holdout_end is not None and holdout_end <= calibration_end:
        raise DataError(f"holdout_end {holdout_end} must be after calibration_end {calibration_end}")
    holdout = None if holdout_end is None else (calibration_end, holdout_end)
    periods = customer_periods(purchase_days(clean), [calibration_end], holdout)
    return summary_frame(periods, 0, calibration_end, time_unit=time_unit, holdout_end=holdout_end)


def repeat_counts(days: ibis.Table, cuts: Sequence[dt.date], end: dt.date) -> pd.DataFrame:
    """Repeat purchase days per date up to ``end``: one query on ``days``.

    Column ``repeats_k`` counts, on each ``purchase_date``, the purchase days other than the
    customer's first of the customers whose first purchase day is on or before ``cuts[k]``.
    """
    rep = days.filter(
        (days.first_day <= ibis.literal(max(cuts)))
        & (days.purchase_date > days.first_day)
        & (days.purchase_date <= ibis.literal(end))
    )
    counts = {f"repeats_{k}": rep.count(where=rep.first_day <= ibis.literal(cut)) for k, cut in enumerate(cuts)}
    df = rep.group_by("purchase_date").aggregate(**counts).order_by("purchase_date").to_pandas()
    df["purchase_date"] = pd.to_datetime(df["purchase_date"]).dt.date
    return df


def tracking_frames(
    periods: pd.DataFrame, repeats: pd.DataFrame, k: int, cut: dt.date
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`tracking_inputs` of ``cuts[k]`` from :func:`customer_periods` and :func:`repeat_counts`."""
    first = periods.loc[periods["first_day"] <= cut, "first_day"]
    cohorts = first.groupby(first.to_numpy(), sort=True).size()
    cohorts_df = pd.DataFrame({"first_purchase_date": cohorts.index.to_numpy(), "customers": cohorts.to_numpy("int64")})
    counts = repeats[f"repeats_{k}"].to_numpy().astype("int64")
    repeats_df = pd.DataFrame(
        {"purchase_date": repeats["purchase_date"].to_numpy()[counts > 0], "repeat_purchases": counts[counts > 0]}
    )
    return cohorts_df, repeats_df


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
    days = purchase_days(clean)
    periods = customer_periods(days, [calibration_end])
    return tracking_frames(periods, repeat_counts(days, [calibration_end], end), 0, calibration_end)
