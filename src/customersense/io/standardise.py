"""Map raw columns to the standard names and types, once, and refuse values that do not parse.

Which column is which is decided by :mod:`.detect` (names and content, with a report).

Types after this step: customer_id, order_id, product_id, description, country: string;
timestamp: timestamp; amount, quantity, unit_price: float64. ``amount`` is
quantity x unit_price when the source has no amount column. Unmapped columns are kept
under their own names so that exact-duplicate detection sees the whole row, and every one
reaches the outputs; a name of the engine's namespace (:data:`customersense.schema.ENGINE_COLUMNS`:
``Segment``, ``cluster``, ``Churn_Probability``, ... compared without regard to case) becomes
``src_<name>``, reported in run.json (``input.parsing.renamed_columns``) and the printed notes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis

from .. import schema as S
from ..engine import DuckDBEngine, Engine
from ..errors import DataError
from . import numbers
from .detect import detect_columns
from .dates import read_dates

_NUMERIC = (S.AMOUNT, S.QUANTITY, S.UNIT_PRICE)
_TEXT = (S.ORDER_ID, S.PRODUCT_ID, S.DESCRIPTION, S.COUNTRY)


def standardise(
    raw: ibis.Table, explicit: Mapping[str, str], source: str, date_format: str | None,
    engine: Engine | None = None, decimal: str = "auto",
) -> tuple[ibis.Table, dict[str, str], dict[str, Any]]:
    """``engine`` parses the dates (backend-specific SQL); None: DuckDB's parser, for tables
    that run on Ibis' default backend (in-memory tables)."""
    parser = (engine or DuckDBEngine).parse_timestamp
    mapping, detection = detect_columns(raw, explicit, source)
    exprs: dict[str, ibis.Value] = {}
    checks: dict[str, tuple[str, ibis.Value]] = {}
    parse: dict[str, Any] = {"columns": detection}

    exprs[S.CUSTOMER_ID] = _customer_id(raw[mapping[S.CUSTOMER_ID]])
    text_numbers = {std: mapping[std] for std in _NUMERIC
                    if std in mapping and not raw[mapping[std]].type().is_numeric()}
    decimals = numbers.decide(raw, text_numbers, decimal)
    for std in _NUMERIC:
        if std in mapping:
            col = raw[mapping[std]]
            if std not in text_numbers:
                exprs[std] = col.cast("float64")
                continue
            mark = decimals[std]["decimal"]
            if mark is None:
                raise DataError(f"{source}: column {mapping[std]!r} ({std}) has no clear decimal mark: "
                                f"{decimals[std]['evidence']}; pass --decimal , or --decimal .")
            exprs[std] = numbers.parse(col, mark, strip(col).try_cast("float64"))
            checks[std] = ("a number", col)
    if decimals:
        parse["numbers"] = decimals
    for std in _TEXT:
        if std in mapping:
            col = raw[mapping[std]].cast("string")
            exprs[std] = strip(col) if std in (S.ORDER_ID, S.PRODUCT_ID) else col
    if S.AMOUNT not in mapping:  # quantity x price, or the price alone when each row is one item
        exprs[S.AMOUNT] = exprs[S.QUANTITY] * exprs[S.UNIT_PRICE] if S.QUANTITY in mapping else exprs[S.UNIT_PRICE]

    exprs[S.TIMESTAMP], parse[S.TIMESTAMP] = read_dates(
        raw, mapping[S.TIMESTAMP], strip, source, date_format, parser,
        lambda bad, col: _bad_rows(raw, bad, col))
    if parse[S.TIMESTAMP]["source_type"] == "string":
        parse["timestamp_format"] = parse[S.TIMESTAMP]["format"]
    _check_numbers(raw, exprs, checks, mapping, source)

    extras = {S.ROW_ID: raw[S.ROW_ID]} if S.ROW_ID in raw.columns else {}  # carried, never written
    renamed = user_names([c for c in raw.columns if c != S.ROW_ID and c not in set(mapping.values())])
    extras.update({new: raw[col] for col, new in renamed.items()})
    if any(col != new for col, new in renamed.items()):
        parse["renamed_columns"] = {col: new for col, new in renamed.items() if col != new}
    table = raw.select(**{k: exprs[k] for k in S.STANDARD_COLUMNS if k in exprs}, **extras)
    return table, mapping, parse


def user_names(columns: list[str]) -> dict[str, str]:
    """The output name of each unmapped user column: its own, or ``src_<name>`` when it would take
    a name of the engine's (:data:`customersense.schema.ENGINE_COLUMNS`) or an earlier column's,
    ignoring case (then ``src_<name>_2``, ...)."""
    taken = set()
    out = {}
    for col in columns:
        name = col
        if S.is_engine_name(name) or name.casefold() in taken:
            name, n = S.USER_PREFIX + col, 2
            while S.is_engine_name(name) or name.casefold() in taken or name.casefold() in {c.casefold() for c in columns if c != col}:
                name, n = f"{S.USER_PREFIX}{col}_{n}", n + 1
        taken.add(name.casefold())
        out[col] = name
    return out


def strip(col: ibis.Value) -> ibis.Value:
    """``col.strip()``, computed only where the first or last character may be whitespace.

    The same values: Ibis strips ``string.whitespace`` (codes 9-13 and 32), and a value whose
    first and last characters are above code 32 has nothing to strip. Most values need no
    trimming, and TRIM with a set of characters costs DuckDB several times a plain scan.
    """
    edge = (col.ascii_str() <= 32) | (col.right(1).ascii_str() <= 32)
    return ibis.ifelse(edge, col.strip(), col)


def _customer_id(col: ibis.Value) -> ibis.Value:
    """Ids become text; 13085.0 (a float id from a spreadsheet) becomes '13085'; blanks are missing."""
    if col.type().is_floating():
        return ibis.ifelse(col == col.floor(), col.cast("int64").cast("string"), col.cast("string"))
    if col.type().is_integer():
        return col.cast("string")
    text = strip(col.cast("string"))
    # No back-references in the replacement: DuckDB writes them \1, Spark $1.
    text = ibis.ifelse(text.re_search(r"^\d+\.0+$"), text.re_replace(r"\.0+$", ""), text)
    return ibis.ifelse(text == "", ibis.null("string"), text)


def _check_numbers(raw, exprs, checks, mapping, source) -> None:
    """One pass over the data: an error naming rows whose number does not parse."""
    bad = {std: (c.notnull() & (strip(c) != "") & exprs[std].isnull()) for std, (_, c) in checks.items()}
    if not bad:
        return
    found = raw.aggregate(**{f"n_{std}": b.sum() for std, b in bad.items()}).to_pyarrow().to_pylist()[0]
    for std in bad:
        n = found[f"n_{std}"]
        if n:
            raise DataError(
                f"{source}: column {mapping[std]!r} ({std}) has {n:,} values that are not numbers "
                f"({_bad_rows(raw, bad[std], checks[std][1])}); fix or remove those rows"
            )


def _bad_rows(raw: ibis.Table, bad: ibis.Value, col: ibis.Value, limit: int = 3) -> str:
    numbered = raw.mutate(_cs_row=ibis.row_number() + 1, _cs_bad=bad, _cs_val=col.cast("string"))
    rows = (
        numbered.filter(numbered._cs_bad)
        .order_by("_cs_row")
        .select("_cs_row", "_cs_val")
        .limit(limit)
        .to_pyarrow()
        .to_pylist()
    )
    return ", ".join(f"data row {r['_cs_row']}: {r['_cs_val']!r}" for r in rows)
