"""How a date column is read: decided from its values, with the evidence kept and shown.

The policy (README "Reading policy"):

* **Typed columns** (Parquet, Excel, DuckDB): a timestamp without a time zone is taken as
  written; a timestamp *with* a time zone is converted to UTC (the DuckDB session runs in UTC,
  Spark's too, so the result does not depend on the machine); a date is midnight of that day.
* **Text**: the shapes of ISO-8601 and :data:`TEXT_FORMATS` are counted on a sample (in the
  engine: only counts come back); the formats every sampled value fits are checked on the whole
  column and the first that reads every value wins. A value only counts as read when it has the
  format's shape: ``%Y`` is four digits, ``%y`` two, so ``03/01/19`` is never year 19.
  - Two-digit years follow Python's ``strptime`` pivot: 69-99 -> 1969-1999, 00-68 -> 2000-2068.
  - Day-first or month-first: decided by values with a field above 12 (counted over the whole
    column and shown). When no value decides, ``/`` dates are read month-first (the order of US
    exports and spreadsheet defaults), ``.`` and ``-`` dates day-first (European order), and the
    reading says it was a default and how to choose the other order.
  - ISO-8601 with UTC offsets (``+02:00``, ``+0200``, ``Z``) is converted to UTC; values without an
    offset in such a column are taken as UTC.
* **Integers** (and text of digits only): ``YYYYMMDD`` when the values have eight digits and are
  dates, else epoch seconds (9-10 digits), milliseconds (12-13), microseconds (15-16) or
  nanoseconds (18-19), decided by the magnitude most values have. Values that do not fit the
  decided reading are refused with their rows named, like text that is not a date; never
  dropped silently.

Plausibility (dates before a floor or after the run's date) is a cleaning rule, not a reading
decision: the reading shows the first and last date exactly as read.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import ibis

from ..errors import DataError

PIVOT = "two-digit years: 69-99 -> 1969-1999, 00-68 -> 2000-2068 (Python's strptime pivot)"
ISO = "ISO-8601"
ISO_OFFSET = "ISO-8601 with UTC offsets"
_SAMPLE = 5000
_TIME = r"\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
_ISO_RE = rf"^\d{{4}}-\d{{1,2}}-\d{{1,2}}(?:[T ]{_TIME})?$"
_OFFSET = r"Z|UTC|[+-]\d{2}(?::?\d{2})?"
_ISO_OFFSET_RE = rf"^(\d{{4}}-\d{{1,2}}-\d{{1,2}}(?:[T ]{_TIME})?)\s*({_OFFSET})?$"
_TIMES = ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p")
_ORDERS = {  # separator -> day/month orders, the default order of ambiguous dates first
    "/": ("%m/%d/%Y", "%d/%m/%Y", "%m/%d/%y", "%d/%m/%y", "%Y/%m/%d"),
    ".": ("%d.%m.%Y", "%m.%d.%Y", "%d.%m.%y", "%m.%d.%y", "%Y.%m.%d"),
    "-": ("%d-%m-%Y", "%m-%d-%Y", "%d-%m-%y", "%m-%d-%y", "%d-%b-%Y", "%d-%b-%y"),
    " ": ("%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%b %d %Y"),
}
TEXT_FORMATS: tuple[str, ...] = tuple(d + t for dates in _ORDERS.values() for d in dates for t in _TIMES)
_DIRECTIVES = {"Y": r"\d{4}", "y": r"\d{2}", "m": r"\d{1,2}", "d": r"\d{1,2}", "H": r"\d{1,2}",
               "I": r"\d{1,2}", "M": r"\d{2}", "S": r"\d{2}", "p": r"(?:AM|PM|am|pm)", "b": r"[A-Za-z]{3}",
               "B": r"[A-Za-z]{3,9}", "f": r"\d{1,9}"}
# Integer readings: name, (low, high) of the values' magnitude, unit of the epoch (None: YYYYMMDD).
INTEGER_READINGS = (
    ("YYYYMMDD", (10_000_101, 99_991_231), None),
    ("epoch seconds", (10**8, 10**10), "s"),
    ("epoch milliseconds", (10**11, 10**13), "ms"),
    ("epoch microseconds", (10**14, 10**16), "us"),
    ("epoch nanoseconds", (10**17, 2**63 - 1), "ns"),
)
_EPOCH = dt.datetime(1970, 1, 1)
_DIGITS = r"^\d{1,18}$"


def format_regex(fmt: str) -> str | None:
    """The shape a value must have to be read by ``fmt`` (None when a directive is not known)."""
    out, i = ["^"], 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt):
            part = _DIRECTIVES.get(fmt[i + 1])
            if part is None:
                return None
            out.append(part)
            i += 2
            continue
        out.append(r"\s+" if ch == " " else re.escape(ch))
        i += 1
    return "".join(out) + "$"


# Any value one of the readings could take (a YYYYMMDD or epoch integer as text included): the
# column detector's test of whether a column holds dates, from the same shapes the reader uses.
DATE_SHAPE = "|".join(f"(?:{rx})" for rx in (r"^\d{8,19}$", _ISO_RE, _ISO_OFFSET_RE,
                                             *filter(None, map(format_regex, TEXT_FORMATS))))


def swapped(fmt: str) -> str | None:
    """The same format with day and month exchanged (None when it has no numeric day and month)."""
    if "%m" not in fmt or "%d" not in fmt:
        return None
    return fmt.replace("%m", "\0").replace("%d", "%m").replace("\0", "%d")


def read_dates(raw: ibis.Table, name: str, text: Callable[[ibis.Value], ibis.Value], source: str,
               date_format: str | None, parser: Callable, bad_rows: Callable) -> tuple[ibis.Value, dict[str, Any]]:
    """The column ``name`` of ``raw`` as a timestamp expression, and how it was read (for
    run.json and the run's printed line). ``text`` strips a text column; ``bad_rows(mask, col)``
    names rows for an error message."""
    col = raw[name]
    t = col.type()
    if t.is_timestamp():
        if t.timezone is not None:
            how = f"timestamp with time zone {t.timezone}: converted to UTC"
        else:
            how = "timestamp without time zone: taken as written"
        return _typed(raw, name, col.cast("timestamp"), "timestamp", how)
    if t.is_date():
        return _typed(raw, name, col.cast("timestamp"), "date", "dates: midnight of each day")
    if t.is_integer() or t.is_floating():
        # A float that is not a whole number must still be a date: named as a bad row, never missing.
        present = col.notnull() & ~col.isnan() if t.is_floating() else None
        return _integers(raw, name, _as_int(col), source, parser, bad_rows, str(t), present, col)
    value = text(col.cast("string"))
    present = value.notnull() & (value != "")
    if date_format is not None:
        return _text(raw, name, value, present, [date_format], source, date_format, parser, bad_rows)
    n, fits = _screen(raw, present, value)
    if n and fits[_DIGITS] == n:
        ints = ibis.ifelse(value.re_search(_DIGITS), value.try_cast("int64"), ibis.null("int64"))
        return _integers(raw, name, ints, source, parser, bad_rows, "text of digits", present, value)
    formats = [f for f in fits if f != _DIGITS]
    candidates = [f for f in formats if fits[f] == n] or [max(formats, key=lambda f: (fits[f], -formats.index(f)))]
    return _text(raw, name, value, present, candidates if n else [ISO], source, None, parser, bad_rows)


def _screen(raw: ibis.Table, present: ibis.Value, value: ibis.Value) -> tuple[int, dict[str, int]]:
    """In the engine, on a sample of the column: how many values have each format's shape (and
    how many are digits only). Only counts leave the engine."""
    shapes = {_DIGITS: _DIGITS, ISO: _ISO_RE, ISO_OFFSET: _ISO_OFFSET_RE,
              **{f: format_regex(f) for f in TEXT_FORMATS}}
    sample = raw.filter(present).select(v=value).limit(_SAMPLE)
    got = sample.aggregate(n=sample.count(), **{f"s{i}": sample.v.re_search(rx).cast("int64").sum()
                                                for i, rx in enumerate(shapes.values())}).to_pyarrow().to_pylist()[0]
    return got["n"] or 0, {f: got[f"s{i}"] or 0 for i, f in enumerate(shapes)}


def parse_text(value: ibis.Value, fmt: str, parser: Callable) -> ibis.Value:
    """``value`` read by ``fmt`` (a strptime format, :data:`ISO` or :data:`ISO_OFFSET`); NULL
    where the value does not have the format's shape or is not a date."""
    if fmt == ISO:
        return ibis.ifelse(value.re_search(_ISO_RE), parser(value, None), ibis.null("timestamp"))
    if fmt == ISO_OFFSET:
        local = parser(value.re_extract(_ISO_OFFSET_RE, 1), None)
        offset = value.re_extract(_ISO_OFFSET_RE, 2)
        digits = offset.re_replace(r"[^0-9]", "")
        minutes = ibis.ifelse(digits.length() >= 2, digits.left(2).cast("int64") * 60, 0) + ibis.ifelse(
            digits.length() >= 4, digits.substr(2, 2).cast("int64"), 0)
        minutes = ibis.ifelse(offset.startswith("-"), -minutes, minutes)
        ok = value.re_search(_ISO_OFFSET_RE)
        return ibis.ifelse(ok, local - minutes.as_interval("m"), ibis.null("timestamp"))
    parsed = parser(value, fmt)
    if "%y" in fmt:  # engines differ above the pivot (Spark: 2000-2099); Python's pivot for all
        parsed = ibis.ifelse(parsed.year() >= 2069, parsed - ibis.interval(years=100), parsed)
    shape = format_regex(fmt)
    return parsed if shape is None else ibis.ifelse(value.re_search(shape), parsed, ibis.null("timestamp"))


# --- typed columns ------------------------------------------------------------------------------

def _typed(raw, name, expr, kind, how) -> tuple[ibis.Value, dict[str, Any]]:
    got = raw.aggregate(first=expr.min(), last=expr.max(), values=expr.count()).to_pyarrow().to_pylist()[0]
    return expr, _reading(name, kind, kind, how, got["first"], got["last"], got["values"])


def _reading(name, source_type, fmt, evidence, first, last, values, ambiguous=False) -> dict[str, Any]:
    return {"column": name, "source_type": source_type, "format": fmt, "evidence": evidence,
            "ambiguous": ambiguous, "first": _iso(first), "last": _iso(last), "values": int(values or 0)}


def _iso(value) -> str | None:
    return None if value is None else value.isoformat(sep=" ")


# --- integers -----------------------------------------------------------------------------------

def _as_int(col: ibis.Value) -> ibis.Value:
    if col.type().is_integer():
        return col.cast("int64")
    whole = ~col.isnan() & ~col.isinf() & (col == col.floor()) & (col.abs() < 9e18)
    return ibis.ifelse(whole.fill_null(False), col, ibis.null("float64")).cast("int64")


def _integer_ok(ints: ibis.Value, reading: tuple, parser: Callable) -> ibis.Value:
    label, (low, high), unit = reading
    inside = (ints >= low) & (ints < high)
    if unit is None:
        return inside & parser(ints.cast("string"), "%Y%m%d").notnull()
    return inside


def integer_timestamp(ints: ibis.Value, reading: tuple, parser: Callable) -> ibis.Value:
    label, _, unit = reading
    if unit is None:
        return parser(ints.cast("string"), "%Y%m%d")
    base = ibis.timestamp(_EPOCH)
    if unit == "ns":
        return base + (ints // 1000).as_interval("us")
    return base + ints.as_interval(unit)


def _python_date(value: int, reading: tuple) -> dt.datetime:
    label, _, unit = reading
    if unit is None:
        return dt.datetime.strptime(str(value), "%Y%m%d")
    per_second = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    return _EPOCH + dt.timedelta(microseconds=value * 10**6 // per_second)


def _integers(raw, name, ints, source, parser, bad_rows, kind, present=None, shown=None
              ) -> tuple[ibis.Value, dict[str, Any]]:
    """``present``: the values that must be dates (default: the non-null integers); ``shown``:
    what an error quotes (default: the integers)."""
    present = ints.notnull() if present is None else present
    counts = {f"r{i}": _integer_ok(ints, r, parser).sum() for i, r in enumerate(INTEGER_READINGS)}
    counts |= {f"lo{i}": ints.min(where=_integer_ok(ints, r, parser)) for i, r in enumerate(INTEGER_READINGS)}
    counts |= {f"hi{i}": ints.max(where=_integer_ok(ints, r, parser)) for i, r in enumerate(INTEGER_READINGS)}
    got = raw.aggregate(n=present.sum(), **counts).to_pyarrow().to_pylist()[0]
    n = got["n"] or 0
    best = max(range(len(INTEGER_READINGS)), key=lambda i: ((got[f"r{i}"] or 0), -i))
    reading = INTEGER_READINGS[best]
    fits = got[f"r{best}"] or 0
    if n and fits < n:
        where = present & ~_integer_ok(ints, reading, parser).fill_null(False)
        rows = bad_rows(where, ints if shown is None else shown)
        if not fits:
            raise DataError(f"{source}: column {name!r} holds integers that are neither YYYYMMDD dates nor epoch "
                            f"times ({rows}); map the date column with --map timestamp=COLUMN")
        raise DataError(
            f"{source}: column {name!r} holds integers read as {reading[0]} ({_count(fits, 'value')}), but "
            f"{_count(n - fits, 'value')} {'is' if n - fits == 1 else 'are'} not ({rows}); fix or remove those "
            "rows, or pass --date-format"
        )
    others = [f"{INTEGER_READINGS[i][0]} {got[f'r{i}']:,}" for i in range(len(INTEGER_READINGS))
              if i != best and got[f"r{i}"]]
    lo, hi = got[f"lo{best}"], got[f"hi{best}"]
    evidence = f"{kind}: {_count(n, 'value')}, {lo} .. {hi}" if n else f"{kind}: no values"
    if others:
        evidence += f"; also readable: {', '.join(others)}"
    first = _python_date(lo, reading) if lo is not None else None
    last = _python_date(hi, reading) if hi is not None else None
    return integer_timestamp(ints, reading, parser), _reading(name, kind, reading[0], evidence, first, last, n)


# --- text ---------------------------------------------------------------------------------------

def _text(raw, name, value, present, candidates, source, date_format, parser, bad_rows
          ) -> tuple[ibis.Value, dict[str, Any]]:
    """The first of ``candidates`` that reads every value of the column (checked in one pass,
    with each candidate's day/month partner counted for the evidence)."""
    partners = [p for f in candidates if (p := swapped(f)) and p not in candidates]
    checked = [*candidates, *partners]
    parsed = {f: parse_text(value, f, parser) for f in checked}
    aggs = {}
    for i, f in enumerate(checked):
        miss = present & parsed[f].isnull()
        aggs |= {f"n{i}": miss.sum(), f"lo{i}": parsed[f].min(), f"hi{i}": parsed[f].max(),
                 f"ex{i}": value.min(where=miss)}
    got = raw.aggregate(values=present.sum(), **aggs).to_pyarrow().to_pylist()[0]
    miss = {f: got[f"n{i}"] or 0 for i, f in enumerate(checked)}
    chosen = next((f for f in candidates if miss[f] == 0), None)
    if chosen is None:
        f = candidates[0]
        tried = date_format or f"{ISO}, {ISO_OFFSET} and {len(TEXT_FORMATS)} day/month/year formats"
        raise DataError(
            f"{source}: column {name!r} has {miss[f]:,} values that are not dates "
            f"({bad_rows(present & parsed[f].isnull(), value)}); fix them or pass --date-format (tried {tried})"
        )
    i = checked.index(chosen)
    evidence, ambiguous = _text_evidence(chosen, checked, miss, got, date_format)
    reading = _reading(name, "string", chosen, evidence, got[f"lo{i}"], got[f"hi{i}"], got["values"], ambiguous)
    return parsed[chosen], reading


def _text_evidence(fmt: str, checked: list[str], miss: dict[str, int], got: dict,
                   given: str | None) -> tuple[str, bool]:
    n = got["values"] or 0
    if given is not None:
        parts = [f"given by --date-format; reads {_count(n, 'value')}"]
    elif fmt == ISO:
        parts = [f"{ISO} (year-month-day): {_count(n, 'value')}"]
    elif fmt == ISO_OFFSET:
        parts = [f"{ISO} with UTC offsets (e.g. +02:00): {_count(n, 'value')}, converted to UTC; values without an "
                 "offset taken as UTC"]
    else:
        parts = [f"{_count(n, 'value')} of this shape"]
    ambiguous = False
    partner = swapped(fmt)
    if partner is not None and not fmt.startswith("%Y") and given is None:
        first = "month" if fmt.index("%m") < fmt.index("%d") else "day"
        other = "day" if first == "month" else "month"
        k = checked.index(partner)
        if miss[partner]:
            field = "first" if first == "day" else "second"
            parts.append(f"{first}-first: {_count(miss[partner], 'value')} with a day above 12 in the {field} "
                         f"field (e.g. {got[f'ex{k}']!r})")
        else:
            ambiguous = True
            why = "the order of '/' dates in US exports" if "/" in fmt else "the European order of '.' and '-' dates"
            parts.append(f"ambiguous: no value has a day above 12, so both orders read every value; read "
                         f"{first}-first, {why}; pass --date-format '{partner}' for {other}-first")
    if "%y" in fmt:
        parts.append(PIVOT)
    return "; ".join(parts), ambiguous


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def describe(reading: dict[str, Any]) -> str:
    """One line: how a key column was read (the run prints it)."""
    span = f"first {reading['first']}, last {reading['last']}" if reading.get("first") else "no dates"
    return f"column {reading['column']!r} read as {reading['format']}: {reading['evidence']}; {span}"
