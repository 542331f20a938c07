"""Cells as SpreadsheetML text: whole columns at once with Arrow (the big tables), or one value at a
time (the few cells of a summary).

Every value is written with its type: integers and floats as numbers (a float always carries a
``.`` or an exponent, so a reader gets a float back), booleans as booleans, dates and timestamps as
Excel serial numbers with a date format, text as an inline string. A missing value (null, NaN,
+-inf) is no cell at all, so Excel shows an empty cell.

Text is never a formula: a formula is only ever written as an ``<f>`` element, which this module
never writes. Text that Excel would take for a formula once a user edits the cell (it starts
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) also gets the ``quotePrefix`` style,
the one Excel gives text typed after an apostrophe. XML-illegal control characters are written
with Excel's ``_xHHHH_`` escape (and a literal ``_xHHHH_`` in the text is protected as
``_x005F_xHHHH_``), so Excel shows the original text; text longer than Excel's 32,767 characters
per cell is cut there.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MAX_TEXT = 32_767
EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_EPOCH_DAYS = 25_569  # 1970-01-01 as an Excel serial day
FORMULA_START = r"^[=+\-@\t\r]"
_ILLEGAL = "".join(chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32)))
_ILLEGAL_RE = "[" + "".join(f"\\x{ord(c):02x}" for c in _ILLEGAL) + "]"
_ESCAPE_LIKE = r"_(x[0-9A-Fa-f]{4}_)"
# "&" first; a carriage return as a character reference (an XML reader turns a raw one into "\n")
_XML_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;"))

# Style ids: the order of the cellXfs in styles.xml (see xlsx.styles_xml).
STYLE = {"default": 0, "header": 1, "title": 2, "section": 3, "money": 4, "percent": 5, "date": 6,
         "datetime": 7, "quoted": 8, "note": 9}
KINDS = ("int", "float", "money", "percent", "bool", "date", "datetime", "text", "empty")


def column_letter(index: int) -> str:
    """0 -> "A", 25 -> "Z", 26 -> "AA"."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def arrow_kind(values: pa.Array, money: bool, percent: bool) -> str:
    """The cell kind of an Arrow column; ``money``/``percent`` say what its name means."""
    t = values.type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        if money:
            return "money"
        if percent:
            return "percent"
        return "int" if pa.types.is_integer(t) else "float"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "datetime"
    if pa.types.is_null(t):
        return "empty"
    return "text"


def clean_text(values: pa.Array) -> pa.Array:
    """Text as Excel should show it, XML-escaped: cut at 32,767 characters, ``_xHHHH_`` and control
    characters escaped, then ``&``, ``<``, ``>`` and carriage returns."""
    values = values.cast(pa.string()) if not pa.types.is_string(values.type) else values
    if len(values) and (pc.max(pc.utf8_length(values)).as_py() or 0) > MAX_TEXT:
        values = pc.utf8_slice_codeunits(values, 0, MAX_TEXT)
    if not pc.any(pc.match_substring_regex(values, "[&<>_\\r" + _ILLEGAL_RE[1:])).as_py():
        return values  # nothing to escape (most columns)
    if pc.any(pc.match_substring_regex(values, _ESCAPE_LIKE)).as_py():
        values = pc.replace_substring_regex(values, _ESCAPE_LIKE, r"_x005F_\1")
    if pc.any(pc.match_substring_regex(values, _ILLEGAL_RE)).as_py():
        for ch in _ILLEGAL:
            values = pc.replace_substring(values, ch, f"_x{ord(ch):04X}_")
    for raw, esc in _XML_ESCAPES:
        values = pc.replace_substring(values, raw, esc)
    return values


def number_text(values: pa.Array, as_float: bool) -> pa.Array:
    """Shortest round-trip text of each number; null where not finite. Floats always show a ``.``
    or an exponent (``12`` -> ``12.0``)."""
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if pa.types.is_decimal(values.type) or (as_float and pa.types.is_integer(values.type)):
        values = values.cast(pa.float64())
    if not pa.types.is_floating(values.type):
        return values.cast(pa.string())
    if values.type != pa.float64():
        values = values.cast(pa.float64())
    finite = pc.is_finite(values)
    if not pc.all(finite).as_py():
        values = pc.if_else(finite, values, pa.scalar(None, pa.float64()))
    text = values.cast(pa.string())
    whole = pc.equal(pc.trunc(values), values)  # only these can print without "." ("12", "1e+16")
    if pc.any(whole).as_py():
        plain = pc.and_(whole, pc.invert(pc.match_substring(text, "e")))
        text = pc.if_else(plain, pc.binary_join_element_wise(text, ".0", ""), text)
    return text


def serial_text(values: pa.Array) -> pa.Array:
    """Dates and timestamps as Excel serial days (1899-12-30 is day 0; zone-aware ones in UTC)."""
    if pa.types.is_date(values.type):
        days = pc.add(values.cast(pa.date32()).cast(pa.int32()).cast(pa.int64()), _EPOCH_DAYS)
        return days.cast(pa.string())
    per_day = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}[values.type.unit]
    ticks = values.cast(pa.timestamp(values.type.unit)).cast(pa.int64())
    days = pc.add(pc.divide(ticks.cast(pa.float64()), float(per_day)), float(_EPOCH_DAYS))
    return number_text(days, as_float=True)


def cell_parts(values: pa.Array, kind: str, letter: str, rows: pa.Array) -> list:
    """The pieces of one ``<c>`` element per row (``rows``: the row numbers as text), to be joined
    into the rows: scalars and arrays; a single array where the column has missing values (an
    empty string there: no cell)."""
    if pa.types.is_dictionary(values.type) and kind != "text":
        values = values.dictionary_decode()
    if kind == "empty":
        return []
    if kind == "text":
        raw = values if pa.types.is_string(values.type) else values.cast(pa.string())
        style = pc.if_else(pc.fill_null(pc.match_substring_regex(raw, FORMULA_START), False),
                           f' s="{STYLE["quoted"]}" t="inlineStr"><is><t', ' t="inlineStr"><is><t')
        space = pc.if_else(pc.equal(pc.utf8_trim_whitespace(raw), raw), ">", ' xml:space="preserve">')
        text = clean_text(raw)
        parts = [f'<c r="{letter}', rows, '"', style, space, text, "</t></is></c>"]
    else:
        if kind == "bool":
            value, attrs = values.cast(pa.int8()).cast(pa.string()), ' t="b"'
        elif kind in ("date", "datetime"):
            value, attrs = serial_text(values), f' s="{STYLE[kind]}"'
        else:
            value = number_text(values, as_float=kind in ("float", "money", "percent"))
            attrs = f' s="{STYLE[kind]}"' if kind in ("money", "percent") else ""
        parts = [f'<c r="{letter}', rows, f'"{attrs}><v>', value, "</v></c>"]
    missing = parts[5 if kind == "text" else 3]
    if missing.null_count == 0:
        return parts
    return [pc.fill_null(pc.binary_join_element_wise(*parts, "", null_handling="emit_null"), "")]


def joined_bytes(values: pa.Array) -> memoryview:
    """The text of every element of a string array without nulls, one after the other (a view of
    the array's data buffer, no copy)."""
    if len(values) == 0:
        return memoryview(b"")
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32, count=len(values) + 1, offset=values.offset * 4)
    return memoryview(values.buffers()[2])[offsets[0]:offsets[-1]]


def _escape(text: str) -> str:
    """One text value as :func:`clean_text` writes it."""
    text = text[:MAX_TEXT]
    text = re.sub(_ESCAPE_LIKE, r"_x005F_\1", text)
    text = re.sub(_ILLEGAL_RE, lambda m: f"_x{ord(m.group()):04X}_", text)
    for raw, esc in _XML_ESCAPES:
        text = text.replace(raw, esc)
    return text


def value_kind(value: Any) -> str:
    """The cell kind of one Python value."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "empty"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, (float, np.floating)):
        return "empty" if not math.isfinite(float(value)) else "float"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    return "text"


def cell_xml(ref: str, value: Any, style: str | None = None) -> str:
    """One ``<c>`` element for a Python value; ``style``: a :data:`STYLE` name, else by the value's kind."""
    kind = value_kind(value)
    if kind == "empty":
        return ""
    if kind == "text":
        text = str(value)
        if style is None and re.match(FORMULA_START, text):
            style = "quoted"
        s = f' s="{STYLE[style]}"' if style else ""
        return f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{_escape(text)}</t></is></c>'
    if kind == "bool":
        return f'<c r="{ref}" t="b"><v>{int(bool(value))}</v></c>'
    if kind == "datetime":
        value = value.replace(tzinfo=None) if value.tzinfo is None else value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        number, style = repr((value - EXCEL_EPOCH).total_seconds() / 86_400), style or "datetime"
    elif kind == "date":
        number, style = str((value - EXCEL_EPOCH.date()).days), style or "date"
    elif kind == "int":
        number = str(int(value))
        number = repr(float(number)) if style in ("money", "percent") else number
    else:
        number = repr(float(value))
    s = f' s="{STYLE[style]}"' if style else ""
    return f'<c r="{ref}"{s}><v>{number}</v></c>'
