"""Each customer's campaign outcomes, aggregated in the engine from cleaned transactions.

The campaign window is ``[start, end)``; the pre-period is equally long and ends at ``start``.
Per customer with a kept line in either: ``revenue`` (net line amounts in the window, returns
subtracted), ``converted`` (any purchase line in the window) and ``pre_revenue`` (net line
amounts in the pre-period). Only these per-customer sums reach pandas.
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
    amount = rows[LINE_AMOUNT].cast("float64")
    grouped = rows.group_by(rows[S.CUSTOMER_ID].cast("string").name(S.CUSTOMER_ID)).aggregate(
        revenue=ibis.ifelse(in_window, amount, 0.0).sum(),
        converted=(in_window & ~rows[IS_RETURN]).cast("int64").sum() > 0,
        pre_revenue=ibis.ifelse(in_window, 0.0, amount).sum(),
    )
    frame = engine.fetch(grouped.order_by(S.CUSTOMER_ID))
    return frame.astype({S.CUSTOMER_ID: "string", "converted": bool})[list(OUTCOMES)]
