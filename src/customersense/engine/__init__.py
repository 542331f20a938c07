"""The engine boundary: transaction-level work runs as Ibis expressions on a backend.

DuckDB (embedded, in-process) is the default; Apache Spark (:mod:`.spark`) runs the same
expressions beyond one machine. The few backend-specific SQL functions that Ibis does not
expose portably live here, so the stages above stay backend-neutral.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import os
import warnings
from typing import Any

import ibis

from ..config import EngineConfig

_counter = itertools.count()


def connect(cfg: EngineConfig | None = None) -> Any:
    """Open a backend connection for one run; close it with :func:`close`."""
    cfg = cfg or EngineConfig()
    if cfg.name == "spark":
        from .spark import connect_spark

        return connect_spark(cfg)
    kwargs: dict[str, Any] = {}
    if cfg.threads is not None:
        kwargs["threads"] = cfg.threads
    # DuckDB's own default is 80% of the memory; the run also holds customer tables in pandas
    # next to it, so by default the engine gets half and spills beyond that.
    limit = cfg.memory_limit or default_memory_limit()
    if limit is not None:
        kwargs["memory_limit"] = limit
    # Ibis passes extra keyword arguments to DuckDB as settings.
    return ibis.duckdb.connect(**kwargs)


def default_memory_limit() -> str | None:
    """Half of the machine's physical memory in DuckDB's notation (e.g. "12034MiB"); None
    (DuckDB's own default) where the system does not say."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
    return f"{max(total // 2 // 2**20, 256)}MiB"


def close(con: Any) -> None:
    """Release a connection from :func:`connect` (a Spark session it did not start stays up)."""
    if is_spark(con):
        from .spark import close_spark

        close_spark(con)
    else:
        con.disconnect()


def fetch_pandas(expr: ibis.Table, batch_rows: int = 1_000_000):
    """A customer-level result as pandas. DuckDB streams it in batches: the whole result held
    inside the engine would count against ``--memory-limit`` (at 5M customers, about a GB)."""
    import pandas as pd

    if expr._find_backend(use_default=True).name != "duckdb":
        return expr.to_pandas()
    with warnings.catch_warnings():  # Ibis 12 calls DuckDB's deprecated fetch_record_batch
        warnings.filterwarnings("ignore", "fetch_record_batch", DeprecationWarning)
        parts = list(expr.to_pandas_batches(chunk_size=batch_rows))
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return expr.limit(0).to_pandas()
    return pd.concat(parts, ignore_index=True)


def is_out_of_memory(exc: BaseException) -> bool:
    """DuckDB could not stay within its memory limit (named, so no import of duckdb is needed)."""
    return type(exc).__name__ == "OutOfMemoryException"


def is_spark(con: Any) -> bool:
    return getattr(con, "name", None) == "pyspark"


def materialize(con: Any, expr: ibis.Table, prefix: str = "cs") -> ibis.Table:
    """Execute ``expr`` once and return a table that later stages read instead of recomputing.

    DuckDB: a temporary table that lives as long as the connection and spills to disk when it
    does not fit in memory. Spark: a cached DataFrame (memory and disk) on the executors.
    """
    name = f"_{prefix}_{next(_counter)}"
    if is_spark(con):
        from .spark import cache_view

        return cache_view(con, expr, name)
    return con.create_table(name, expr, temp=True)


@ibis.udf.scalar.builtin(name="try_strptime")
def _try_strptime(value: str, fmt: str) -> _dt.datetime:  # pragma: no cover - executed by DuckDB
    """DuckDB's TRY_STRPTIME: NULL where the text does not match the format."""


@ibis.udf.scalar.builtin(name="try_to_timestamp")
def _try_to_timestamp(value: str, fmt: str) -> _dt.datetime:  # pragma: no cover - executed by Spark
    """Spark's TRY_TO_TIMESTAMP: NULL where the text does not match the (Java) pattern."""


def try_parse_timestamp(value: ibis.Value, fmt: str | None, dialect: str = "duckdb") -> ibis.Value:
    """Parse text to a timestamp, NULL where it does not parse (ISO-8601 when ``fmt`` is None).

    ``fmt`` is a strptime format; ``dialect`` is the backend's name (``con.name``).
    """
    if fmt is None:
        return value.try_cast("timestamp")
    if dialect == "pyspark":
        from .spark import java_pattern

        return _try_to_timestamp(value, java_pattern(fmt)).cast("timestamp")
    return _try_strptime(value, fmt)
