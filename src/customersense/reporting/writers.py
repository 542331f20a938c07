"""Atomic outputs: every file is written into a complete new folder beside the output folder,
switched in as a whole only when the whole run succeeded (:mod:`.folder`). A failed or killed
run leaves the previous outputs untouched, and no reader ever sees a half-written file or a
mix of two runs.

CSV dialect. Every CSV a run writes, from a pandas frame (:meth:`AtomicOutputs.write_csv`) or
from an engine table (:meth:`AtomicOutputs.write_table_csv`), is written by Arrow's CSV writer
through :func:`write_csv_batches`, so there is one dialect:

- UTF-8 without a byte-order mark by default (a BOM, U+FEFF, would stick to the first column
  name, ``customer_id``, in tools that do not strip it: Python's csv with ``utf-8``, awk, cut,
  many database loaders; Excel reads UTF-8 without it through Data > From Text/CSV). With
  ``output.csv_bom`` every CSV starts with the 3 bytes EF BB BF, so that Excel detects UTF-8 when
  the file is opened with a double-click.
- Comma delimiter, LF line ends on every platform, one header line of column names.
- Quoting: Arrow's "needed" style. Text values and column names are always in double quotes,
  a quote inside doubled (RFC 4180); numbers, booleans, dates and timestamps never
  are. So empty text (``""``) and a missing value (an empty field) stay apart.
- Missing values (null, NaN): an empty field.
- Formula-like text (a text value or a column name starting with ``=``, ``+``, ``-``, ``@``, a
  tab or a carriage return) gets a single quote in front (``'=HYPERLINK(...)``), as OWASP's
  CSV-injection guidance says, so a spreadsheet shows it instead of running it. Numbers are not
  text: ``-5`` stays ``-5``. The Parquet files keep the values as they are.
- Booleans: ``true`` / ``false``.
- Dates: ``2010-12-01``. Timestamps: ``2010-12-01 08:26:00``, ISO-8601 with a space (not
  ``T``), no offset for a naive timestamp (as read), UTC with ``Z`` for a zone-aware one. A
  sub-second part only for a column that has one (then every value of the column has the
  digits of its unit: ``.500000`` for microseconds).
- Integers: plain digits (an integer column stays integer: ``12``, never ``12.0``).
- Other floats: the shortest text that reads back to the same double, without a trailing
  ``.0``: ``12``, ``35.4``, ``0.0001``, ``1e-7``, ``1e+16``, ``inf``, ``-inf``.
- Money (:data:`customersense.schema.MONEY_COLUMNS`): rounded to cents and written with two
  decimals (``12.00``, ``-35.40``): the double is taken to 10 decimal places, then rounded
  half away from zero, as Excel's ROUND does (``0.005`` -> ``0.01``, ``-0.005`` -> ``-0.01``,
  ``0.025`` -> ``0.03``, ``1.005`` -> ``1.01``, ``2.675`` -> ``2.68``). A money value that is
  not finite (or beyond 1e26) is written empty. The Parquet files keep full precision.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ..errors import OutputError
from .folder import carry_foreign, check_ownership, locked, staging_name, switch
from ..schema import is_money


class AtomicOutputs:
    """Collect output files in a complete new folder beside ``out_dir``; :meth:`commit` switches
    it in as a whole (see :mod:`.folder`: lock, leftovers, ownership, the one-step exchange).

    Use as a context manager: on an exception nothing is switched, the new folder is removed
    and a full disk becomes an :class:`OutputError`. ``replaces`` names every file this command
    may write: files of earlier runs with those names (listed by their manifest) that this run
    did not write (e.g. a CSV skipped as too large) are gone after the switch, so no stale file
    is left beside fresh ones; a file with such a name that no manifest lists is refused.
    """

    def __init__(self, out_dir: str | Path, replaces: tuple[str, ...] = (), csv_bom: bool = False) -> None:
        self.out_dir = Path(out_dir)
        self.replaces = replaces
        self.csv_bom = csv_bom
        self.written: list[str] = []
        self._lock = locked(out_dir)
        self.target = self._lock.__enter__()
        try:
            check_ownership(self.target, replaces)
            self.staging = staging_name(self.target)
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging.mkdir()
        except BaseException as exc:
            self._lock.__exit__(None, None, None)
            if isinstance(exc, OSError):
                raise OutputError(f"cannot create a folder beside {self.out_dir}: {exc.strerror or exc}") from None
            raise

    def __enter__(self) -> AtomicOutputs:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
            return
        self.abort()
        if isinstance(exc, OSError) and (exc.errno in _DISK_ERRORS or "No space left" in str(exc)) \
                or "No space left on device" in str(exc):
            what = os.strerror(exc.errno) if getattr(exc, "errno", None) else "no space left on the device"
            raise OutputError(f"cannot write the outputs for {self.out_dir}: {what}; the previous outputs are "
                              "untouched (free some space or choose another --out)") from None

    def path(self, name: str) -> Path:
        """Where to write ``name`` now; the file is recorded as an output of this run."""
        if name not in self.written:
            self.written.append(name)
        return self.staging / name

    def write_json(self, name: str, data: Any) -> None:
        """Strict JSON: NaN and infinities (an unknown standard error, say) are written as null."""
        with self.path(name).open("w", encoding="utf-8") as fh:
            json.dump(_finite(data), fh, indent=2, sort_keys=False, default=_json_default, allow_nan=False)
            fh.write("\n")

    def write_csv(self, name: str, frame: pd.DataFrame) -> None:
        """``frame`` without its index, in the CSV dialect above."""
        write_csv(frame, self.path(name), bom=self.csv_bom)

    def write_table_csv(self, name: str, open_stream: Callable[[], pa.RecordBatchReader]) -> None:
        """An engine's result, streamed in Arrow batches (``open_stream()`` starts the stream), in
        the same CSV dialect."""
        write_table_csv(open_stream, self.path(name), bom=self.csv_bom)

    def write_parquet(self, name: str, frame: pd.DataFrame) -> None:
        frame.to_parquet(self.path(name), index=False)

    def commit(self) -> list[Path]:
        """Carry the user's own files into the new folder, then switch it in (one step)."""
        try:
            names = {*self.written, *self.replaces}
            check_ownership(self.target, names)  # again: a file may have appeared during the run
            carry_foreign(self.target, self.staging, names)
            switch(self.staging, self.target, names)
        except OSError as exc:
            raise OutputError(f"cannot switch the new outputs into {self.out_dir}: {exc.strerror or exc}; the "
                              "previous outputs are untouched") from None
        finally:
            self.abort()
        return [self.out_dir / n for n in self.written]

    def abort(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        if self._lock is not None:
            lock, self._lock = self._lock, None
            lock.__exit__(None, None, None)


_DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS)


def write_parquet_parts(path: Path, frames: Iterable[pd.DataFrame]) -> None:
    """Frames with the same columns into one Parquet file, one row group each, without first
    concatenating them (a dozen snapshots of a million customers stay a dozen frames)."""
    frames = list(frames)
    # the schema of a frame with rows (an empty frame's object columns have no type)
    schema = pa.Schema.from_pandas(next((f for f in frames if len(f)), frames[0]), preserve_index=False)
    with pq.ParquetWriter(path, schema) as writer:
        for frame in frames:
            writer.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False))


def _finite(data: Any) -> Any:
    """``data`` with every non-finite float (Python or numpy) replaced by None, recursively."""
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(v) for v in data]
    if isinstance(data, (float, np.floating)):
        return float(data) if np.isfinite(data) else None
    return data


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# ---- CSV -------------------------------------------------------------------------------------

CSV_OPTIONS = pa_csv.WriteOptions(
    include_header=True, delimiter=",", quoting_style="needed", quoting_header="needed", eol="\n",
)
MONEY_TYPE = pa.decimal128(38, 2)
_MONEY_WORK = pa.decimal128(38, 10)  # the double taken to 10 decimal places, then to cents
_MONEY_LIMIT = 1e26  # decimal128(38, 10) holds less than 1e28


UTF8_BOM = b"\xef\xbb\xbf"


def write_csv(frame: pd.DataFrame, path: str | Path, bom: bool = False) -> None:
    """Write ``frame`` (without its index) to ``path`` in the module's CSV dialect (``bom``: start
    with a UTF-8 byte-order mark)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)  # NaN in a float column: null
    fractions = {f.name for f in table.schema if pa.types.is_timestamp(f.type) and _has_fractions(table[f.name])}
    write_csv_batches(table.schema, table.to_batches(), path, fractions, bom)


def write_table_csv(open_stream: Callable[[], pa.RecordBatchReader], path: str | Path, bom: bool = False) -> None:
    """Write a stream of Arrow batches (an engine's result, e.g. ``engine.record_batches(expr)``)
    to ``path`` in the module's CSV dialect, batch by batch (bounded memory).

    Timestamps are written to the second. Should a batch hold a sub-second part, the file is
    written again from a new stream with that column's fractions kept for every row (rare:
    transaction times come to the second or minute), so no extra query runs up front.
    """
    fractions: set[str] = set()
    while True:
        reader = open_stream()
        try:
            write_csv_batches(reader.schema, reader, path, fractions, bom)
            return
        except _SubSecond as found:
            fractions.add(found.column)
        finally:
            reader.close()


def write_csv_batches(schema: pa.Schema, batches: Iterable[pa.RecordBatch], path: str | Path,
                      fractions: set[str] = frozenset(), bom: bool = False) -> None:
    """The one CSV writer: ``batches`` of ``schema`` to ``path``.

    ``fractions`` names the timestamp columns that have a sub-second part somewhere (decided
    over the whole column, so every batch is written alike); the others are written to the second.
    """
    target = pa.schema([pa.field(escaped_name(f.name), _csv_type(f, fractions)) for f in schema])
    with open(path, "wb") as sink:
        if bom:
            sink.write(UTF8_BOM)
        with pa_csv.CSVWriter(sink, target, write_options=CSV_OPTIONS) as writer:
            for batch in batches:
                if batch.num_rows:
                    writer.write_batch(_prepare(batch, target))


def _csv_type(field: pa.Field, fractions: set[str]) -> pa.DataType:
    """The type a column is written as (see the module docstring)."""
    t = field.type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if is_money(field.name) and pa.types.is_floating(t):
        return MONEY_TYPE
    if pa.types.is_timestamp(t) and field.name not in fractions:
        return pa.timestamp("s", tz=t.tz)
    return t


def _prepare(batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    columns = []
    for col, field, source in zip(batch.columns, target, batch.schema):
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            col = escape_formulas(col)
        if field.type == MONEY_TYPE and pa.types.is_floating(col.type):
            col = cents(col)
        elif pa.types.is_floating(col.type):
            col = _nan_to_null(col)
        elif pa.types.is_timestamp(col.type) and col.type != field.type:
            if _has_fractions(col):
                raise _SubSecond(source.name)
            col = col.cast(field.type)  # to the second: exact, there is no fraction
        elif col.type != field.type:
            col = col.cast(field.type)
        columns.append(col)
    return pa.RecordBatch.from_arrays(columns, schema=target)


FORMULA_START = r"^[=+\-@\t\r]"


def escape_formulas(values: pa.Array) -> pa.Array:
    """Text a spreadsheet would run as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab
    or a carriage return) with a single quote in front, as OWASP's CSV-injection guidance says:
    ``=HYPERLINK("http://x")`` is written ``'=HYPERLINK("http://x")``. Numbers are not text and
    stay as they are (``-5``)."""
    formula = pc.fill_null(pc.match_substring_regex(values, FORMULA_START), False)
    if not pc.any(formula).as_py():
        return values
    return pc.if_else(formula, pc.binary_join_element_wise(pa.scalar("'", values.type), values, pa.scalar("", values.type)), values)


def escaped_name(name: str) -> str:
    """A column name (a header cell) escaped like text values."""
    return "'" + name if re.match(FORMULA_START, name) else name


def cents(values: pa.Array) -> pa.Array:
    """Money to cents as ``decimal128(38, 2)``: 10 decimal places, then half away from zero."""
    finite = pc.and_(pc.is_finite(values), pc.less(pc.abs(values), _MONEY_LIMIT))
    all_finite = pc.all(finite).as_py() is not False
    if not all_finite:
        values = pc.if_else(finite, values, 0.0)
    out = pc.round(pc.cast(values, _MONEY_WORK), 2, round_mode="half_towards_infinity").cast(MONEY_TYPE)
    if not all_finite:
        out = pc.if_else(finite, out, pa.scalar(None, MONEY_TYPE))
    return out


def _nan_to_null(values: pa.Array) -> pa.Array:
    nan = pc.is_nan(values)
    if not pc.any(nan).as_py():
        return values
    return pc.if_else(nan, pa.scalar(None, values.type), values)


class _SubSecond(Exception):
    """A timestamp column that was to be written to the second has a sub-second part."""

    def __init__(self, column: str) -> None:
        super().__init__(column)
        self.column = column


def _has_fractions(values: pa.Array | pa.ChunkedArray) -> bool:
    return bool(pc.any(pc.not_equal(pc.floor_temporal(values, unit="second"), values)).as_py())
