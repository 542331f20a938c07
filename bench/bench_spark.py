"""Benchmark: local Spark against DuckDB for the transaction-level stages, on one machine.

Both engines run the same code path, ``read_transactions`` + ``clean`` +
``customer_features(...)`` collected to the driver, each in its own subprocess (so peak RSS
is per run; for Spark it is the Python driver's, the JVM's is reported from its own RSS),
interleaved, median of the repeats. Spark's session start-up (JVM) is timed separately from
the work. The synthetic file comes from ``bench/generate.py``.

    .venv/bin/python bench/bench_spark.py --rows 1000000 --repeats 3
    .venv/bin/python bench/bench_spark.py --rows 50000000 --shape issue5 --repeats 1   # issue 19
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = {"duckdb": "DuckDB (embedded, default)", "spark": "Spark local[*] (PySpark)"}


def child(engine: str, path: str) -> dict:
    import resource
    import tempfile
    import warnings

    warnings.filterwarnings("ignore")
    from customersense.cleaning import clean
    from customersense.config import CleaningPolicy, EngineConfig, InputConfig
    from customersense.engine import connect
    from customersense.features import customer_features
    from customersense.io.readers import read_transactions

    t0 = time.perf_counter()
    con = connect(EngineConfig(name=engine))  # the Engine object
    start = time.perf_counter() - t0
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        tx = read_transactions(con, InputConfig(source=path), Path(work))
        cleaned = clean(con, tx.table, CleaningPolicy(), source=path)
        features = customer_features(cleaned.purchases_and_returns, cleaned.report.as_of).to_pyarrow()
    work_s = time.perf_counter() - t1
    jvm_mb = None
    if engine == "spark":
        jvm_mb = _jvm_rss_mb()
    con.close()
    return {
        "start_s": start, "work_s": work_s, "customers": features.num_rows,
        "monetary": float(sum(v for v in features.column("monetary").to_pylist())),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "jvm_rss_mb": jvm_mb,
    }


def _jvm_rss_mb() -> float | None:
    """Resident memory of this process's Java child (the Spark driver JVM), from /proc."""
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().split()
            if int(stat[3]) == me and "java" in Path(f"/proc/{pid}/comm").read_text():
                status = Path(f"/proc/{pid}/status").read_text()
                return next(int(ln.split()[1]) / 1024 for ln in status.splitlines() if ln.startswith("VmHWM"))
        except (OSError, StopIteration, ValueError, IndexError):
            continue
    return None


def run_child(engine: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", engine, str(path)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--shape", default="retail", help="the file's shape (bench/generate.py --shape)")
    ap.add_argument("--child", nargs=2, metavar=("ENGINE", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    sys.path.insert(0, str(HERE))
    from generate import SHAPES, default_path, generate

    path = default_path(args.rows, args.shape)
    if not path.exists():
        mean_lines, pool = SHAPES[args.shape]
        generate(args.rows, max(1, int(args.rows * pool)), 20240601, path, mean_lines=mean_lines)
    path.read_bytes()  # warm the page cache for both engines
    load0 = os.getloadavg()[0]
    results: dict[str, list[dict]] = {e: [] for e in RUNS}
    for i in range(args.repeats):
        for engine in (list(RUNS) if i % 2 == 0 else list(RUNS)[::-1]):
            results[engine].append(run_child(engine, path))
            print(f"  {engine}: {results[engine][-1]['work_s']:.2f} s", file=sys.stderr)
    same = len({(r[0]["customers"], round(r[0]["monetary"], 2)) for r in results.values()}) == 1
    base = statistics.median(r["work_s"] for r in results["duckdb"])
    print(f"{args.rows:,} rows ({path.name}), {args.repeats} repeats, {os.cpu_count()} cores, "
          f"1-minute load {load0:.2f} before / {os.getloadavg()[0]:.2f} after; same customers and revenue: "
          f"{'yes' if same else 'NO'}\n")
    print("| engine | start-up s (median) | read + clean + features s (median) | min | max | "
          "driver peak RSS MiB | JVM peak RSS MiB | x DuckDB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for engine, label in RUNS.items():
        rs = results[engine]
        work = [r["work_s"] for r in rs]
        jvm = max((r["jvm_rss_mb"] or 0) for r in rs)
        print(f"| {label} | {statistics.median(r['start_s'] for r in rs):.2f} | {statistics.median(work):.2f} | "
              f"{min(work):.2f} | {max(work):.2f} | {max(r['peak_rss_mb'] for r in rs):.0f} | "
              f"{f'{jvm:.0f}' if jvm else '-'} | {statistics.median(work) / base:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
