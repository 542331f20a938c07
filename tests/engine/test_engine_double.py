"""The engine protocol has a test double: a whole run works on an engine that offers nothing
but the protocol (any other attribute raises), and what it asks of the engine is counted.

``RecordingEngine`` wraps the real DuckDB engine and records every protocol call, so a whole
run can be checked for what it asked of the engine; ``FailingWriteEngine`` breaks the disk
at the moment the writers hand a table to the engine, to show that a failed run keeps the
previous outputs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from customersense.config import Config, load_config
from customersense.engine import DuckDBEngine, Engine
from customersense.errors import OutputError
from customersense.pipeline import analyse, run
from customersense.reporting import write_outputs

PROTOCOL = ("read_parquet", "read_csv", "read_lines", "read_database_table", "read_catalog_table", "head_text",
            "is_remote", "number_rows", "materialize", "upload", "parse_timestamp", "fetch", "map_batches", "watch",
            "record_batches", "write_parquet", "spill_to", "release_memory", "is_out_of_memory", "close")
ATTRIBUTES = ("name", "backend", "writes_single_files", "max_collect_customers", "utf8_encodings")


class RecordingEngine:
    """Every protocol call recorded by name, then passed to a real DuckDB engine."""

    def __init__(self) -> None:
        self.inner = DuckDBEngine()
        self.calls: list[str] = []
        for attr in ATTRIBUTES:
            setattr(self, attr, getattr(self.inner, attr))

    def __getattr__(self, name: str):
        if name not in PROTOCOL:
            raise AttributeError(f"{name}: not part of the engine protocol")
        method = getattr(self.inner, name)

        def recorded(*args, **kwargs):
            self.calls.append(name)
            return method(*args, **kwargs)

        return recorded


class FailingWriteEngine(RecordingEngine):
    def write_parquet(self, expr, path: Path) -> None:
        raise OutputError(f"cannot write {Path(path).name}: disk full (planted)")


def _cdnow_config(tmp_path: Path) -> Config:
    from customersense.datasets import dataset_path

    cfg = load_config(None, {"input": {"source": str(dataset_path("cdnow_sample"))},
                             "output": {"dir": str(tmp_path / "out"), "plots": False, "dashboards": False},
                             "validation": {"enabled": False}, "clv": {"enabled": False}})
    return cfg


def test_both_engines_implement_the_protocol():
    """Every method and attribute the protocol declares, on both engines (Spark's class is read
    without starting Spark); and the test's list is the protocol's own."""
    from customersense.engine.spark import SparkEngine

    declared = {n for n in vars(Engine) if not n.startswith("_")} | set(Engine.__annotations__)
    assert declared == set(PROTOCOL) | set(ATTRIBUTES)
    for cls in (DuckDBEngine, SparkEngine):
        for name in PROTOCOL:
            assert callable(getattr(cls, name, None)), (cls.__name__, name)
    engine = DuckDBEngine()
    try:
        assert isinstance(engine, Engine)
        for attr in ATTRIBUTES:
            assert hasattr(engine, attr), attr
    finally:
        engine.close()


def test_a_whole_run_goes_through_the_protocol_only(tmp_path):
    config = _cdnow_config(tmp_path)
    engine = RecordingEngine()
    try:
        result = analyse(config, engine, tmp_path)
        files = write_outputs(result, config.output.dir, engine)
    finally:
        engine.close()
    calls = engine.calls
    # CDNOW text is read line by line, cleaned rows materialised once, customers fetched once,
    # transactions written as Parquet and (under the CSV limit) streamed once to the CSV writer,
    # nothing else read.
    assert calls.count("read_lines") == 1
    assert calls.count("materialize") == 1
    assert calls.count("fetch") == 1
    assert calls.count("write_parquet") == 1 and calls.count("record_batches") == 1
    assert not {"read_parquet", "read_csv", "read_database_table", "read_catalog_table"} & set(calls)
    assert calls[-1] == "close"
    written = pd.read_parquet(Path(config.output.dir) / "customer_segments.parquet")
    assert len(written) == result.cleaning.customers == len(result.customers)
    assert {p.name for p in files} >= {"customer_segments.parquet", "transactions_with_segments.parquet"}


def test_a_write_that_fails_in_the_engine_keeps_the_previous_outputs(tmp_path):
    config = _cdnow_config(tmp_path)
    out = Path(config.output.dir)
    out.mkdir(parents=True)
    (out / "customer_segments.csv").write_text("previous run\n")
    (out / "run.json").write_text('{"outputs": ["customer_segments.csv", "run.json"]}')  # its manifest
    engine = FailingWriteEngine()
    try:
        result = analyse(config, engine, tmp_path)
        with pytest.raises(OutputError, match="disk full"):
            write_outputs(result, out, engine)
    finally:
        engine.close()
    assert (out / "customer_segments.csv").read_text() == "previous run\n"
    assert sorted(p.name for p in out.iterdir()) == ["customer_segments.csv", "run.json"]  # no staging left
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.customersense-")]


def test_the_library_result_is_usable_after_the_engine_closed(tmp_path):
    """``run`` writes, closes the engine and re-points the lazy tables at the written files: they
    hold what the engine held while it was open (less the internal order key and row ids)."""
    config = _cdnow_config(tmp_path)
    engine = DuckDBEngine()
    try:
        while_open = analyse(config, engine, tmp_path)
        before = while_open.transactions.to_pandas()
    finally:
        engine.close()
    result = run(config)
    tx = result.transactions.to_pandas()
    assert len(tx) == result.cleaning.rows_kept == len(before)
    shared = [c for c in tx.columns if c in before.columns]
    keys = shared  # the engine's rows come in no particular order: compare as sorted multisets
    assert set(before.columns) - set(shared) <= {"order_key", "_cs_row_id"}
    pd.testing.assert_frame_equal(
        tx[shared].sort_values(keys, kind="stable").reset_index(drop=True),
        before[shared].sort_values(keys, kind="stable").reset_index(drop=True), check_dtype=False)
    assert {p.name for p in result.outputs} == {p.name for p in Path(config.output.dir).iterdir()}
    assert dataclasses.is_dataclass(result)


def test_map_batches_adds_typed_columns_in_duckdb():
    """The protocol's batch-wise scoring (Spark's mapInPandas) has a DuckDB implementation too."""
    import ibis

    engine = DuckDBEngine()
    try:
        table = engine.materialize(ibis.memtable({"customer_id": ["a", "b", "c"], "monetary": [1.5, -2.0, 4.0]}))

        def double(batches):
            for batch in batches:
                yield batch.assign(twice=batch["monetary"] * 2, positive=batch["monetary"] > 0)

        out = engine.map_batches(table, double, {"twice": "float64", "positive": "boolean"})
        assert dict(out.schema())["positive"].is_boolean() and dict(out.schema())["twice"].is_floating()
        got = out.order_by("customer_id").to_pandas()
        assert got["twice"].tolist() == [3.0, -4.0, 8.0]
        assert got["positive"].tolist() == [True, False, True]
        empty = engine.map_batches(table.filter(table.monetary > 100), double,
                                   {"twice": "float64", "positive": "boolean"})
        assert empty.count().to_pyarrow().as_py() == 0 and "twice" in empty.columns
    finally:
        engine.close()


def test_release_memory_frees_the_tables_pages_and_keeps_them(tmp_path):
    """DuckDB: the pages of a materialised table leave the engine's memory (measured by DuckDB's
    own accounting), every row is still there afterwards, and the memory limit is restored."""
    import ibis
    import numpy as np
    import pyarrow as pa

    engine = DuckDBEngine()
    try:
        engine.spill_to(tmp_path / "spill")
        limit = engine.backend.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0]
        rng = np.random.default_rng(0)
        values = rng.random(12_000_000)
        table = engine.materialize(ibis.memtable(pa.table({"v": values, "i": np.arange(values.size)})), "big")

        def used_mib() -> float:
            q = "SELECT sum(memory_usage_bytes) / 2 ** 20 FROM duckdb_memory()"
            return engine.backend.raw_sql(q).fetchone()[0]

        before = used_mib()
        assert before > 150  # 12M rows of two 8-byte columns: about 183 MiB held
        engine.release_memory()
        assert used_mib() <= 64 + 8  # RELEASE_TO (64 MiB), and a few blocks' leeway
        assert engine.backend.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0] == limit
        got = table.aggregate(n=table.count(), s=table.v.sum(), m=table.i.max()).to_pyarrow().to_pylist()[0]
        assert got["n"] == values.size and got["m"] == values.size - 1
        assert abs(got["s"] - values.sum()) < 1e-6 * values.size  # two summation orders, stated tolerance
    finally:
        engine.close()
