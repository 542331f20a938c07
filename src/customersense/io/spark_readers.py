"""Reading sources with Spark: files Spark can see (local, HDFS, S3, DBFS...) and catalog tables.

Each source becomes a temporary view of the session, registered as an Ibis table; nothing is
collected to the driver. Formats and options mirror the DuckDB readers: CSV is read as text
(every column a string) with RFC 4180 quoting, and typed by the same standardisation step.
"""

from __future__ import annotations

import re
from typing import Any

import ibis

from ..engine.spark import register_frame
from ..errors import InputError

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/")


def is_uri(source: str) -> bool:
    """``s3a://bucket/x.parquet``, ``hdfs:///data``, ``dbfs:/mnt/...``: paths only Spark resolves."""
    return bool(_URI.match(source)) and not re.match(r"^[A-Za-z]:[\\/]", source)


def _session():
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession()


def _fail(path: str, what: str, exc: Exception) -> InputError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return InputError(f"{path}: cannot read as {what} with Spark: {first[:300]}")


def read_parquet(con: Any, paths: list[str]) -> ibis.Table:
    try:
        frame = _session().read.parquet(*paths)
    except Exception as exc:
        raise _fail(paths[0], "Parquet", exc) from None
    return register_frame(con, frame, "parquet")


def read_csv(con: Any, path: str, delimiter: str) -> ibis.Table:
    """Every column as text; empty fields are NULL; short rows are padded with NULL."""
    try:
        frame = _session().read.csv(
            path, header=True, sep=delimiter, quote='"', escape='"', inferSchema=False,
            mode="PERMISSIVE", encoding="UTF-8",
        )
    except Exception as exc:
        raise _fail(path, "CSV", exc) from None
    return register_frame(con, frame, "csv")


def read_lines(con: Any, path: str) -> ibis.Table:
    """One row per line of a text file, in a column ``line``."""
    try:
        frame = _session().read.text(path).withColumnRenamed("value", "line")
    except Exception as exc:
        raise _fail(path, "text", exc) from None
    return register_frame(con, frame, "lines")


def head_text(path: str, lines: int = 50) -> str:
    """The first lines of a file Spark can see (for sniffing a delimiter on remote storage)."""
    try:
        rows = _session().read.text(path).limit(lines).collect()
    except Exception as exc:
        raise _fail(path, "text", exc) from None
    return "\n".join(r[0] for r in rows)


def read_catalog_table(con: Any, name: str) -> ibis.Table:
    """A table (or view) of the Spark catalog, e.g. ``sales`` or ``db.sales``."""
    session = _session()
    if not session.catalog.tableExists(name):
        raise InputError(f"Spark catalog has no table {name!r}; check the name (database.table)")
    return register_frame(con, session.table(name), "table")
