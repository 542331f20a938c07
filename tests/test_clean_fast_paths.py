"""The read and clean stages' shortcuts give exactly what the plain expressions give."""

import string

import ibis
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customersense.engine import connect
from customersense.io.standardise import strip

from .conftest import _upload

EDGE_TEXT = ["", " ", "a", " a", "a ", "\ta\n", "\x0ba\x0c", "\ra", "a\x01", "\x01a", "é ", " é", "a b",
             "\u00a0a\u00a0", "  ", "\t", None]


def _stripped(con, values):
    t = _upload(con, ibis.memtable(pa.table({"v": pa.array(values, pa.string())})))
    got = t.select(fast=strip(t.v), plain=t.v.strip()).to_pyarrow().to_pylist()
    return [(r["fast"], r["plain"]) for r in got]


def test_strip_equals_ibis_strip(con):
    for fast, plain in _stripped(con, EDGE_TEXT):
        assert fast == plain


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(alphabet=string.whitespace + "ab\x01\u00e9\u2003", max_size=6), min_size=1, max_size=30))
def test_strip_property(values):
    con = connect()
    try:
        for fast, plain in _stripped(con, values):
            assert fast == plain
    finally:
        con.disconnect()
