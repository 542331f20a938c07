"""Segment migration between snapshots scored by one frozen model.

A *snapshot* is the customer table as of a date (features from the purchases before it, the run's
``as_of`` rule), scored by one saved model (:class:`~customersense.scoring.ScoringModel`): frozen
RFM edges and map, frozen centres and names. Consecutive snapshots ``a < b`` define the period
``[a, b)``.

Definitions (every count reconciles; tested):

- **Customers of a snapshot**: everyone with a purchase before its date. Features are cumulative,
  so a customer of ``a`` is a customer of ``b``.
- **Transition matrix** of ``(a, b)``: for every customer of ``b``, one cell (segment at ``a``,
  segment at ``b``); customers whose first purchase falls in ``[a, b)`` come from the row
  ``(new)``. The cells add up to the customers of ``b``. Its *revenue* is the customers' net
  revenue (purchases minus returns) in ``[a, b)``.
- **Lifecycle** of the period ``[a, b)`` (active = at least one purchase in the period):
  ``new`` (first purchase in it), ``retained`` (active in it and in the period before),
  ``reactivated`` (active in it, not in the period before, a customer before that), ``lost``
  (active in the period before, not in it). So ``active = new + retained + reactivated`` and
  ``active before = retained + lost``. The first period has no period before it: its
  ``retained``, ``reactivated`` and ``lost`` are empty.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from .. import schema as S
from ..cleaning import IS_RETURN, LINE_AMOUNT
from ..engine.base import Engine, fetch
from ..features import customer_frame

NEW = "(new)"
EVERY = {"month": 1, "quarter": 3}
SEGMENTATIONS = {"learned": "segment", "rfm": "rfm_segment"}


def snapshot_dates(first: dt.date, end: dt.date, every: str, start: dt.date | None = None,
                   stop: dt.date | None = None) -> list[dt.date]:
    """Period starts (the 1st of a month; quarters: January, April, July, October) after the first
    purchase day ``first`` and on or before ``end`` (the day after the last transaction), limited
    to ``[start, stop]`` when given."""
    step = EVERY[every]
    month = ((first.month - 1) // step) * step + 1
    day = dt.date(first.year, month, 1)
    dates = []
    while day <= end:
        if day > first and (start is None or day >= start) and (stop is None or day <= stop):
            dates.append(day)
        day = _add_months(day, step)
    return dates


def _add_months(day: dt.date, months: int) -> dt.date:
    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def snapshot_features(kept: ibis.Table, as_of: dt.date, engine: Engine | None = None) -> pd.DataFrame:
    """The customer table as of ``as_of`` from cleaned rows (the rows before it)."""
    before = kept.filter(kept[S.TIMESTAMP] < ibis.literal(dt.datetime.combine(as_of, dt.time()), "timestamp"))
    return customer_frame(before, as_of, engine=engine).astype({S.CUSTOMER_ID: "string"})


def period_activity(kept: ibis.Table, dates: list[dt.date], engine: Engine | None = None) -> pd.DataFrame:
    """Per customer and period ``[dates[i-1], dates[i])`` (``period`` = i, 1-based; period 0 is
    everything before ``dates[0]``): ``purchases`` (purchase lines) and ``revenue`` (net line
    amounts), one engine query."""
    ts = kept[S.TIMESTAMP]
    period = ibis.literal(0)
    for i, day in enumerate(dates):
        period = ibis.ifelse(ts >= ibis.literal(dt.datetime.combine(day, dt.time()), "timestamp"), i + 1, period)
    t = kept.filter(ts < ibis.literal(dt.datetime.combine(dates[-1], dt.time()), "timestamp")).mutate(_period=period)
    grouped = t.group_by([S.CUSTOMER_ID, "_period"]).aggregate(
        purchases=t.count(where=~t[IS_RETURN]),
        revenue=t[LINE_AMOUNT].sum().cast("float64"),
    ).rename(period="_period")
    frame = fetch(grouped.order_by([S.CUSTOMER_ID, "period"]), engine)
    return frame.astype({S.CUSTOMER_ID: "string", "period": "int64", "purchases": "int64"})


@dataclass(frozen=True)
class Migration:
    dates: list[dt.date]
    snapshots: list[pd.DataFrame]  # per date: as_of, customer_id, segment, rfm_segment, ..., period_revenue, active
    transitions: pd.DataFrame      # from_as_of, to_as_of, segmentation, from_segment, to_segment, customers, revenue
    sizes: pd.DataFrame            # as_of, segmentation, segment, customers, share, period_revenue
    lifecycle: pd.DataFrame        # period_start, period_end, active, new, retained, reactivated, lost (+ revenue)

    @property
    def customers_per_snapshot(self) -> dict[dt.date, int]:
        return {d: len(s) for d, s in zip(self.dates, self.snapshots)}


def migration_tables(snapshots: dict[dt.date, pd.DataFrame], activity: pd.DataFrame,
                     orders: dict[str, list[str]]) -> Migration:
    """The tables of the module doc from scored snapshots (by date) and :func:`period_activity`.
    ``orders``: per segmentation ("learned", "rfm") its segment names in display order.

    Vectorised: customers and segments become integer codes (one Arrow dictionary encoding of
    every snapshot's customer ids), each snapshot a row of a dense (snapshots x customers) array, and every count or sum a ``bincount`` (added
    in index order, so the sums are the same on every run)."""
    dates = sorted(snapshots)
    # one dictionary for every customer id (the snapshots', then the activity's): integer codes
    chunks = [_text(snapshots[d][S.CUSTOMER_ID]) for d in dates] + [_text(activity[S.CUSTOMER_ID])]
    encoded = pa.concat_arrays(chunks).dictionary_encode()  # one array: empty snapshots keep their place
    ids = encoded.dictionary
    codes = np.split(encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64),
                     np.cumsum([len(c) for c in chunks])[:-1])
    where = codes.pop()
    shape = (len(dates), len(ids))
    present = np.zeros(shape, dtype=bool)
    for i, code in enumerate(codes):
        present[i, code] = True
    # period i ends at snapshot i: [dates[i-1], dates[i]); period 0 is everything before dates[0]
    revenue, active = np.zeros(shape), np.zeros(shape, dtype=bool)
    keep = activity["period"].to_numpy() < len(dates)
    act, where = activity[keep], where[keep]
    revenue[act["period"].to_numpy(), where] = act["revenue"].to_numpy(np.float64)
    active[act["period"].to_numpy(), where] = act["purchases"].to_numpy() > 0
    tables = []
    for i, (day, code) in enumerate(zip(dates, codes)):
        snap = snapshots[day]
        tables.append(pd.concat([pd.DataFrame({"as_of": np.full(len(snap), day, dtype=object)}, index=snap.index), snap,
                                 pd.DataFrame({"period_revenue": revenue[i, code], "active": active[i, code]},
                                              index=snap.index)], axis=1))
    transitions, sizes = [], []
    for kind, col in SEGMENTATIONS.items():
        if col not in snapshots[dates[-1]].columns:
            continue
        encoded = {d: _encoded(snapshots[d][col]) for d in dates}
        seen = {name for _, labels in encoded.values() for name in labels}
        names = list(dict.fromkeys([*orders.get(kind, []), *sorted(seen)]))
        position = {name: j for j, name in enumerate(names)}
        seg = np.full(shape, -1, dtype=np.int64)
        for i, (day, code) in enumerate(zip(dates, codes)):
            indices, labels = encoded[day]
            seg[i, code] = np.asarray([position[name] for name in labels], dtype=np.int64)[indices]
        transitions.append(_transitions(kind, names, seg, revenue, present, dates))
        sizes.append(_sizes(kind, names, seg, revenue, present, dates))
    return Migration(
        dates=dates,
        snapshots=tables,
        transitions=pd.concat(transitions, ignore_index=True),
        sizes=pd.concat(sizes, ignore_index=True),
        lifecycle=_lifecycle(present, active, revenue, dates),
    )


def _encoded(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes of a text column and the label of each code (Arrow's dictionary encoding)."""
    encoded = _text(values).dictionary_encode()
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary.to_pylist()


def _text(values: pd.Series) -> pa.Array:
    """One contiguous Arrow array (a column fetched in batches, or a slice of one, is chunked)."""
    text = pa.array(values.astype("string[pyarrow]"))
    return (text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text).cast(pa.large_string())


def _transitions(kind: str, names: list[str], seg: np.ndarray, revenue: np.ndarray, present: np.ndarray,
                 dates: list[dt.date]) -> pd.DataFrame:
    """Every customer of the later snapshot in one cell; (new) is row 0, segment j is row j + 1."""
    rows, k = [], len(names)
    labels = np.asarray([NEW, *names], dtype=object)
    for i in range(1, len(dates)):
        members = np.flatnonzero(present[i])
        cell = (seg[i - 1, members] + 1) * k + seg[i, members]  # seg = -1 before: row 0, (new)
        customers = np.bincount(cell, minlength=(k + 1) * k)
        money = np.bincount(cell, weights=revenue[i, members], minlength=(k + 1) * k)
        used = np.flatnonzero(customers)
        rows.append(pd.DataFrame({
            "from_as_of": dates[i - 1], "to_as_of": dates[i], "segmentation": kind,
            "from_segment": labels[used // k], "to_segment": labels[1 + used % k],
            "customers": customers[used], "revenue": money[used],
        }))
    columns = ["from_as_of", "to_as_of", "segmentation", "from_segment", "to_segment", "customers", "revenue"]
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)


def _sizes(kind: str, names: list[str], seg: np.ndarray, revenue: np.ndarray, present: np.ndarray,
           dates: list[dt.date]) -> pd.DataFrame:
    rows, k = [], len(names)
    for i, day in enumerate(dates):
        members = np.flatnonzero(present[i])
        customers = np.bincount(seg[i, members], minlength=k)
        money = np.bincount(seg[i, members], weights=revenue[i, members], minlength=k)
        used = np.flatnonzero(customers)
        rows.append(pd.DataFrame({"as_of": day, "segmentation": kind, "segment": np.asarray(names, dtype=object)[used],
                                  "customers": customers[used], "share": customers[used] / len(members),
                                  "period_revenue": money[used]}))
    return pd.concat(rows, ignore_index=True)


def _lifecycle(present: np.ndarray, active: np.ndarray, revenue: np.ndarray, dates: list[dt.date]) -> pd.DataFrame:
    rows = []
    for i, day in enumerate(dates):
        now = active[i] & present[i]
        seen = present[:i].any(axis=0) if i else np.zeros(present.shape[1], dtype=bool)
        new = present[i] & ~seen
        row = {"period_start": dates[i - 1] if i else None, "period_end": day, "customers": int(present[i].sum()),
               "active": int(now.sum()), "new": int(new.sum())}
        groups = {"new": new}
        if i == 0:
            row.update(retained=None, reactivated=None, lost=None)
        else:
            before = active[i - 1] & present[i - 1]
            retained, reactivated = now & before, now & ~before & ~new
            row.update(retained=int(retained.sum()), reactivated=int(reactivated.sum()), lost=int((before & ~now).sum()))
            groups.update(retained=retained, reactivated=reactivated)
        for name, mask in groups.items():
            row[f"revenue_{name}"] = float(revenue[i, mask].sum())
        rows.append(row)
    return pd.DataFrame(rows)
