"""The read and clean stages' shortcuts give exactly what the plain expressions give."""

import collections
import datetime as dt
import re
import string

import ibis
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customersense.cleaning import PRE_DUPLICATE_RULES, RULES, clean
from customersense.config import CleaningPolicy
from customersense.engine import connect
from customersense.errors import DataError
from customersense.io.standardise import strip


EDGE_TEXT = ["", " ", "a", " a", "a ", "\ta\n", "\x0ba\x0c", "\ra", "a\x01", "\x01a", "é ", " é", "a b",
             "\u00a0a\u00a0", "  ", "\t", None]


def _stripped(engine, values):
    t = engine.materialize(ibis.memtable(pa.table({"v": pa.array(values, pa.string())})), "test_rows")
    got = t.select(fast=strip(t.v), plain=t.v.strip()).to_pyarrow().to_pylist()
    return [(r["fast"], r["plain"]) for r in got]


def test_strip_equals_ibis_strip(engine):
    for fast, plain in _stripped(engine, EDGE_TEXT):
        assert fast == plain


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(alphabet=string.whitespace + "ab\x01\u00e9\u2003", max_size=6), min_size=1, max_size=30))
def test_strip_property(values):
    engine = connect()
    try:
        for fast, plain in _stripped(engine, values):
            assert fast == plain
    finally:
        engine.close()


# --- the cleaning report and kept rows against a plain-Python reading of the rules -----------

START = dt.datetime(2021, 3, 1, 9, 0)
COLUMNS = ["customer_id", "order_id", "timestamp", "amount", "quantity", "unit_price", "product_id", "country"]
value = st.tuples(
    st.sampled_from([None, "a", "b", "c"]),
    st.sampled_from([None, "1", "2", "C3"]),
    st.sampled_from([None, START, START + dt.timedelta(days=2), START + dt.timedelta(days=9, hours=3)]),
    st.sampled_from([None, -1.0, 0.0, 1.0, 2.0]),
    st.sampled_from([None, 0.0, 1.5]),
    st.sampled_from([None, "A", "post", "gift_7"]),
    st.sampled_from([None, "UK"]),
)


def _std_rows(values):
    return [(c, o, ts, None if q is None or p is None else q * p, q, p, prod, country)
            for c, o, ts, q, p, prod, country in values]


def _table(engine, rows):
    types = dict(zip(COLUMNS, [pa.string(), pa.string(), pa.timestamp("us"), pa.float64(), pa.float64(),
                               pa.float64(), pa.string(), pa.string()]))
    arrow = pa.table({c: pa.array([r[i] for r in rows], types[c]) for i, c in enumerate(COLUMNS)})
    return engine.materialize(ibis.memtable(arrow), "test_rows")


def _reason(row, as_of, policy):
    cust, order, ts, amount, qty, price, prod, _ = row
    if cust is None:
        return "missing_customer_id"
    if ts is None:
        return "missing_timestamp"
    if ts >= dt.datetime.combine(as_of, dt.time()):
        return "after_as_of"
    if prod is not None and (prod.upper() in policy.non_product_codes or re.search("(?i)^gift_", prod)):
        return "non_product_code"
    if amount is None:
        return "missing_amount"
    if qty == 0:
        return "zero_quantity"
    if price is not None and price <= 0:
        return "non_positive_price"
    return None


def _reference(rows, policy):
    """The report and kept rows, computed row by row in Python (None equals None when grouping)."""
    dates = [r[2] for r in rows if r[2] is not None]
    as_of = policy.as_of or (max(dates).date() + dt.timedelta(days=1))
    copies = collections.Counter(rows)
    dropped = dict.fromkeys(RULES, 0)
    kept = []
    for row, n in copies.items():
        reason = _reason(row, as_of, policy)
        if reason in PRE_DUPLICATE_RULES:
            dropped[reason] += n
            continue
        dropped["duplicate_rows"] += n - 1
        if reason is None:
            kept.append(row)
        else:
            dropped[reason] += 1
    # cancelled order ids (C + digits) mark returns only where the other order ids are digits
    # (>= 95% of them; data/returns.toml), read over every input row; negative amounts and
    # quantities always
    orders = [r[1] for r in rows if r[1] is not None]
    cancelled = [o for o in orders if re.fullmatch(r"C\d+", o)]
    others = [o for o in orders if o != "" and not re.fullmatch(r"C\d+", o)]
    by_order = bool(cancelled) and bool(others) and sum(o.isdigit() for o in others) >= 0.95 * len(others)
    is_return = {r: (r[3] or 0) < 0 or (r[4] or 0) < 0 or (by_order and re.fullmatch(r"C\d+", r[1] or "") is not None)
                 for r in kept}
    buyers = {r[0] for r in kept if not is_return[r]}
    final = [r for r in kept if not is_return[r] or r[0] in buyers]
    dropped["orphan_returns"] = len(kept) - len(final)
    returns = sum(is_return[r] for r in final)
    return as_of, dropped, (len(final) - returns, returns, len(buyers)), sorted(final, key=repr)


def _check(engine, values, policy):
    rows = _std_rows(values)
    dates = [r[2] for r in rows if r[2] is not None]
    if not dates:
        return
    as_of, dropped, lines, kept = _reference(rows, policy)
    if not kept:
        with pytest.raises(DataError, match="no rows left"):
            clean(engine, _table(engine, rows), policy)
        return
    got = clean(engine, _table(engine, rows), policy)
    rep = got.report
    assert (rep.as_of, rep.dropped) == (as_of, dropped)
    assert (rep.purchase_lines, rep.return_lines, rep.customers) == lines
    assert rep.rows_in == len(rows) == rep.rows_kept + sum(rep.dropped.values())
    table = got.table.select(*COLUMNS).to_pyarrow().to_pylist()
    assert sorted((tuple(r[c] for c in COLUMNS) for r in table), key=repr) == kept


PLANTED = [
    ("a", "1", START, 2.0, 1.5, "A", "UK"),
    ("a", "1", START, 2.0, 1.5, "A", "UK"),     # exact copy
    ("a", "1", START, 2.0, 1.5, "A", None),     # NULL country: a different row...
    ("a", "1", START, 2.0, 1.5, "A", None),     # ...and its copy: NULLs group as equal
    ("a", None, START, 1.0, 1.5, None, None),
    ("a", None, START, 1.0, 1.5, None, None),   # copy with three NULLs
    ("b", "C3", START, -1.0, 1.5, "A", "UK"),   # orphan return...
    ("b", "C3", START, -1.0, 1.5, "A", "UK"),   # ...and its copy (a duplicate, not an orphan)
    ("a", "C3", START, -1.0, 1.5, "A", "UK"),   # a's return: kept
    (None, "2", START, 1.0, 1.5, "A", "UK"),
    (None, "2", START, 1.0, 1.5, "A", "UK"),    # copies of a pre-duplicate drop count twice
    ("c", "2", None, 1.0, 1.5, "A", "UK"),
    ("c", "2", START, 0.0, 1.5, "A", "UK"),
    ("c", "2", START, 1.0, None, "A", "UK"),
    ("c", "2", START, 1.0, 0.0, "gift_7", "UK"),
    ("c", "2", START + dt.timedelta(days=9, hours=3), 1.0, 1.5, "post", "UK"),
]


@pytest.mark.parametrize("as_of", [None, dt.date(2021, 3, 5)])
def test_planted_duplicates_and_nulls(engine, as_of):
    _check(engine, PLANTED, CleaningPolicy(as_of=as_of))


@settings(max_examples=30, deadline=None)
@given(st.lists(value, min_size=1, max_size=25), st.sampled_from([None, dt.date(2021, 3, 3)]))
def test_report_and_kept_rows_property(values, as_of):
    engine = connect()
    try:
        _check(engine, values + values[: len(values) // 3], CleaningPolicy(as_of=as_of))
    finally:
        engine.close()
