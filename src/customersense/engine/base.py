"""The engine protocol: the few things a run asks of the backend that holds the transactions.

Stages build Ibis expressions and hand them to an :class:`Engine` to read, materialise, fetch
and write; what differs between DuckDB and Spark (SQL functions, readers, row positions,
caching, progress, memory errors) lives behind these methods, nowhere else. A test double
only has to implement this protocol (see ``tests/engine/test_engine_double.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import ibis
import pandas as pd
import pyarrow as pa

from ..progress import ProgressFn


@runtime_checkable
class Engine(Protocol):
    """One backend for one run. ``name`` is ``"duckdb"`` or ``"spark"``; ``backend`` is the Ibis
    connection that expressions are bound to (for the rare caller that needs Ibis itself)."""

    name: str
    backend: Any
    #: whether an output is one file (DuckDB), not a folder of parts written by executors
    #: (Spark, which then writes no CSV: a CSV would have to pass through the driver).
    writes_single_files: bool
    #: above this many customers the customer table stays in the engine: the models are fitted
    #: on a sample and every customer is scored inside it (None: always fetched).
    max_collect_customers: int | None
    #: CSV encodings (lower case, no dashes) the engine reads as they are; others are transcoded.
    utf8_encodings: tuple[str, ...]

    # -- reading ------------------------------------------------------------------------------
    def read_parquet(self, paths: list[str]) -> ibis.Table: ...

    def read_csv(self, path: str, delimiter: str) -> ibis.Table:
        """Every column as text, RFC 4180 quoting, short rows padded with NULL."""

    def read_lines(self, path: str, skip: int = 0) -> ibis.Table:
        """One row per line of a text file, in a column ``line``."""

    def read_database_table(self, path: str, table: str | None,
                            allow_views: bool = False) -> tuple[ibis.Table, str]: ...

    def read_catalog_table(self, name: str) -> ibis.Table: ...

    def head_text(self, path: str, lines: int = 50) -> str:
        """The first lines of a file only the engine can see (remote storage)."""

    def is_remote(self, source: str) -> bool: ...

    def number_rows(self, raw: ibis.Table) -> ibis.Table:
        """``raw`` with ``schema.ROW_ID`` (its rows' input positions) where the engine has an input
        order, so that outputs list rows as they came in; unchanged on Spark, which has none
        across executors (its outputs are sorted by columns instead)."""

    # -- computing ----------------------------------------------------------------------------
    def materialize(self, expr: ibis.Table, prefix: str = "cs") -> ibis.Table:
        """Execute ``expr`` once; later stages read the result instead of recomputing it."""

    def upload(self, frame: pd.DataFrame | ibis.Table, prefix: str = "cs") -> ibis.Table:
        """An in-memory table (pandas, Arrow or an Ibis memtable) placed in the engine."""

    def parse_timestamp(self, value: ibis.Value, fmt: str | None) -> ibis.Value:
        """Text to timestamp, NULL where it does not parse (ISO-8601 when ``fmt`` is None)."""

    def fetch(self, expr: ibis.Table, batch_rows: int = 1_000_000) -> pd.DataFrame:
        """A customer-level result as pandas, in batches where the engine can."""

    def record_batches(self, expr: ibis.Table, batch_rows: int = 1_000_000) -> pa.RecordBatchReader:
        """A result streamed as Arrow batches, for a writer that formats it itself (the CSV
        outputs); each call runs the query again."""

    def map_batches(self, expr: ibis.Table, fn: Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]],
                    added: dict[str, str], prefix: str = "cs") -> ibis.Table:
        """``fn`` applied to ``expr`` batch by batch inside the engine (pandas frames in, the same
        rows with the ``added`` columns out: name -> Ibis type name); a materialised table."""

    def watch(self, progress: ProgressFn | None) -> AbstractContextManager[None]:
        """While the block runs, report the running query's progress to ``progress``."""

    # -- writing ------------------------------------------------------------------------------
    def write_parquet(self, expr: ibis.Table, path: Path) -> None: ...

    # -- lifetime -----------------------------------------------------------------------------
    def spill_to(self, folder: Path) -> None:
        """Where the engine may spill what does not fit in memory (the run's scratch folder)."""

    def release_memory(self) -> None:
        """Between stages: hand back the memory the engine's tables hold in this process (they
        stay the engine's, read back when next needed), for the customer-level work that follows."""

    def is_out_of_memory(self, exc: BaseException) -> bool: ...

    def close(self) -> None: ...


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (engine messages run to many lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def sql_text(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


SAMPLE_BUCKETS = 1_000_003  # hash buckets of sample_bucket: fine enough for a sample of one in 10^6


def sample_bucket(customer_id: ibis.Value, seed: int) -> ibis.Value:
    """Each customer's bucket in ``[0, SAMPLE_BUCKETS)``: ``hash(customer_id + "#seed")`` modulo
    :data:`SAMPLE_BUCKETS`, computed by the engine. The customers whose bucket is below
    ``sample_cut(fraction)`` are a seeded uniform sample of that fraction: the same customers for
    the same seed (and engine), whatever the order or number of rows."""
    return (customer_id.concat(f"#{seed}")).hash().abs() % SAMPLE_BUCKETS


def sample_cut(fraction: float) -> int:
    """The bucket below which a customer is in a sample of ``fraction`` (see :func:`sample_bucket`)."""
    return int(round(min(1.0, max(0.0, fraction)) * SAMPLE_BUCKETS))


def fetch_columns(expr: ibis.Table, engine: Engine | None = None) -> pd.DataFrame:
    """A customer-level result as pandas by way of Arrow, one block per column (no consolidation
    into 2-D blocks, which Ibis's own conversion spends most of its time on); the same values
    as :func:`fetch` (strings as Python str, dates as ``datetime.date``). An engine other than
    DuckDB fetches it its own way (:meth:`Engine.fetch`)."""
    if engine is not None and engine.name != "duckdb":
        return engine.fetch(expr)
    return expr.to_pyarrow().to_pandas(split_blocks=True, self_destruct=True)


def fetch(expr: ibis.Table, engine: Engine | None = None) -> pd.DataFrame:
    """``expr`` as pandas: by ``engine`` (in batches where it can), else by Ibis directly (for
    callers that pass in-memory tables)."""
    return engine.fetch(expr) if engine is not None else expr.to_pandas()
