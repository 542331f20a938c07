"""The engine boundary: transaction-level work runs as Ibis expressions on one engine object.

DuckDB (embedded, in-process, :mod:`.duckdb`) is the default; Apache Spark (:mod:`.spark`)
runs the same expressions beyond one machine. Both implement :class:`.base.Engine`: read,
materialise, parse timestamps, fetch customer rows in batches, map batches, write, close. Stages take an
``Engine`` and never ask which backend it is.
"""

from __future__ import annotations

from ..config import EngineConfig
from .base import Engine
from .duckdb import DuckDBEngine, default_memory_limit

__all__ = ["DuckDBEngine", "Engine", "connect", "default_memory_limit"]


def connect(cfg: EngineConfig | None = None) -> Engine:
    """The engine for one run; release it with ``engine.close()``."""
    cfg = cfg or EngineConfig()
    if cfg.name == "spark":
        from .spark import SparkEngine  # pyspark is optional

        return SparkEngine(cfg)
    return DuckDBEngine(cfg)
