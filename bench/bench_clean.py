"""Read + clean stage timings and peak RSS, before/after: one fresh subprocess per run.

Each ``--src`` is a ``src`` folder put first on PYTHONPATH for the child, so two checkouts
(e.g. main and a branch) can be compared interleaved on the same files:

    .venv/bin/python bench/bench_clean.py --src /work/main/src src --repeats 3 \
        --path bench/data/synthetic_1000000.parquet bench/data/synthetic_10000000.parquet

Reports the median read and clean seconds (wall and CPU: on a busy machine CPU seconds
compare better), the max peak RSS (getrusage of the child), and
the cleaning report, which must be the same for every source folder.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def _cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(path: str) -> dict:
    import resource
    import tempfile
    from pathlib import Path

    import customersense
    from customersense.cleaning import clean
    from customersense.config import load_config
    from customersense.engine import connect

    from customersense.io.readers import read_transactions

    config = load_config(None, {"input": {"source": path}})
    engine = connect(config.engine)
    with tempfile.TemporaryDirectory() as wd:
        t0, c0 = time.perf_counter(), _cpu()
        tx = read_transactions(engine, config.input, Path(wd))
        t1, c1 = time.perf_counter(), _cpu()
        cleaned = clean(engine, tx.table, config.cleaning, source=path)
        t2, c2 = time.perf_counter(), _cpu()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"read": t1 - t0, "clean": t2 - t1, "read_cpu": c1 - c0, "clean_cpu": c2 - c1, "rss": rss, "report": cleaned.report.to_dict(),
            "module": customersense.__file__}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", nargs="+", required=True)
    ap.add_argument("--path", nargs="+", required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", action="store_true")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.path[0]), default=str))
        return 0
    srcs = [os.path.abspath(s) for s in args.src]
    for path in args.path:
        res: dict[str, list[dict]] = {s: [] for s in srcs}
        for i in range(args.repeats):
            order = srcs[i % len(srcs):] + srcs[: i % len(srcs)]
            for src in order:
                env = {**os.environ, "PYTHONPATH": src}
                out = subprocess.run([sys.executable, __file__, "--child", "--src", src, "--path", path],
                                     capture_output=True, text=True, env=env)
                if out.returncode:
                    raise SystemExit(out.stderr)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                res[src].append(r)
                print(f"  {os.path.basename(path)} {src}: read {r['read']:.2f}s clean {r['clean']:.2f}s "
                      f"rss {r['rss']:.0f} MiB", file=sys.stderr, flush=True)
        reports = {json.dumps(x["report"], sort_keys=True) for xs in res.values() for x in xs}
        print(f"{os.path.basename(path)}: same cleaning report everywhere: {len(reports) == 1}")
        for src, xs in res.items():
            med = lambda k: statistics.median(x[k] for x in xs)  # noqa: E731
            print(f"  {src}: read {med('read'):.2f}s (CPU {med('read_cpu'):.2f}s) clean {med('clean'):.2f}s "
                  f"(CPU {med('clean_cpu'):.2f}s) "
                  f"peak RSS {max(x['rss'] for x in xs):.0f} MiB (median of {len(xs)})")
        if len(reports) != 1:
            for r in reports:
                print("   ", r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
