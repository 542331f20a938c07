"""``frame.to_csv(path, index=False)``, the same bytes, several times faster for wide tables.

pandas formats each float with numpy (``astype(str)``, slow) and passes every cell through the
csv module. Here each column becomes text once, in Arrow: floats with Arrow's shortest
round-trip text (the digits Python's ``repr`` gives), put into ``repr``'s notation (".0" after
an integral value; the few values that ``repr`` writes with an exponent, or Arrow does, go
through ``repr`` itself), integers as decimal text, booleans as True/False, missing values
empty, text quoted where it holds a comma, a quote or the line terminator (the csv module's
minimal quoting, pandas' dialect). Rows are joined in Arrow too. A column of any other type
sends the whole frame to pandas.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_CHUNK = 200_000  # rows turned into text at a time: bounded memory
# What the csv module quotes: the delimiter, the quote and the line terminator's characters.
_SPECIAL_CHARS = tuple(dict.fromkeys(',"' + os.linesep))


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write ``frame`` without its index, exactly as ``frame.to_csv(path, index=False)``."""
    kinds = _kinds(frame)
    if kinds is None:
        frame.to_csv(path, index=False)
        return
    with open(path, "wb") as fh:
        header = _text(pd.Series([str(c) for c in frame.columns], dtype=object), "text").to_pylist()
        fh.write((",".join(header) + os.linesep).encode("utf-8"))
        for start in range(0, len(frame), _CHUNK):
            part = frame.iloc[start:start + _CHUNK]
            cells = [_text(part.iloc[:, j], kind) for j, kind in enumerate(kinds)]
            lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*cells, ","), os.linesep, "")
            fh.write(_utf8_bytes(lines))


def _utf8_bytes(lines: pa.Array) -> memoryview:
    """The concatenated text of a string array (its data buffer between the first and last offset)."""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
    first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
    return memoryview(lines.buffers()[2])[first:last]


def _kinds(frame: pd.DataFrame) -> list[str] | None:
    """Each column's kind, or None when pandas must write the frame."""
    if frame.columns.duplicated().any() or len(frame.columns) < 2:
        return None  # a one-column row of an empty value is quoted by the csv module
    kinds = [_kind(frame[c]) for c in frame.columns]
    return None if None in kinds else kinds


def _kind(col: pd.Series) -> str | None:
    dtype = col.dtype
    if isinstance(dtype, np.dtype):
        if dtype == np.float64:
            return "float"
        if dtype.kind in "iu":
            return "int"
        if dtype == np.bool_:
            return "bool"
        if dtype == object and col.map(type).isin([str]).where(col.notna(), True).all():
            return "text"
        return None
    if isinstance(dtype, pd.StringDtype):
        return "text"
    return None


def _text(col: pd.Series, kind: str) -> pa.Array:
    if kind == "float":
        return _float_text(col.to_numpy())
    if kind == "int":
        return pa.array(col.to_numpy()).cast(pa.string())
    if kind == "bool":
        return pc.if_else(pa.array(col.to_numpy()), "True", "False")
    values = pa.array(col, type=pa.string(), from_pandas=True)
    if isinstance(values, pa.ChunkedArray):  # pandas' Arrow-backed strings may come in chunks
        values = values.combine_chunks()
    values = pc.fill_null(values, "")  # NaN and None: empty
    special = None
    for char in _SPECIAL_CHARS:
        hit = pc.match_substring(values, char)
        special = hit if special is None else pc.or_(special, hit)
    if not pc.any(special).as_py():
        return values
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(values, '"', '""'), '"', "")
    return pc.if_else(special, quoted, values)


def _float_text(values: np.ndarray) -> pa.Array:
    """repr() of each float, "" for NaN."""
    text = pa.array(values).cast(pa.string())
    size = np.abs(values)
    # repr writes 1e-4 <= |x| < 1e16 (and 0) without an exponent; where Arrow does too, the
    # text is the same apart from repr's ".0" after an integral value.
    plain = np.isfinite(values) & ((size == 0) | ((size >= 1e-4) & (size < 1e16)))
    plain &= ~pc.match_substring(text, "e").to_numpy(zero_copy_only=False)
    integral = ~pc.match_substring(text, ".").to_numpy(zero_copy_only=False)
    text = pc.if_else(pa.array(plain & integral), pc.binary_join_element_wise(text, ".0", ""), text)
    nan = np.isnan(values)
    other = np.flatnonzero(~plain & ~nan)
    if len(other):
        text = pc.replace_with_mask(text, pa.array(~plain & ~nan), pa.array([repr(v) for v in values[other].tolist()]))
    if nan.any():
        text = pc.if_else(pa.array(nan), "", text)
    return text
