"""What a plausible row is: dates between a floor and the run's own day, finite amounts of a
sane size, and whether a zero-value row is a purchase. The rules are counted in the cleaning
report (``implausible_date``, ``implausible_amount``, ``zero_value``) with a few example rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import ibis

from .. import schema as S
from ..config import CleaningPolicy

EXAMPLE_RULES = ("implausible_date", "implausible_amount")  # the report shows a few of their rows
_NUMBERS = (S.AMOUNT, S.QUANTITY, S.UNIT_PRICE)
_ROW_STRIDE = 2**40  # engine/duckdb.py FILE_STRIDE: a Parquet row id is file index x this + row


@dataclass(frozen=True)
class PlausibleBounds:
    """Dates from ``floor`` (inclusive) to ``ceiling`` (the run's day, inclusive); numbers up to
    ``max_abs`` in size."""

    floor: dt.date
    ceiling: dt.date
    max_abs: float

    def implausible_date(self, t: ibis.Table) -> ibis.Value:
        ts = t[S.TIMESTAMP]
        low = ibis.literal(dt.datetime.combine(self.floor, dt.time()), "timestamp")
        high = ibis.literal(dt.datetime.combine(self.ceiling + dt.timedelta(days=1), dt.time()), "timestamp")
        return (ts < low) | (ts >= high)

    def implausible_amount(self, t: ibis.Table) -> ibis.Value:
        out = ibis.literal(False)
        for name in _NUMBERS:
            if name in t.columns:
                x = t[name]
                out |= (x.isnan() | x.isinf() | (x.abs() > self.max_abs)).fill_null(False)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"date_floor": self.floor.isoformat(), "date_ceiling": self.ceiling.isoformat(),
                "date_ceiling_is": "the run's own day (UTC)", "max_abs_amount": self.max_abs}


def plausible_bounds(policy: CleaningPolicy, today: dt.date | None = None) -> PlausibleBounds:
    today = today or dt.datetime.now(dt.timezone.utc).date()
    return PlausibleBounds(floor=policy.date_floor, ceiling=today, max_abs=policy.max_abs_amount)


def drops_zero_value(policy: CleaningPolicy, has_unit_price: bool) -> bool:
    """Whether rows worth zero are dropped. ``auto``: where the data has unit prices a zero price
    marks a free or bookkeeping line (dropped, with ``drop_non_positive_price``); where it has only
    amounts, a zero amount is a recorded transaction (a purchase: CDNOW's free CDs)."""
    if policy.zero_value == "auto":
        return has_unit_price and policy.drop_non_positive_price
    return policy.zero_value == "drop"


def zero_value_policy(policy: CleaningPolicy, has_unit_price: bool, kept: int) -> dict[str, Any]:
    """What the report says about zero-value rows: the setting, what it meant here and why, and
    how many zero-value purchase lines were kept."""
    drop = drops_zero_value(policy, has_unit_price)
    if policy.zero_value != "auto":
        why = f"cleaning.zero_value = {policy.zero_value!r}"
    elif has_unit_price:
        why = ("auto: the data has unit prices, where a zero price marks a free or bookkeeping line"
               if drop else "auto: drop_non_positive_price = false keeps free lines")
    else:
        why = "auto: the data has amounts only, where a zero amount is a recorded purchase"
    return {"setting": policy.zero_value, "rows_worth_zero": "dropped" if drop else "purchases", "why": why,
            "kept_as_purchases": kept}


def examples(rows: ibis.Table, dropped: dict[str, int], limit: int = 3) -> dict[str, list[str]]:
    """A few rows of each rule that dropped any of :data:`EXAMPLE_RULES`, in input order."""
    out: dict[str, list[str]] = {}
    for rule in EXAMPLE_RULES:
        if not dropped.get(rule):
            continue
        hit = rows.filter(rows._reason == rule)
        order = [S.ROW_ID] if S.ROW_ID in rows.columns else [S.TIMESTAMP, S.CUSTOMER_ID]
        cols = [c for c in (S.ROW_ID, S.CUSTOMER_ID, S.TIMESTAMP, *_NUMBERS) if c in rows.columns]
        found = hit.order_by(order).select(*cols).limit(limit).to_pyarrow().to_pylist()
        out[rule] = [_example(r) for r in found]
    return out


def _example(r: dict[str, Any]) -> str:
    parts = [] if r.get(S.ROW_ID) is None else [f"row {r[S.ROW_ID] % _ROW_STRIDE + 1}"]
    parts.append(f"customer {r[S.CUSTOMER_ID]}")
    if r[S.TIMESTAMP] is not None:
        parts.append(r[S.TIMESTAMP].isoformat(sep=" "))
    parts += [f"{name} {r[name]!r}" for name in _NUMBERS if name in r and r[name] is not None]
    return ", ".join(parts)
