"""The date formats of io/dates.py, each checked against Python's own strftime/strptime."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest

from customersense.engine import DuckDBEngine
from customersense.io.dates import ISO, ISO_OFFSET, TEXT_FORMATS, format_regex, parse_text, swapped

WHEN = dt.datetime(2019, 3, 14, 15, 9, 26)  # day 14 > 12: day-first and month-first differ


def _parse(texts: list[str], fmt: str) -> list:
    t = ibis.memtable({"v": texts})
    return t.select(ts=parse_text(t.v, fmt, DuckDBEngine.parse_timestamp)).to_pyarrow().column("ts").to_pylist()


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_every_format_reads_what_python_writes_and_its_partner_refuses_it(fmt):
    text = WHEN.strftime(fmt)
    expected = dt.datetime.strptime(text, fmt)  # the time of day the format keeps
    partner = swapped(fmt)
    got = _parse([text], fmt) + (_parse([text], partner) if partner else [None])
    assert got == [expected, None], text
    assert format_regex(fmt) is not None


def test_two_digit_years_pivot_like_python():
    texts = ["1/1/69", "12/31/99", "1/1/00", "12/31/68"]
    expected = [dt.datetime.strptime(t, "%m/%d/%y") for t in texts]
    assert [d.year for d in expected] == [1969, 1999, 2000, 2068]
    assert _parse(texts, "%m/%d/%y") == expected


def test_a_four_digit_year_format_refuses_two_digits():
    assert _parse(["03/01/19", "03/01/2019"], "%m/%d/%Y") == [None, dt.datetime(2019, 3, 1)]


def test_offsets_become_utc():
    texts = ["2021-03-01 01:00+02:00", "2021-03-01T10:00:00Z", "2021-03-01 10:00:00-0530", "2021-03-01 10:00",
             "2021-03-01"]
    expected = [dt.datetime.fromisoformat(t.replace("Z", "+00:00")) for t in texts]
    expected = [d.astimezone(dt.timezone.utc).replace(tzinfo=None) if d.tzinfo else d for d in expected]
    assert _parse(texts, ISO_OFFSET) == expected
    assert _parse(texts, ISO) == [None, None, None, *expected[3:]]  # plain ISO never drops an offset
