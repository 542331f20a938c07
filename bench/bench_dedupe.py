"""Issue 19, direction 2, measured: exact duplicates by a GROUP BY over every column (what the
cleaning stage does) against a row hash computed in the scan, where only the rows sharing a
hash are grouped over every column (exact whatever the hash).

Each way runs in a fresh process on the standardised rows of FILE, materialised into a DuckDB
table as the cleaning stage does; prints seconds, CPU seconds, rows and peak RSS.

    .venv/bin/python bench/bench_dedupe.py bench/data/synthetic_50000000_issue5.parquet

``hash``: hash, group the hashes, anti-join the unique ones, GROUP BY the rest, in one query;
``hash_table``: the same with the hashed rows materialised first (one scan of the input).
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODES = ("groupby", "hash", "hash_table")


def distinct_by_hash(engine, tx, cols, materialise: bool):
    import ibis

    from customersense import schema as S

    def grouped_as(v):  # a GROUP BY's equal values hash alike: -0.0 is 0.0, NaN is NaN
        if not v.type().is_floating():
            return v
        return ibis.cases((v == 0, ibis.literal(0.0, v.type())),
                          (v.isnan(), ibis.literal(float("nan"), v.type())), else_=v)

    hashed = tx.mutate(_h=ibis.struct({c: grouped_as(tx[c]) for c in cols}).hash())
    if materialise:
        hashed = engine.materialize(hashed, "hashed")
    counts = hashed.group_by("_h").aggregate(_copies=hashed.count())
    shared = counts.filter(counts._copies > 1).select("_h")
    single = hashed.anti_join(shared, "_h").select(*cols, _n=ibis.literal(1, "int64"),
                                                    **{S.ROW_ID: hashed[S.ROW_ID]})
    multi = hashed.semi_join(shared, "_h")
    grouped = multi.group_by(cols).aggregate(_n=multi.count(), **{S.ROW_ID: multi[S.ROW_ID].min()})
    return single.union(grouped.select(single.columns), distinct=False)


def child(mode: str, path: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from customersense import schema as S
    from customersense.config import load_config
    from customersense.engine import connect
    from customersense.io.readers import read_transactions

    cfg = load_config(None, {"input": {"source": path}})
    engine = connect(cfg.engine)
    work = Path(tempfile.mkdtemp())
    engine.spill_to(work / "spill")
    tx = read_transactions(engine, cfg.input, work).table
    cols = [c for c in tx.columns if c != S.ROW_ID]
    t, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    if mode == "groupby":
        rows = tx.group_by(cols).aggregate(_n=tx.count(), **{S.ROW_ID: tx[S.ROW_ID].min()})
    else:
        rows = distinct_by_hash(engine, tx, cols, materialise=mode == "hash_table")
    table = engine.materialize(rows, "distinct")
    seconds = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    n = table.count().to_pyarrow().as_py()
    print(f"| {mode} | {seconds:.2f} | {cpu:.1f} | {n:,} | {r1.ru_maxrss / 1024:,.0f} |", flush=True)


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return 0
    path = sys.argv[1]
    print(f"{path}; load average {Path('/proc/loadavg').read_text().split()[0]}\n")
    print("| way | s | CPU s | distinct rows | peak RSS MiB |\n|---|---:|---:|---:|---:|", flush=True)
    for mode in MODES:
        subprocess.run([sys.executable, __file__, "--child", mode, path], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
