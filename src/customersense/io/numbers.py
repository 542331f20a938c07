"""Text numbers read from evidence: the decimal mark of each numeric column is decided from its
values (a comma followed by one, two or four and more digits can only be a decimal comma; a point
likewise), thousands separators are removed only where they group digits by three, and a
currency symbol around the number is dropped. A column whose values disagree is refused with the
rows that disagree; a value that fits neither reading stays unparsed, and the reader names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis

_CURRENCY = r"^[\s$£€¥]+|[\s$£€¥]+$"
# Unambiguous evidence, on the value with currency symbols and spaces removed.
_COMMA_DECIMAL = r"^[+-]?([1-9]\d{0,2}(\.\d{3})+,\d*|\d*,(\d{1,2}|\d{4,})|0?,\d{3})$"
_POINT_DECIMAL = r"^[+-]?([1-9]\d{0,2}(,\d{3})+\.\d*|\d*\.(\d{1,2}|\d{4,})|0?\.\d{3})$"
_POINT_THOUSANDS = r"^[+-]?[1-9]\d{0,2}(\.\d{3})+(,\d*)?$"  # a group never starts with a lone 0
_COMMA_THOUSANDS = r"^[+-]?[1-9]\d{0,2}(,\d{3})+(\.\d*)?$"
_SAMPLE = 20000


def bare(col: ibis.Value) -> ibis.Value:
    """The text without a currency symbol or spaces around it."""
    return col.re_replace(_CURRENCY, "")


def decide(raw: ibis.Table, columns: Mapping[str, str], forced: str) -> dict[str, dict[str, Any]]:
    """``{standard name: {"decimal": "." or ",", "evidence": ...}}`` for the text columns given as
    ``{standard name: source column}``. ``forced`` is the ``--decimal`` setting ("auto", "." or ",")."""
    if not columns:
        return {}
    if forced != "auto":
        return {std: {"decimal": forced, "evidence": "--decimal"} for std in columns}
    sample = raw.select(**{std: bare(raw[col].cast("string")) for std, col in columns.items()}).limit(_SAMPLE)
    counts = sample.aggregate(**{
        f"{kind}_{i}": sample[std].re_search(rx).sum()
        for i, std in enumerate(columns) for kind, rx in (("c", _COMMA_DECIMAL), ("p", _POINT_DECIMAL),
                                                           ("ct", _COMMA_THOUSANDS), ("pt", _POINT_THOUSANDS))
    }).to_pyarrow().to_pylist()[0]
    decided: dict[str, dict[str, Any]] = {}
    for i, (std, col) in enumerate(columns.items()):
        c, p = counts[f"c_{i}"] or 0, counts[f"p_{i}"] or 0
        ct, pt = counts[f"ct_{i}"] or 0, counts[f"pt_{i}"] or 0
        if c and p:
            decided[std] = {"decimal": None, "evidence": f"{c:,} values read only with a decimal comma and "
                            f"{p:,} only with a decimal point"}
        elif c:
            decided[std] = {"decimal": ",", "evidence": f"{c:,} sampled values have a decimal comma (e.g. 1,50)"}
        elif p:
            decided[std] = {"decimal": ".", "evidence": f"{p:,} sampled values have a decimal point"
                            + (f"; {ct:,} group thousands with a comma" if ct else "")}
        elif pt or ct:  # 1.050 is 1050 with a decimal comma, 1.05 with a point: the user decides
            decided[std] = {"decimal": None, "evidence": f"{pt + ct:,} sampled values such as 1.050 or 1,050 read "
                            "as thousands or as three decimals, and no value decides"}
        else:
            decided[std] = {"decimal": ".", "evidence": "whole numbers: read with a decimal point"}
    return decided


def parse(col: ibis.Value, decimal: str, plain: ibis.Value) -> ibis.Value:
    """Text -> float64 with the column's decimal mark; NULL where the text is not such a number.
    ``plain`` is the engine's own cast of the stripped text: the fast path for point-decimal
    columns (the slow one runs only where it fails: thousands groups, currency symbols)."""
    text = bare(col)
    if decimal == ",":
        text = ibis.ifelse(text.re_search(_POINT_THOUSANDS), text.replace(".", ""), text)
        # A point left over is not this column's convention: unparsed, so the reader names the row.
        return ibis.ifelse(text.contains("."), ibis.null("float64"), text.replace(",", ".").try_cast("float64"))
    text = ibis.ifelse(text.re_search(_COMMA_THOUSANDS), text.replace(",", ""), text)
    return ibis.coalesce(plain, text.try_cast("float64"))
