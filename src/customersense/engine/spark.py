"""Apache Spark as the engine: a session for one run, and what differs from DuckDB.

The session comes from, in order: a session already active in this process (a notebook,
Databricks, a test run sharing one session), else a new one on ``engine.spark_master``, else
``$SPARK_MASTER``, else the master ``spark-submit`` chose, else ``local[*]``. Settings come
from ``[engine.spark_conf]`` (and the usual ``spark-defaults.conf`` / ``--conf`` flags).
Only a session this module started is stopped at the end of the run.

Reading: each source becomes a temporary view of the session, registered as an Ibis table;
nothing is collected to the driver. CSV is read as text (every column a string) with RFC 4180
quoting, typed by the same standardisation step as on DuckDB.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import os
import re
import shutil
import sys
import tempfile
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import ibis
import pandas as pd

from ..config import EngineConfig
from ..errors import ConfigError, InputError
from ..progress import ProgressFn
from .base import first_line

# Set on every session we start: UTC wall-clock timestamps as in DuckDB, Arrow transfers of
# customer-level results, the strict (non-legacy) date parser, no console progress bars.
SESSION_DEFAULTS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.ui.showConsoleProgress": "false",
    "spark.ui.enabled": "false",
}
LOCAL_DEFAULTS = {
    "spark.sql.shuffle.partitions": str(4 * (os.cpu_count() or 2)),
    "spark.driver.memory": "4g",
}
_VIEWS = itertools.count()
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/")


class SparkEngine:
    """Apache Spark (see :class:`customersense.engine.base.Engine` and the module doc)."""

    name = "spark"
    writes_single_files = False
    utf8_encodings = ("utf8",)  # other encodings (a BOM included) are transcoded first

    def __init__(self, cfg: EngineConfig | None = None) -> None:
        cfg = cfg or EngineConfig(name="spark")
        self.backend, self._scratch = _connect(cfg)
        self.max_collect_customers = cfg.max_collect_customers

    @property
    def session(self):
        return self.backend._session

    # -- reading ----------------------------------------------------------------------------
    def read_parquet(self, paths: list[str]) -> ibis.Table:
        try:
            frame = self.session.read.parquet(*paths)
        except Exception as exc:
            raise _fail(paths[0], "Parquet", exc) from None
        return self.register(frame, "parquet")

    def read_csv(self, path: str, delimiter: str) -> ibis.Table:
        try:
            frame = self.session.read.csv(
                path, header=True, sep=delimiter, quote='"', escape='"', inferSchema=False,
                mode="PERMISSIVE", encoding="UTF-8",
            )
        except Exception as exc:
            raise _fail(path, "CSV", exc) from None
        return self.register(frame, "csv")

    def read_lines(self, path: str, skip: int = 0) -> ibis.Table:
        try:
            frame = self.session.read.text(path).withColumnRenamed("value", "line")
        except Exception as exc:
            raise _fail(path, "text", exc) from None
        lines = self.register(frame, "lines")
        if skip:  # Spark has no line order to skip by: drop the header lines by their text
            header = self.head_text(path, skip).splitlines()
            lines = lines.filter(~lines.line.isin(header))
        return lines

    def read_database_table(self, path: str, table: str | None,
                            allow_views: bool = False) -> tuple[ibis.Table, str]:
        raise InputError(f"{path}: a DuckDB database file needs --engine duckdb")

    def read_catalog_table(self, name: str) -> ibis.Table:
        """A table (or view) of the Spark catalog, e.g. ``sales`` or ``db.sales``."""
        if not self.session.catalog.tableExists(name):
            raise InputError(f"Spark catalog has no table {name!r}; check the name (database.table)")
        return self.register(self.session.table(name), "table")

    def head_text(self, path: str, lines: int = 50) -> str:
        try:
            rows = self.session.read.text(path).limit(lines).collect()
        except Exception as exc:
            raise _fail(path, "text", exc) from None
        return "\n".join(r[0] for r in rows)

    def is_remote(self, source: str) -> bool:
        """``s3a://bucket/x.parquet``, ``hdfs:///data``, ``dbfs:/mnt/...``: paths only Spark resolves."""
        return bool(_URI.match(source)) and not re.match(r"^[A-Za-z]:[\\/]", source)

    def number_rows(self, raw: ibis.Table) -> ibis.Table:
        return raw

    # -- computing --------------------------------------------------------------------------
    def materialize(self, expr: ibis.Table, prefix: str = "cs") -> ibis.Table:
        """A temporary view whose result Spark caches (memory, then disk) on first use."""
        name = f"_{prefix}_{next(_VIEWS)}"
        self.backend.create_view(name, expr, overwrite=True)
        self.session.catalog.cacheTable(name)
        return self.backend.table(name)

    def upload(self, frame, prefix: str = "cs") -> ibis.Table:
        return self.materialize(frame if isinstance(frame, ibis.Table) else ibis.memtable(frame), prefix)

    def register(self, frame: Any, prefix: str, cache: bool = False) -> ibis.Table:
        """A Spark DataFrame as a temporary view, returned as an Ibis table; ``cache`` keeps its
        rows (memory, then disk) once computed."""
        name = f"customersense_{prefix}_{next(_VIEWS)}"
        frame.createOrReplaceTempView(name)
        if cache:
            frame.sparkSession.catalog.cacheTable(name)
        return self.backend.table(name)

    @staticmethod
    def parse_timestamp(value: ibis.Value, fmt: str | None) -> ibis.Value:
        if fmt is None:
            return value.try_cast("timestamp")
        return _try_to_timestamp(value, java_pattern(fmt)).cast("timestamp")

    def map_batches(self, expr: ibis.Table, fn, added: dict[str, str], prefix: str = "cs") -> ibis.Table:
        """On the executors (``mapInPandas``), cached once computed; ``fn`` must be picklable."""
        from pyspark.sql import types as T

        spark_types = {"int8": T.ByteType, "int64": T.LongType, "string": T.StringType, "boolean": T.BooleanType,
                       "float64": T.DoubleType}
        frame = self.session.sql(self.backend.compile(expr))
        schema = T.StructType(list(frame.schema.fields)
                              + [T.StructField(name, spark_types[kind]()) for name, kind in added.items()])
        return self.register(frame.mapInPandas(fn, schema=schema), prefix, cache=True)

    def fetch(self, expr: ibis.Table, batch_rows: int = 1_000_000) -> pd.DataFrame:
        return expr.to_pandas()  # Arrow transfer (see SESSION_DEFAULTS)

    def watch(self, progress: ProgressFn | None) -> AbstractContextManager[None]:
        return nullcontext()  # Spark shows its progress in the Spark UI

    # -- writing ----------------------------------------------------------------------------
    def write_parquet(self, expr: ibis.Table, path: Path) -> None:
        expr.to_parquet(path)  # a folder of parts, written by the executors

    def record_batches(self, expr: ibis.Table, batch_rows: int = 1_000_000) -> Any:
        raise NotImplementedError("the Spark engine writes no CSV: it would pass through the driver")

    # -- lifetime ---------------------------------------------------------------------------
    def spill_to(self, folder: Path) -> None:
        pass  # Spark spills to its own local directories

    def release_memory(self) -> None:
        pass  # the tables live in the JVM and its executors, not in this process

    def is_out_of_memory(self, exc: BaseException) -> bool:
        return False

    def close(self) -> None:
        """Stop the session if this engine started it, and remove its scratch folder."""
        if self._scratch is not None:
            self.backend.disconnect()
            shutil.rmtree(self._scratch, ignore_errors=True)


@ibis.udf.scalar.builtin(name="try_to_timestamp")
def _try_to_timestamp(value: str, fmt: str) -> _dt.datetime:  # pragma: no cover - executed by Spark
    """Spark's TRY_TO_TIMESTAMP: NULL where the text does not match the (Java) pattern."""


def _fail(path: str, what: str, exc: Exception) -> InputError:
    return InputError(f"{path}: cannot read as {what} with Spark: {first_line(exc)[:300]}")


def _connect(cfg: EngineConfig) -> tuple[Any, str | None]:
    """An Ibis PySpark backend on the active session, or on a new one; and the scratch folder
    of a session started here (None for a session that was already running)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(
            "engine 'spark' needs pyspark: pip install 'customersense[spark]' (and Java 17 or later)"
        ) from None
    session = SparkSession.getActiveSession()
    owned = session is None
    scratch = None
    if session is None:
        if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
            raise ConfigError("engine 'spark' needs Java 17 or later: install it or set JAVA_HOME")
        builder = SparkSession.builder.appName("customersense")
        master = cfg.spark_master or os.environ.get("SPARK_MASTER")
        if master is None and "PYSPARK_GATEWAY_PORT" not in os.environ:  # not under spark-submit
            master = "local[*]"
        if master is not None:
            builder = builder.master(master)
        # Keep Spark's scratch files (warehouse, checkpoints) out of the working directory.
        scratch = tempfile.mkdtemp(prefix="customersense-spark-")
        settings = {**SESSION_DEFAULTS, "spark.sql.warehouse.dir": os.path.join(scratch, "warehouse")}
        if (master or "").startswith("local"):
            # Spark's 200 shuffle partitions cost more in task overhead than they save on one machine.
            settings.update(LOCAL_DEFAULTS)
            # Python workers (scoring at scale) must run this interpreter, which has customersense;
            # PySpark reads the variable when the session starts.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        settings.update(cfg.spark_conf)
        for key, value in settings.items():
            builder = builder.config(key, value)
        try:
            session = builder.getOrCreate()
        except Exception as exc:  # Java missing or too old, bad master URL, ...
            raise ConfigError(f"cannot start Spark (master {master or 'from spark-submit'}): {first_line(exc)}") from None
        session.sparkContext.setLogLevel(os.environ.get("CUSTOMERSENSE_SPARK_LOG_LEVEL", "ERROR"))
    else:
        for key, value in cfg.spark_conf.items():
            try:
                session.conf.set(key, value)
            except Exception as exc:  # a static setting (e.g. driver memory) of a running session
                raise ConfigError(f"engine.spark_conf {key!r}: cannot be set on the running Spark session: "
                                  f"{first_line(exc)}") from None
    return ibis.pyspark.connect(session), scratch if owned else None


_DIRECTIVES = {"Y": "yyyy", "m": "M", "d": "d", "H": "H", "M": "m", "S": "s", "y": "yy", "b": "MMM", "B": "MMMM",
               "p": "a", "I": "h", "f": "SSSSSS"}
_TWO_DIGIT = {"m": "MM", "d": "dd", "H": "HH", "M": "mm", "S": "ss", "I": "hh"}


def java_pattern(fmt: str) -> str:
    """A strptime format as a Spark datetime pattern, e.g. ``%d/%m/%Y %H:%M`` -> ``d/M/yyyy H:m``.

    Single letters accept one or two digits, as strptime does; fields written back to back
    (``%Y%m%d``) keep fixed widths, since nothing else separates them.
    """
    out: list[str] = []
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt):
            code = fmt[i + 1]
            if code == "%":
                out.append("%")
            elif code not in _DIRECTIVES:
                raise ConfigError(f"date format {fmt!r}: %{code} is not supported on the Spark engine")
            else:
                next_is_field = fmt[i + 2:i + 3] == "%"
                prev_is_field = i >= 2 and fmt[i - 2] == "%"
                fixed = (next_is_field or prev_is_field) and code in _TWO_DIGIT
                out.append(_TWO_DIGIT[code] if fixed else _DIRECTIVES[code])
            i += 2
            continue
        out.append(f"'{ch}'" if re.match(r"[A-Za-z]", ch) else ("''" if ch == "'" else ch))
        i += 1
    return "".join(out)
