"""Apache Spark as the engine: a session for one run, and what differs from DuckDB.

The session comes from, in order: a session already active in this process (a notebook,
Databricks, a test run sharing one session), else a new one on ``engine.spark_master``, else
``$SPARK_MASTER``, else the master ``spark-submit`` chose, else ``local[*]``. Settings come
from ``[engine.spark_conf]`` (and the usual ``spark-defaults.conf`` / ``--conf`` flags).
Only a session this module started is stopped at the end of the run.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import sys
import tempfile
from typing import Any

from ..config import EngineConfig
from ..errors import ConfigError

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
_OWNED = "_customersense_owns_session"


def connect_spark(cfg: EngineConfig) -> Any:
    """An Ibis PySpark backend on the active session, or on a new one."""
    try:
        import ibis
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
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"cannot start Spark (master {master or 'from spark-submit'}): {first}") from None
        session.sparkContext.setLogLevel(os.environ.get("CUSTOMERSENSE_SPARK_LOG_LEVEL", "ERROR"))
    else:
        for key, value in cfg.spark_conf.items():
            try:
                session.conf.set(key, value)
            except Exception as exc:  # a static setting (e.g. driver memory) of a running session
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ConfigError(f"engine.spark_conf {key!r}: cannot be set on the running Spark session: {first}") from None
    con = ibis.pyspark.connect(session)
    setattr(con, _OWNED, scratch if owned else None)
    return con


def close_spark(con: Any) -> None:
    """Stop the session if this module started it, and remove its scratch folder."""
    scratch = getattr(con, _OWNED, None)
    if scratch is not None:
        con.disconnect()
        shutil.rmtree(scratch, ignore_errors=True)


def register_frame(con: Any, frame: Any, prefix: str, cache: bool = False) -> Any:
    """A Spark DataFrame as a temporary view of the session, returned as an Ibis table;
    ``cache`` keeps its rows (memory, then disk) once computed."""
    name = f"customersense_{prefix}_{next(_VIEWS)}"
    frame.createOrReplaceTempView(name)
    if cache:
        frame.sparkSession.catalog.cacheTable(name)
    return con.table(name)


def cache_view(con: Any, expr: Any, name: str) -> Any:
    """``expr`` as a temporary view whose result Spark caches (memory, then disk) on first use."""
    con.create_view(name, expr, overwrite=True)
    con._session.catalog.cacheTable(name)
    return con.table(name)


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
