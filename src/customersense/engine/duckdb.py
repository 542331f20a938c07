"""DuckDB as the engine: embedded, in-process, spilling to the run's scratch folder.

DuckDB keeps the input order for free (a Parquet file's index and row number, a table's
rowid), so the outputs list rows in the order they came in. Customer-level results are
streamed out in batches: a whole result held inside the engine would count against its
memory limit (at 5M customers, about a GB).
"""

from __future__ import annotations

import datetime as _dt
import itertools
import os
import warnings
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa

from .. import schema as S
from ..config import EngineConfig
from ..errors import InputError
from ..progress import ProgressFn, listening
from .base import first_line, sql_text

FILE_STRIDE = 2**40  # row ids: file index x this + row number in the file
_TABLES = itertools.count()
_ATTACHED = itertools.count()


# The engine's default share of the machine: a quarter of its memory, at most 4 GiB. The run
# also holds customer-level tables and models in Python beside it, and a laptop has 8-16 GB:
# beyond this the engine spills to the run's scratch folder (docs/benchmarks.md section 8).
MEMORY_SHARE = 4
MEMORY_CAP_MIB = 4096
RELEASE_TO = "64MiB"  # the limit release_memory lowers to for a moment


def default_memory_limit() -> str | None:
    """A quarter of the machine's physical memory, at most 4 GiB, in DuckDB's notation (e.g.
    "4096MiB"); None (DuckDB's own default) where the system does not say."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
    return f"{max(min(total // MEMORY_SHARE // 2**20, MEMORY_CAP_MIB), 256)}MiB"


@ibis.udf.scalar.builtin(name="try_strptime")
def _try_strptime(value: str, fmt: str) -> _dt.datetime:  # pragma: no cover - executed by DuckDB
    """DuckDB's TRY_STRPTIME: NULL where the text does not match the format."""


MAX_LINE_BYTES = 16 << 20


class DuckDBEngine:
    """The default engine (see :class:`customersense.engine.base.Engine`)."""

    name = "duckdb"
    writes_single_files = True
    max_collect_customers = None  # in-process: the customer table always comes back
    utf8_encodings = ("utf8", "utf8sig")  # CSV encodings read as they are (DuckDB skips a BOM)

    def __init__(self, cfg: EngineConfig | None = None) -> None:
        cfg = cfg or EngineConfig()
        kwargs: dict[str, Any] = {}
        if cfg.threads is not None:
            kwargs["threads"] = cfg.threads
        # DuckDB's own default is 80% of the memory; the run also holds customer tables in
        # Python next to it, so by default the engine gets a quarter (at most 4 GiB) and spills.
        limit = cfg.memory_limit or default_memory_limit()
        if limit is not None:
            kwargs["memory_limit"] = limit
        self._memory_limit = limit  # restored as given after release_memory
        # Time zone: UTC, so that a time-zone-aware column becomes the same naive (UTC) time on
        # every machine (DuckDB's default is the machine's zone); see io/dates.py.
        self.backend = ibis.duckdb.connect(**kwargs)  # extra keyword arguments become settings
        self.backend.raw_sql("SET TimeZone = 'UTC'")

    # -- reading ----------------------------------------------------------------------------
    def read_parquet(self, paths: list[str]) -> ibis.Table:
        """The files in order, each row numbered by its file and its place in it (free: DuckDB's
        reader knows both), so the order survives the parallel scans that follow."""
        plain = self.backend.read_parquet(paths if len(paths) > 1 else paths[0])
        if {"file_index", "file_row_number"} & set(plain.columns):
            return plain  # the file's own columns hide DuckDB's; numbered by number_rows instead
        files = ", ".join(sql_text(p) for p in paths)
        return self.backend.sql(
            f'SELECT *, file_index::BIGINT * {FILE_STRIDE} + file_row_number AS "{S.ROW_ID}" '
            f"FROM read_parquet([{files}])"
        )

    def read_csv(self, path: str, delimiter: str) -> ibis.Table:
        # A field may be long (a description, a JSON blob): lines up to 16 MiB, not DuckDB's 2 MiB;
        # the buffer is set too (DuckDB's default, 16 lines, would be 256 MiB per thread).
        raw = self.backend.read_csv(path, delim=delimiter, header=True, all_varchar=True, quote='"',
                                    null_padding=True, max_line_size=MAX_LINE_BYTES,
                                    buffer_size=2 * MAX_LINE_BYTES)
        # Parsed once into a (spillable) table: every later query would parse the text again.
        return self._with_rowid(self.materialize(raw, "csv"))

    def read_lines(self, path: str, skip: int = 0) -> ibis.Table:
        return self.backend.read_csv(
            path, columns={"line": "VARCHAR"}, delim="\x1f", header=False, quote="", escape="", skip=skip,
        )

    def read_database_table(self, path: str, table: str | None,
                            allow_views: bool = False) -> tuple[ibis.Table, str]:
        """A table of a DuckDB database file, attached read-only (the file is never written).
        Only base tables unless ``allow_views``: a view is a query stored in the file, and a
        query can read any file this process can (``read_text('/etc/...')``, ``read_csv``)."""
        alias = f"cs_source_{next(_ATTACHED)}"
        con = self.backend
        try:
            con.attach(path, name=alias, read_only=True)
        except Exception as exc:
            raise InputError(f"{path}: cannot open as a DuckDB database: {first_line(exc)}") from None
        kinds = dict(con.raw_sql(
            "SELECT table_name, table_type FROM information_schema.tables "
            f"WHERE table_catalog = {sql_text(alias)} AND table_schema = 'main' ORDER BY table_name").fetchall())
        tables = [t for t, kind in kinds.items() if kind == "BASE TABLE" or allow_views]
        views = [t for t, kind in kinds.items() if kind != "BASE TABLE"]
        if table is None:
            if len(tables) != 1:
                raise InputError(f"{path}: name the table with --table; tables: {', '.join(tables) or '(none)'}"
                                 + (f" (views, not read: {', '.join(views)})" if views and not allow_views else ""))
            table = tables[0]
        if table in views and not allow_views:
            raise InputError(f"{path}: {table!r} is a view, a query stored in the file that can read other files of "
                             "this machine; only base tables are read (--allow-views if you trust this database)")
        if table not in tables:
            raise InputError(f"{path}: no table {table!r}; tables: {', '.join(tables) or '(none)'}")
        try:  # a table's rowid is its storage order; a view has none (numbered by number_rows)
            return con.sql(f'SELECT *, rowid AS "{S.ROW_ID}" FROM "{alias}".main."{table}"'), table
        except Exception:
            return con.table(table, database=(alias, "main")), table

    def read_catalog_table(self, name: str) -> ibis.Table:
        raise InputError(f"--table {name!r} without a source names a Spark catalog table; use --engine spark, "
                         "or give the DuckDB database file")

    def head_text(self, path: str, lines: int = 50) -> str:
        raise InputError(f"{path}: not a local file; the DuckDB engine reads local files")

    def is_remote(self, source: str) -> bool:
        return False

    def number_rows(self, raw: ibis.Table) -> ibis.Table:
        if S.ROW_ID in raw.columns:
            return raw
        # Small sources (Excel, CDNOW text, a view): numbered in one ordered, single-threaded pass.
        return raw.mutate(**{S.ROW_ID: ibis.row_number()})

    def _with_rowid(self, table: ibis.Table) -> ibis.Table:
        """A materialised table with its rows' positions (DuckDB's rowid: the insertion order)."""
        return self.backend.sql(f'SELECT *, rowid AS "{S.ROW_ID}" FROM temp.main."{table.op().name}"')

    # -- computing --------------------------------------------------------------------------
    def materialize(self, expr: ibis.Table, prefix: str = "cs") -> ibis.Table:
        """A temporary table that lives as long as the engine and spills when it does not fit."""
        return self.backend.create_table(f"_{prefix}_{next(_TABLES)}", expr, temp=True)

    def upload(self, frame, prefix: str = "cs") -> ibis.Table:
        """In the engine, each row numbered by its place in ``frame`` (the insertion order)."""
        table = frame if isinstance(frame, ibis.Table) else ibis.memtable(frame)
        return self._with_rowid(self.materialize(table, prefix))

    @staticmethod
    def parse_timestamp(value: ibis.Value, fmt: str | None) -> ibis.Value:
        return value.try_cast("timestamp") if fmt is None else _try_strptime(value, fmt)

    def fetch(self, expr: ibis.Table, batch_rows: int = 1_000_000) -> pd.DataFrame:
        if expr._find_backend(use_default=True).name != "duckdb":  # a memtable bound elsewhere
            return expr.to_pandas()
        with warnings.catch_warnings():  # Ibis 12 calls DuckDB's deprecated fetch_record_batch
            warnings.filterwarnings("ignore", "fetch_record_batch", DeprecationWarning)
            parts = list(expr.to_pandas_batches(chunk_size=batch_rows))
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return expr.limit(0).to_pandas()
        return pd.concat(parts, ignore_index=True)

    def watch(self, progress: ProgressFn | None) -> AbstractContextManager[None]:
        if not listening(progress):
            return nullcontext()
        from .watch import query_progress

        return query_progress(self.backend.con, progress)

    # -- writing ----------------------------------------------------------------------------
    def write_parquet(self, expr: ibis.Table, path: Path) -> None:
        expr.to_parquet(path)

    def map_batches(self, expr: ibis.Table, fn, added: dict[str, str], prefix: str = "cs") -> ibis.Table:
        """In this process, batch by batch (DuckDB keeps no Python workers)."""
        schema = ibis.schema({**expr.schema(), **added})
        batches = (batch.to_pandas() for batch in self.record_batches(expr))
        parts = [part for part in fn(batches) if len(part)]
        frame = (pd.concat(parts, ignore_index=True) if parts
                 else pd.DataFrame({name: pd.Series(dtype=object) for name in schema.names}))
        return self.materialize(ibis.memtable(frame[list(schema.names)], schema=schema), prefix)

    def record_batches(self, expr: ibis.Table, batch_rows: int = 1_000_000) -> Any:
        reader = expr.to_pyarrow_batches(chunk_size=batch_rows)

        def batches():
            while True:
                with warnings.catch_warnings():  # Ibis 12 calls DuckDB's deprecated fetch_record_batch
                    warnings.filterwarnings("ignore", "fetch_record_batch", DeprecationWarning)
                    batch = next(reader, None)
                if batch is None:
                    return
                yield batch

        return pa.RecordBatchReader.from_batches(reader.schema, batches())

    # -- lifetime ---------------------------------------------------------------------------
    def spill_to(self, folder: Path) -> None:
        self.backend.raw_sql(f"SET temp_directory = {sql_text(str(folder))}")

    def release_memory(self) -> None:
        """Lower the memory limit for a moment: DuckDB then writes its temporary tables' pages to
        the scratch folder (:meth:`spill_to`) and frees them, and reads them back when a query
        next needs them; the limit is then restored. Where it cannot free that much (no scratch
        folder, pages in use) it keeps what it has: nothing is lost either way."""
        limit = self._memory_limit or self.backend.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0]
        try:
            self.backend.raw_sql(f"SET memory_limit = '{RELEASE_TO}'")
        except Exception as exc:  # noqa: BLE001 - DuckDB refuses what it cannot free; that is all
            if "memory" not in str(exc).lower():
                raise
        finally:
            self.backend.raw_sql(f"SET memory_limit = {sql_text(limit)}")

    def is_out_of_memory(self, exc: BaseException) -> bool:
        """DuckDB could not stay within its memory limit (named, so no import of duckdb)."""
        return type(exc).__name__ == "OutOfMemoryException"

    def close(self) -> None:
        self.backend.disconnect()
