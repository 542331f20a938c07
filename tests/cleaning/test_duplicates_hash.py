"""Exact duplicates by a row hash (cleaning/duplicates.py) equal the GROUP BY over every column,
whatever the hash: a weak hash that collides on purpose must change nothing but the time."""

import datetime as dt
import random

import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from customersense import schema as S
from customersense.cleaning import duplicates
from customersense.config import CleaningPolicy
from customersense.engine import connect

from .test_clean_fast_paths import PLANTED, _check, value

START = dt.datetime(2021, 3, 1, 9, 0)
COLS = ["customer_id", "order_id", "timestamp", "amount", "country"]


def _weak(t, cols):
    """Two hash values for all rows: nearly every row collides with rows that differ."""
    return t[cols[0]].isnull().cast("int64")


def _table(engine, rows):
    types = [pa.string(), pa.string(), pa.timestamp("us"), pa.float64(), pa.string()]
    cols = {c: pa.array([r[i] for r in rows], t) for i, (c, t) in enumerate(zip(COLS, types))}
    cols[S.ROW_ID] = pa.array(range(len(rows)), pa.int64())
    return engine.materialize(ibis.memtable(pa.table(cols)), "test_rows")


def _as_set(t):
    """The rows, sorted; NaN as text (NaN != NaN would make equal rows unequal), -0.0 as 0.0 (the
    same amount; Spark's GROUP BY writes 0.0 for both, a row left alone keeps its sign)."""
    def key(v):
        if isinstance(v, float):
            return "NaN" if v != v else v + 0.0
        return v

    return sorted((tuple(key(v) for v in r.values()) for r in t.to_pyarrow().to_pylist()), key=repr)


def _rows(seed: int, n: int) -> list[tuple]:
    """Rows drawn from few values (many exact copies), with NULLs, -0.0 and NaN among the amounts."""
    rng = random.Random(seed)
    pick = [[None, "a", "b"], [None, "1", "2"], [None, START, START + dt.timedelta(hours=1)],
            [None, 1.0, 2.5, 0.0, -0.0, float("nan")], [None, "UK", "FR"]]
    return [tuple(rng.choice(p) for p in pick) for _ in range(n)]


@pytest.mark.parametrize("weak", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_distinct_rows_equal_group_by_every_column(engine, monkeypatch, weak, seed):
    if weak:
        monkeypatch.setattr(duplicates, "row_hash", _weak)
    tx = _table(engine, _rows(seed, 400))
    # The reference: the plain GROUP BY over every column, first copy's position by min().
    plain = tx.group_by(COLS).aggregate(_n=tx.count(), **{S.ROW_ID: tx[S.ROW_ID].min()})
    fast = duplicates.distinct_rows(tx, COLS)
    assert fast.columns == (*COLS, "_n", S.ROW_ID)
    got, want = _as_set(fast.select(plain.columns)), _as_set(plain)
    assert len(got) == len(want) < 400  # copies were there to find
    assert got == want
    assert sum(r[-2] for r in got) == 400  # every row accounted for


def test_planted_duplicates_with_colliding_hash(engine, monkeypatch):
    monkeypatch.setattr(duplicates, "row_hash", _weak)
    _check(engine, PLANTED, CleaningPolicy())


@settings(max_examples=20, deadline=None)
@given(st.lists(value, min_size=1, max_size=25))
def test_cleaning_report_with_colliding_hash_property(values):
    """The whole cleaning report against the row-by-row reference, with every hash colliding."""
    engine = connect()
    original = duplicates.row_hash
    duplicates.row_hash = lambda t, cols: ibis.literal(7, "int64")
    try:
        _check(engine, values + values[: len(values) // 2], CleaningPolicy())
    finally:
        duplicates.row_hash = original
        engine.close()
