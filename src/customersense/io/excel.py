"""Workbooks: .xlsx/.xlsm through openpyxl (read-only, cached values), legacy .xls through
python-calamine. The cells pass through Arrow as text on their way into the engine (no embedded
engine reads a workbook without a network extension); dates keep their ISO form.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

import ibis
import pyarrow as pa

from ..engine.base import first_line
from ..errors import InputError


def read_workbook(path: str, sheet: str | None, legacy: bool) -> tuple[ibis.Table, list[str]]:
    """The chosen sheet(s) (``None``: the first; ``"all"``: every sheet, same columns) as one
    table of text columns, and the names of the sheets read."""
    try:
        book = _Calamine(path) if legacy else _Openpyxl(path)
    except InputError:
        raise
    except Exception as exc:
        kind = "a legacy Excel (.xls)" if legacy else "an Excel"
        raise InputError(f"{path}: cannot open as {kind} workbook: {first_line(exc)}") from None
    try:
        names = book.sheet_names()
        if sheet is None:
            chosen = names[:1]
        elif sheet == "all":
            chosen = names
        elif sheet in names:
            chosen = [sheet]
        else:
            raise InputError(f"{path}: no sheet {sheet!r}; sheets: {', '.join(names)}")
        header: list[str] | None = None
        columns: list[list[Any]] = []
        for name in chosen:
            rows = book.rows(name)
            first = next(rows, None)
            if first is None:
                continue
            this = _unique([_header(c, i) for i, c in enumerate(first)])
            if header is None:
                header = this
                columns = [[] for _ in header]
            elif this != header:
                raise InputError(f"{path}: sheet {name!r} has other columns than sheet {chosen[0]!r}")
            for row in rows:
                if all(v is None or v == "" for v in row):
                    continue
                for i in range(len(header)):
                    columns[i].append(row[i] if i < len(row) else None)
    finally:
        book.close()
    if header is None:
        raise InputError(f"{path}: the workbook has no rows")
    arrow = pa.table({name: _column(col) for name, col in zip(header, columns)})
    return ibis.memtable(arrow), chosen


def _column(values: list[Any]) -> pa.Array:
    """A column of number cells stays a number (int64 when every one is whole, else float64): a typed
    number has no decimal mark to guess. Anything else becomes text (see :func:`cell_text`)."""
    present = [v for v in values if v is not None and v != ""]
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        if all(float(v).is_integer() and abs(v) < 2**63 for v in present):
            return pa.array([None if v is None or v == "" else int(v) for v in values], type=pa.int64())
        return pa.array([None if v is None or v == "" else float(v) for v in values], type=pa.float64())
    return pa.array([cell_text(v) for v in values], type=pa.string())


def _unique(names: list[str]) -> list[str]:
    """Repeated header names get a suffix (Sales, Sales_2), as DuckDB does for CSV headers."""
    seen: set[str] = set()
    out = []
    for name in names:
        new, n = name, 1
        while new in seen:
            n += 1
            new = f"{name}_{n}"
        seen.add(new)
        out.append(new)
    return out


def _header(cell: Any, i: int) -> str:
    text = "" if cell is None else str(cell).strip()
    return text or f"column_{i + 1}"


def cell_text(value: Any) -> str | None:
    """A cell as text: dates in ISO form, whole floats without '.0' (ids typed into a sheet)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):  # calamine gives durations for time-only cells
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _Openpyxl:
    def __init__(self, path: str) -> None:
        import openpyxl

        # A file object: openpyxl judges a path by its extension, the reader by the bytes.
        self.handle = open(path, "rb")
        try:
            self.book = openpyxl.load_workbook(self.handle, read_only=True, data_only=True)
        except Exception:
            self.handle.close()
            raise

    def sheet_names(self) -> list[str]:
        return list(self.book.sheetnames)

    def rows(self, name: str) -> Iterator[tuple]:
        return self.book[name].iter_rows(values_only=True)

    def close(self) -> None:
        self.book.close()
        self.handle.close()


class _Calamine:
    def __init__(self, path: str) -> None:
        from python_calamine import CalamineWorkbook

        self.book = CalamineWorkbook.from_path(path)

    def sheet_names(self) -> list[str]:
        return list(self.book.sheet_names)

    def rows(self, name: str) -> Iterator[Iterable]:
        return iter(self.book.get_sheet_by_name(name).to_python(skip_empty_area=False))

    def close(self) -> None:
        close = getattr(self.book, "close", None)
        if close is not None:
            close()
