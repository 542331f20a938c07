"""The engine boundary: transaction-level work runs as Ibis expressions on a backend.

DuckDB (embedded, in-process) is the default. Backend-specific SQL functions that Ibis
does not expose portably live here, so the stages above stay backend-neutral.
"""

from __future__ import annotations

import datetime as _dt
import itertools
from typing import Any

import ibis

from ..config import EngineConfig

_counter = itertools.count()


def connect(cfg: EngineConfig | None = None) -> Any:
    """Open a backend connection for one run."""
    cfg = cfg or EngineConfig()
    kwargs: dict[str, Any] = {}
    if cfg.threads is not None:
        kwargs["threads"] = cfg.threads
    # Ibis passes extra keyword arguments to DuckDB as settings.
    return ibis.duckdb.connect(**kwargs)


def materialize(con: Any, expr: ibis.Table, prefix: str = "cs") -> ibis.Table:
    """Execute ``expr`` once into a temporary table of the backend and return it.

    Later stages read the table instead of recomputing the expression; it lives as long
    as the connection and spills to disk when it does not fit in memory.
    """
    name = f"_{prefix}_{next(_counter)}"
    return con.create_table(name, expr, temp=True)


@ibis.udf.scalar.builtin(name="try_strptime")
def _try_strptime(value: str, fmt: str) -> _dt.datetime:  # pragma: no cover - executed by DuckDB
    """DuckDB's TRY_STRPTIME: NULL where the text does not match the format."""


def try_parse_timestamp(value: ibis.Value, fmt: str | None) -> ibis.Value:
    """Parse text to a timestamp, NULL where it does not parse (ISO-8601 when ``fmt`` is None)."""
    if fmt is None:
        return value.try_cast("timestamp")
    return _try_strptime(value, fmt)
