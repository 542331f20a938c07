"""The customer features of many snapshots at once: the same numbers as the run's feature query
(:func:`~customersense.features.customer_frame` on the rows before each date; tested column by
column), at a fraction of the work of one query per snapshot.

Why it is exact: a snapshot's rows are the cleaned lines with ``purchase_date < as_of`` (the
same rows as ``timestamp < as_of 00:00``), so

1. the lines are first summed per (customer, return or not, order, day): *pieces*, once;
2. an order is in a snapshot when its first day is before it, and its day (the run's
   ``order_day``, the first day of its lines before the date) is then that first day, whatever
   the date: frequency, first and last purchase day and the distinct purchase days of every
   snapshot come from one table of orders (customer, order, first day, last day, value);
3. an order's value in a snapshot is its whole value when its last day is before the date, else
   (an order whose lines span midnight before the date) the sum of its pieces before the date;
4. each snapshot's per-customer aggregates of those orders, returns likewise per customer and
   day; then the run's own derivation (:func:`~customersense.features.customer.derived_features`)
   with the snapshot's date.

Two ways to do step 4, chosen by engine:

- DuckDB: the engine sums the orders once (about 3M for 1M customers), fetched as numpy arrays
  sorted by (customer, first day), with the pieces of the orders that span midnight and the
  returns per (customer, day); one compiled pass (:mod:`._snapshot_kernel`) walks each customer's
  orders once for all dates (a snapshot's orders are a prefix of them) and writes the feature
  columns with the derivation's own floating-point operations. No (snapshot, order) table.
- Other engines (Spark): one portable Ibis query (a cross join with a small table of dates, a
  window ``row_number`` for the first order of each day, one aggregation over every (snapshot,
  order) pair), fetched once, ordered by (snapshot, customer), and split per snapshot.

Customers travel as numbers (0, 1, ... in the order of their ids), their ids joined at the end.
The engagement score (percent ranks among the snapshot's customers) is computed per snapshot in
numpy, as the run's feature query does.
"""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from .. import schema as S
from ..cleaning import IS_RETURN, LINE_AMOUNT, ORDER_KEY, PURCHASE_DATE
from ..engine.base import Engine, fetch
from ..features import FEATURE_COLUMNS, engagement_scores
from ..features.customer import derived_features, order_aggregates

_SNAP = "_snapshot"
_ASOF = "_as_of"
_CODE = "_customer"  # customers by number: 0, 1, ... in the order of their ids


def snapshots_features(kept: ibis.Table, dates: list[dt.date], engine: Engine | None = None,
                       engagement: bool = True) -> dict[dt.date, pd.DataFrame]:
    """Per date (sorted), the customer table as of it from the cleaned rows ``kept``: equal to
    :func:`~customersense.evolution.migration.snapshot_features` of each date. Without
    ``engagement`` the ``engagement_score`` column is left out (a frozen model scores its own)."""
    dates = sorted(set(dates))
    if not dates:
        return {}
    if engine is not None and engine.name == "duckdb":
        parts, customers = _compiled(kept, dates, engine)
    else:  # the portable query (Spark)
        query, customers = _query(kept, dates, engine)
        frame = fetch(query, engine)
        bounds = np.searchsorted(frame.pop(_SNAP).to_numpy(), np.arange(len(dates) + 1), side="left")
        parts = [frame.iloc[bounds[i]:bounds[i + 1]].reset_index(drop=True) for i in range(len(dates))]
        del frame
    numbered = fetch(customers, engine)
    ids = pa.array(numbered[S.CUSTOMER_ID].astype("string[pyarrow]")).cast(pa.large_string())
    ids = (ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids).take(np.argsort(numbered[_CODE].to_numpy()))
    out = {}
    for day, part in zip(dates, parts):
        part.insert(0, S.CUSTOMER_ID, pd.arrays.ArrowStringArray(ids.take(part.pop(_CODE).to_numpy())))
        if engagement:
            part.insert(part.columns.get_loc(FEATURE_COLUMNS[-2]) + 1, "engagement_score",
                        engagement_scores(part["recency_days"], part["frequency"], part["monetary"]))
        out[day] = part
    return out


def _query(kept: ibis.Table, dates: list[dt.date], engine: Engine | None) -> tuple[ibis.Table, ibis.Table]:
    """The features of every snapshot by (snapshot number, customer number), ordered by both; and
    the customers (id and number; numbered in the order of their ids)."""
    day = PURCHASE_DATE
    pieces, customers = _coded_pieces(kept, dates, engine)
    frame = pd.DataFrame({_SNAP: np.arange(len(dates), dtype=np.int64), _ASOF: pd.to_datetime(dates).date})
    snaps = ibis.memtable(frame, schema={_SNAP: "int64", _ASOF: "date"})
    if engine is not None:
        snaps = engine.upload(snaps, "snap_dates").select(_SNAP, _ASOF)

    buys = pieces.filter(~pieces[IS_RETURN])
    orders = buys.group_by([_CODE, ORDER_KEY]).aggregate(
        value=buys.amount.sum(), first_day=buys[day].min(), last_day=buys[day].max())
    # one order per (customer, day) counts that day: distinct purchase days = a sum of flags
    first_of_day = ibis.row_number().over(group_by=[orders[_CODE], orders.first_day], order_by=orders[ORDER_KEY])
    orders = _keep(orders.mutate(opens_day=(first_of_day == 0).cast("int64")), "snap_orders", engine)

    whole = orders.cross_join(snaps).filter(lambda t: t.last_day < t[_ASOF])
    columns = [_SNAP, _CODE, "order_value", "order_day", "opens_day"]
    whole = whole.select(*columns[:2], order_value="value", order_day="first_day", opens_day="opens_day")
    spanning = orders.filter(orders.first_day < orders.last_day)  # lines on two days or more
    cut = (buys.join(spanning, [_CODE, ORDER_KEY]).cross_join(snaps)
           .filter(lambda t: (t.first_day < t[_ASOF]) & (t[_ASOF] <= t.last_day) & (t[day] < t[_ASOF])))
    cut = (cut.group_by([*columns[:2], ORDER_KEY, "first_day", "opens_day"]).aggregate(order_value=cut.amount.sum())
           .rename(order_day="first_day"))
    per_order = whole.union(cut.select(*columns), distinct=False)
    per_customer = order_aggregates(per_order, columns[:2], per_order.opens_day.sum())
    rets = pieces.filter(pieces[IS_RETURN])
    rets = rets.group_by([_CODE, day]).aggregate(amount=rets.amount.sum())
    dated = rets.cross_join(snaps).filter(lambda t: t[day] < t[_ASOF])
    returned = dated.group_by([_SNAP, _CODE]).aggregate(returns_value=-dated.amount.sum())
    t = (per_customer.left_join(returned, [_SNAP, _CODE]).select(per_customer, returned.returns_value)
         .join(snaps, _SNAP))  # each snapshot's date, after the aggregation: a smaller group key
    t = derived_features(t, t[_ASOF])
    features = [c for c in FEATURE_COLUMNS if c != "engagement_score"]
    return t.select(_SNAP, _CODE, *features).order_by([_SNAP, _CODE]), customers


def _keep(t: ibis.Table, prefix: str, engine: Engine | None) -> ibis.Table:
    return engine.materialize(t, prefix) if engine is not None else t


def _coded_pieces(kept: ibis.Table, dates: list[dt.date], engine: Engine | None) -> tuple[ibis.Table, ibis.Table]:
    """The cleaned lines before the last date summed per (customer number, return or not, order,
    day): ``amount``; and the customers (id and number, numbered 0, 1, ... in the order of their
    ids; a customer of any snapshot is a buyer)."""
    cid, day = S.CUSTOMER_ID, PURCHASE_DATE
    rows = kept.filter(kept[day] < ibis.literal(dates[-1], "date"))
    pieces = _keep(rows.group_by([cid, IS_RETURN, ORDER_KEY, day]).aggregate(amount=rows[LINE_AMOUNT].sum()),
                   "snap_pieces", engine)
    # integers group, sort and travel faster than the ids
    buyers = pieces.filter(~pieces[IS_RETURN]).select(cid).distinct()
    customers = _keep(buyers.mutate(**{_CODE: ibis.row_number().over(order_by=buyers[cid])}), "snap_customers", engine)
    coded = pieces.join(customers, cid).select(_CODE, IS_RETURN, ORDER_KEY, day, "amount")
    return _keep(coded, "snap_coded", engine), customers


def _arrays(expr: ibis.Table, engine: Engine) -> dict[str, np.ndarray]:
    """The columns of ``expr`` as numpy arrays of the kernel's types: days int32, the customer
    number and counts int64, amounts float64 (one compiled version of the kernel)."""
    frame = fetch(expr, engine)
    types = {"first": np.int32, "last": np.int32, "day": np.int32, _CODE: np.int64, "pieces": np.int64}
    return {c: np.ascontiguousarray(frame[c].to_numpy(types.get(c, np.float64))) for c in frame.columns}


def _compiled(kept: ibis.Table, dates: list[dt.date], engine: Engine) -> tuple[list[pd.DataFrame], ibis.Table]:
    """What :func:`_query` fetches, computed otherwise: the engine sums the orders once, and one
    compiled pass over them, sorted by customer and first day, aggregates every snapshot and
    derives its features with the run's operations (:mod:`._snapshot_kernel`). Per date, its
    customers' numbers (``_CODE``) and features."""
    from ._snapshot_kernel import snapshot_features

    day = PURCHASE_DATE
    epoch = ibis.literal(dt.date(1970, 1, 1), "date")

    def days(v: ibis.Value) -> ibis.Value:
        return v.delta(epoch, unit="day").cast("int32")

    pieces, customers = _coded_pieces(kept, dates, engine)
    buys = pieces.filter(~pieces[IS_RETURN])
    orders = _keep(buys.group_by([_CODE, ORDER_KEY]).aggregate(
        value=buys.amount.sum(), first_day=buys[day].min(), last_day=buys[day].max(), pieces=buys.count()),
        "snap_orders", engine)
    by_day = [_CODE, "first_day", ORDER_KEY]  # orders and the pieces of those spanning midnight alike
    o = _arrays(orders.order_by(by_day).select(_CODE, "value", "pieces", first=days(orders.first_day),
                                               last=days(orders.last_day)), engine)
    spanning = orders.filter(orders.first_day < orders.last_day).select(_CODE, ORDER_KEY, "first_day")
    cut = buys.join(spanning, [_CODE, ORDER_KEY])
    p = _arrays(cut.order_by([*by_day, day]).select(day=days(cut[day]), amount=cut.amount), engine)
    rets = pieces.filter(pieces[IS_RETURN])
    rets = rets.group_by([_CODE, day]).aggregate(amount=rets.amount.sum())
    r = _arrays(rets.order_by([_CODE, day]).select(_CODE, "amount", day=days(rets[day])), engine)

    n_customers = int(customers.count().to_pyarrow().as_py())
    order_start = np.searchsorted(o[_CODE], np.arange(n_customers + 1))
    piece_count = np.where(o["first"] < o["last"], o["pieces"], 0).astype(np.int64)
    piece_start = np.cumsum(piece_count) - piece_count
    assert piece_count.sum() == len(p["day"])
    as_of = np.array(dates, dtype="datetime64[D]").astype(np.int64).astype(np.int32)
    opened = np.sort(o["first"][order_start[:-1]])  # each customer's first order day
    counts = np.searchsorted(opened, as_of, side="left")
    row_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    n = int(row_start[-1])
    ints = {"recency_days", "frequency", "tenure_days"}
    names = [_CODE, *(c for c in FEATURE_COLUMNS if c != "engagement_score")]
    out = {c: np.empty(n, np.int64 if c in ints or c == _CODE else np.float64) for c in names}
    snapshot_features(order_start, o["first"], o["last"], o["value"], piece_start, piece_count, p["day"], p["amount"],
                      np.searchsorted(r[_CODE], np.arange(n_customers + 1)), r["day"], r["amount"], as_of, row_start,
                      *out.values())
    del o, p, r
    parts = []
    for i in range(len(dates)):
        parts.append(pd.DataFrame({c: out[c][row_start[i]:row_start[i + 1]] for c in names}))
    return parts, customers
