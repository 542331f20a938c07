"""``frame.to_csv(path, index=False)``, the same bytes, several times faster for wide tables.

pandas formats each float with numpy (``astype(str)``, slow) and passes every cell through the
csv module. Here each column becomes text once: floats with Python's ``repr`` (the same shortest
round-trip text numpy gives for float64), integers with ``str``, booleans as True/False, missing
values empty; only the few text cells that need quoting go through the csv module, with the
dialect pandas uses. A column of any other type sends the whole frame to pandas.
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

_CHUNK = 20_000  # rows turned into text at a time: bounded memory
_SPECIAL = re.compile(r'[,"\r\n]')


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write ``frame`` without its index, exactly as ``frame.to_csv(path, index=False)``."""
    kinds = _kinds(frame)
    if kinds is None:
        frame.to_csv(path, index=False)
        return
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(_quoted([str(c) for c in frame.columns])) + os.linesep)
        for start in range(0, len(frame), _CHUNK):
            part = frame.iloc[start:start + _CHUNK]
            columns = [_text(part.iloc[:, j], kind) for j, kind in enumerate(kinds)]
            fh.write("".join(",".join(row) + os.linesep for row in zip(*columns)))


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


def _text(col: pd.Series, kind: str) -> list[str]:
    if kind == "float":
        values = col.to_numpy()
        out = list(map(float.__repr__, values.tolist()))
        for i in np.flatnonzero(np.isnan(values)).tolist():
            out[i] = ""
        return out
    if kind == "int":
        return list(map(str, col.to_numpy().tolist()))
    if kind == "bool":
        return ["True" if v else "False" for v in col.to_numpy().tolist()]
    values = col.astype(object).where(col.notna(), "").tolist()
    return _quoted(values)


def _quoted(values: list[str]) -> list[str]:
    """Cells as the csv module writes them (quoted when they hold a comma, quote or newline)."""
    special = [i for i, v in enumerate(values) if _SPECIAL.search(v)]
    if special:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator=os.linesep, quoting=csv.QUOTE_MINIMAL, quotechar='"',
                            doublequote=True, escapechar=None, delimiter=",")
        values = list(values)
        for i in special:
            buf.seek(0)
            buf.truncate()
            writer.writerow([values[i]])
            values[i] = buf.getvalue()[: -len(os.linesep)]
    return values
