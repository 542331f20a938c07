"""Each customer's campaign outcomes, aggregated in the engine from cleaned transactions.

The campaign window is ``[start, end)``; the pre-period is equally long and ends at ``start``.
Per customer with a kept line in either: ``revenue`` (net line amounts in the window, returns
subtracted), ``converted`` (any purchase line in the window) and ``pre_revenue`` (net line
amounts in the pre-period), summed as decimals (6 places) so that reruns give the same bits.
Only these per-customer sums reach pandas.
"""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from .. import schema as S
from ..cleaning.rules import IS_RETURN, LINE_AMOUNT
from ..engine import Engine

OUTCOMES = (S.CUSTOMER_ID, "revenue", "converted", "pre_revenue")


def pre_period_start(start: dt.date, end: dt.date) -> dt.date:
    return start - (end - start)


def outcomes(engine: Engine, kept: ibis.Table, start: dt.date, end: dt.date) -> pd.DataFrame:
    """``customer_id, revenue, converted, pre_revenue`` for customers active in either period."""
    lo = ibis.literal(dt.datetime.combine(pre_period_start(start, end), dt.time()), "timestamp")
    mid = ibis.literal(dt.datetime.combine(start, dt.time()), "timestamp")
    hi = ibis.literal(dt.datetime.combine(end, dt.time()), "timestamp")
    ts = kept[S.TIMESTAMP]
    rows = kept.filter((ts >= lo) & (ts < hi))
    in_window = rows[S.TIMESTAMP] >= mid
    # Exact decimal sums: a float sum's order (parallel threads) would move the last digits.
    amount = rows[LINE_AMOUNT].cast("decimal(38, 6)")
    zero = ibis.literal(0, "decimal(38, 6)")
    grouped = rows.group_by(rows[S.CUSTOMER_ID].cast("string").name(S.CUSTOMER_ID)).aggregate(
        revenue=ibis.ifelse(in_window, amount, zero).sum().cast("float64"),
        converted=(in_window & ~rows[IS_RETURN]).cast("int64").sum() > 0,
        pre_revenue=ibis.ifelse(in_window, zero, amount).sum().cast("float64"),
    )
    frame = engine.fetch(grouped.order_by(S.CUSTOMER_ID))
    return frame.astype({S.CUSTOMER_ID: "string", "converted": bool})[list(OUTCOMES)]
