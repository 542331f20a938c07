"""Map raw columns to the standard names and types, once, and refuse values that do not parse.

Types after this step: customer_id, order_id, product_id, description, country: string;
timestamp: timestamp; amount, quantity, unit_price: float64. ``amount`` is
quantity x unit_price when the source has no amount column. Unmapped columns are kept
under their own names so that exact-duplicate detection sees the whole row, and every one
reaches the outputs; a name of the engine's namespace (:data:`customersense.schema.ENGINE_COLUMNS`:
``Segment``, ``cluster``, ``Churn_Probability``, ... compared without regard to case) becomes
``src_<name>``, reported in run.json (``input.parsing.renamed_columns``) and the printed notes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import ibis

from .. import schema as S
from ..engine import DuckDBEngine, Engine
from ..errors import DataError
from . import numbers

# Tried in order; the first that parses every sampled value wins. None = ISO-8601.
DATE_FORMATS: tuple[str | None, ...] = (
    None,
    "%Y%m%d",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
)
_SAMPLE = 5000
_NO_FORMAT = object()  # no candidate parses the whole column
_NUMERIC = (S.AMOUNT, S.QUANTITY, S.UNIT_PRICE)
_TEXT = (S.ORDER_ID, S.PRODUCT_ID, S.DESCRIPTION, S.COUNTRY)


def standardise(
    raw: ibis.Table, explicit: Mapping[str, str], source: str, date_format: str | None,
    engine: Engine | None = None, decimal: str = "auto",
) -> tuple[ibis.Table, dict[str, str], dict[str, Any]]:
    """``engine`` parses the dates (backend-specific SQL); None: DuckDB's parser, for tables
    that run on Ibis' default backend (in-memory tables)."""
    parser = (engine or DuckDBEngine).parse_timestamp
    mapping = S.resolve_mapping([c for c in raw.columns if c != S.ROW_ID], explicit, source)
    exprs: dict[str, ibis.Value] = {}
    checks: dict[str, tuple[str, ibis.Value]] = {}
    parse: dict[str, Any] = {}

    exprs[S.CUSTOMER_ID] = _customer_id(raw[mapping[S.CUSTOMER_ID]])
    ts_col = raw[mapping[S.TIMESTAMP]]
    candidates = _date_candidates(raw, ts_col, date_format, parser)
    text_numbers = {std: mapping[std] for std in _NUMERIC if std in mapping and not raw[mapping[std]].type().is_numeric()}
    decimals = numbers.decide(raw, text_numbers, decimal)
    for std in _NUMERIC:
        if std in mapping:
            col = raw[mapping[std]]
            if std not in text_numbers:
                exprs[std] = col.cast("float64")
                continue
            mark = decimals[std]["decimal"]
            if mark is None:
                raise DataError(f"{source}: column {mapping[std]!r} ({std}) mixes decimal marks: "
                                f"{decimals[std]['evidence']}; pass --decimal , or --decimal .")
            exprs[std] = numbers.parse(col, mark, strip(col).try_cast("float64"))
            checks[std] = ("a number", col)
    if decimals:
        parse["numbers"] = decimals
    for std in _TEXT:
        if std in mapping:
            col = raw[mapping[std]].cast("string")
            exprs[std] = strip(col) if std in (S.ORDER_ID, S.PRODUCT_ID) else col
    if S.AMOUNT not in mapping:
        exprs[S.AMOUNT] = exprs[S.QUANTITY] * exprs[S.UNIT_PRICE]

    chosen = _validate(raw, ts_col, candidates, exprs, checks, mapping, source, date_format, parser)
    exprs[S.TIMESTAMP] = _timestamp(ts_col, chosen, parser)
    if ts_col.type().is_string():
        parse["timestamp_format"] = chosen or "ISO-8601"
        others = [c for c in candidates if c != chosen]
        if others:
            parse["timestamp_sample_also_parses_as"] = [c or "ISO-8601" for c in others]

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


def _timestamp(col: ibis.Value, fmt: str | None, parser: Callable) -> ibis.Value:
    t = col.type()
    if t.is_timestamp():
        return col.cast("timestamp")
    if t.is_date():
        return col.cast("timestamp")
    if t.is_integer():
        return parser(col.cast("string"), "%Y%m%d")
    return parser(strip(col.cast("string")), fmt)


def _date_candidates(raw: ibis.Table, col: ibis.Value, date_format: str | None,
                     parser: Callable) -> list[str | None]:
    """Formats that parse every value of a sample of the column, best first."""
    if not col.type().is_string():
        return [None]
    if date_format is not None:
        return [date_format]
    sample = raw.filter(col.notnull() & (col.strip() != "")).select(v=col.strip()).limit(_SAMPLE)
    fails = sample.aggregate(
        **{f"f{i}": parser(sample.v, f).isnull().sum() for i, f in enumerate(DATE_FORMATS)}
    ).to_pyarrow().to_pylist()[0]
    good = [f for i, f in enumerate(DATE_FORMATS) if (fails[f"f{i}"] or 0) == 0]
    if good:
        return good
    best = min(range(len(DATE_FORMATS)), key=lambda i: fails[f"f{i}"])
    return [DATE_FORMATS[best]]


def _validate(raw, col, candidates, exprs, checks, mapping, source, date_format, parser) -> str | None:
    """One pass over the data: the timestamp format to use (the first candidate that parses the
    whole column), or an error naming rows whose date, then rows whose number, does not parse."""
    counts: dict[str, ibis.Value] = {}
    present = None
    if col.type().is_string():
        present = col.notnull() & (strip(col) != "")
        for i, f in enumerate(candidates):
            counts[f"f{i}"] = (present & _timestamp(col, f, parser).isnull()).sum()
    bad = {std: (c.notnull() & (strip(c) != "") & exprs[std].isnull()) for std, (_, c) in checks.items()}
    counts.update({f"n_{std}": b.sum() for std, b in bad.items()})
    found = raw.aggregate(**counts).to_pyarrow().to_pylist()[0] if counts else {}
    chosen = candidates[0]
    if present is not None:
        chosen = next((f for i, f in enumerate(candidates) if (found[f"f{i}"] or 0) == 0), _NO_FORMAT)
        if chosen is _NO_FORMAT:
            examples = _bad_rows(raw, present & _timestamp(col, candidates[0], parser).isnull(), col)
            tried = date_format or ", ".join(f or "ISO-8601" for f in DATE_FORMATS)
            raise DataError(
                f"{source}: column {mapping[S.TIMESTAMP]!r} has {found['f0']:,} values that are not dates "
                f"({examples}); fix them or pass --date-format (tried {tried})"
            )
    for std in bad:
        n = found[f"n_{std}"]
        if n:
            raise DataError(
                f"{source}: column {mapping[std]!r} ({std}) has {n:,} values that are not numbers "
                f"({_bad_rows(raw, bad[std], checks[std][1])}); fix or remove those rows"
            )
    return chosen


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
