"""Peer benchmark for issue 5: CustomerSense against the tools users pick today, same file,
same run, interleaved, median of several repeats, each job in a fresh subprocess.

Jobs (each a child process; its peak RSS is the child's own ``getrusage`` ``ru_maxrss`` at its
end, so it covers the whole process, imports included, or, when larger, the largest sum of its
resident memory and its own children's, sampled every 20 ms: ``customersense run`` draws its
figures in a worker process beside the run). Their code is in peer_jobs.py.

- ``duckdb_groupby``: the baseline, a plain RFM GROUP BY in DuckDB SQL (sql/plain_groupby.sql).
- ``cs_features``: CustomerSense read + clean + features, as ``customersense run`` calls them;
  the *feature stage* (``customer_frame`` on the cleaned rows: the engine query and the fetch) is
  reported on its own line.
- ``cs_run``: the whole ``customersense run FILE --out TMP --quiet`` (every stage, every output).
- ``pandas``: a careful pandas groupby: only the needed columns read with pyarrow, ids as
  categoricals, the same filter and aggregates as the plain GROUP BY.
- ``polars``: polars' streaming engine on the same query: a lazy ``scan_parquet`` (``scan_csv``)
  of only the needed columns, the same filter and aggregates, ``collect(engine="streaming")``
  (polars 2.x, from the ``bench`` extra: ``pip install -e '.[bench]'``).
- ``lifetimes``: lifetimes' ``summary_data_from_transaction_data`` on the same filtered rows,
  then a BG/NBD fit on that summary (``BetaGeoFitter(penalizer_coef=0.0)``); the seconds of the
  read, the summary and the fit are reported under the table. Run by the Python of its own
  virtual environment (``--lifetimes-python``, default /tmp/lifetimes-venv/bin/python); skipped,
  with a message, when that is missing.
- ``seed_pipeline``: what a data scientist writes by hand: the pandas read and filter above,
  recency, frequency, monetary, tenure and average order value per customer (pandas), a signed
  ``log1p`` and ``StandardScaler``, scikit-learn ``KMeans(k, n_init=4, random_state=0)`` for k = 2..10 on all
  customers with ``silhouette_score`` on a seeded 5,000-customer sample per k, and
  ``IsolationForest(n_estimators=200, random_state=0)`` fitted and applied to all customers.
  n_init=4 as the full K-Means reference of bench_kselect.py (scikit-learn's default "auto" is one
  k-means++ start). Its seconds per stage are reported under the table.

"s" is the work inside the child after its imports; "process s" adds interpreter start and
imports. Ratios are on "s", against the plain GROUP BY of the same repeat set.

    .venv/bin/python bench/run_peers.py --rows 1000000 10000000 --repeats 3
    .venv/bin/python bench/run_peers.py --rows 10000000 --csv      # the CSV comparison

Data: bench/generate.py (seeded; generated on first use into bench/data/, git-ignored).
This file imports only the standard library at the top, so the lifetimes environment can run it.
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

T_START = time.perf_counter()
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import peer_jobs  # noqa: E402 (standard library only at its top, like this file)
from treepeak import TreePeak  # noqa: E402 (standard library only)

JOBS = {name: label for name, (_, label) in peer_jobs.JOBS.items()}
TARGETS = {"cs_features_stage": 1.2, "cs_features_stage_csv": 1.3}
STAGE_TITLES = {  # jobs whose seconds per stage are reported under the table
    "cs_features": "CustomerSense read + clean + features",
    "cs_run": "CustomerSense `customersense run`",
    "lifetimes": "lifetimes summary + BG/NBD",
    "seed_pipeline": "Seed-style pipeline",
}


def child(job: str, path: str) -> dict:
    import resource

    with TreePeak() as tree:
        res = peer_jobs.run(job, path)
    # the process's own peak, or the largest sum of it and its children sampled every 20 ms
    # (the figure worker runs beside the run): whichever is larger
    res["peak_rss_mib"] = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, tree.kib) / 1024  # KiB on Linux
    res["import_seconds"] = res.pop("imported_at") - T_START
    return res


def run_child(job: str, path: Path, python: str) -> dict | str:
    """The child's JSON line plus its process wall time; a string saying why when it failed."""
    t0 = time.perf_counter()
    proc = subprocess.run([python, __file__, "--child", job, "--path", str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return f"{job} failed: {lines[-1] if lines else proc.returncode}"
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process_seconds"] = time.perf_counter() - t0
    return res


def report(results: dict[str, list[dict]], path: Path, rows: int, load: tuple[float, float],
           skipped: dict[str, str]) -> str:
    med = {j: statistics.median(x["seconds"] for x in xs) for j, xs in results.items() if xs}
    base = med["duckdb_groupby"]
    rss_base = max(x["peak_rss_mib"] for x in results["duckdb_groupby"])
    n = len(results["duckdb_groupby"])
    kind = "CSV" if path.suffix == ".csv" else "Parquet"
    lines = [f"{rows:,} rows, {path.stat().st_size / 2**20:,.0f} MiB {kind} ({path.name}), {n} repeat{'s' if n != 1 else ''}, "
             f"{os.cpu_count()} CPUs, 1-minute load average {load[0]:.2f} before / {load[1]:.2f} after.", "",
             "| Job | median s | min s | max s | process s (median) | peak RSS MiB (max) | x GROUP BY time "
             "| x GROUP BY RSS | customers |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for job, xs in results.items():
        if not xs:
            continue
        secs = [x["seconds"] for x in xs]
        rss = max(x["peak_rss_mib"] for x in xs)
        proc = statistics.median(x["process_seconds"] for x in xs)
        cust = xs[0].get("customers")
        lines.append(f"| {JOBS[job]} | {med[job]:.2f} | {min(secs):.2f} | {max(secs):.2f} | {proc:.2f} | {rss:,.0f} "
                     f"| {med[job] / base:.2f}x | {rss / rss_base:.2f}x | {f'{cust:,}' if cust else '-'} |")
    if results.get("cs_features"):
        feat = statistics.median(x["feature_stage_s"] for x in results["cs_features"])
        target = TARGETS["cs_features_stage_csv" if kind == "CSV" else "cs_features_stage"]
        lines += ["", f"Feature stage alone (customer_frame on the cleaned rows, median): {feat:.2f} s = "
                      f"{feat / base:.2f}x the plain GROUP BY (issue 5 target <= {target}x). Read + clean + "
                      f"features: {med['cs_features'] / base:.2f}x."]
    for job, title in STAGE_TITLES.items():
        if results.get(job):
            runs = sorted(results[job], key=lambda x: x["seconds"])
            mid = runs[len(runs) // 2]
            stages = ", ".join(f"{k} {v:.1f}" for k, v in mid["stages"].items())
            lines += ["", f"{title}, seconds per stage in the median run ({mid['seconds']:.1f} s): "
                          f"{stages}.{' ' + mid['note'] if mid.get('note') else ''}"]
    for job, why in skipped.items():
        lines += ["", f"{JOBS[job]}: not run ({why})."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000],
                    help="file sizes in rows, e.g. 1000000 10000000 50000000 200000000")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--csv", action="store_true", help="run on the CSV copy of each file")
    ap.add_argument("--shape", choices=["retail", "issue5"], default="retail",
                    help="data shape (bench/generate.py): issue5 has 1 customer per 10 rows")
    ap.add_argument("--jobs", nargs="+", choices=list(JOBS), default=list(JOBS))
    ap.add_argument("--lifetimes-python", default="/tmp/lifetimes-venv/bin/python")
    ap.add_argument("--markdown", type=Path, default=None, help="also append the tables here")
    ap.add_argument("--child", choices=list(JOBS), help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.path)))
        return 0
    import generate

    jobs = ["duckdb_groupby", *(j for j in args.jobs if j != "duckdb_groupby")]
    skipped = {}
    if "lifetimes" in jobs and not Path(args.lifetimes_python).exists():
        skipped["lifetimes"] = (f"{args.lifetimes_python} missing; create it with `python3 -m venv "
                                "/tmp/lifetimes-venv && /tmp/lifetimes-venv/bin/pip install lifetimes==0.11.3 pandas==3.1.1 pyarrow==26.0.1`")
        jobs.remove("lifetimes")
        print(f"skipping lifetimes: {skipped['lifetimes']}", file=sys.stderr)
    for rows in args.rows:
        path = generate.default_path(rows, args.shape)
        if args.csv:
            path = path.with_suffix(".csv")
        if not path.exists():
            cmd = [sys.executable, str(HERE / "generate.py"), "--rows", str(rows), "--shape", args.shape]
            cmd += ["--csv"] if args.csv else []
            subprocess.run(cmd, check=True)
        generate.warm_page_cache(path)
        load_before = os.getloadavg()[0]
        results: dict[str, list[dict]] = {j: [] for j in jobs}
        failed = dict(skipped)
        for i in range(args.repeats):
            for job in jobs[i % len(jobs):] + jobs[:i % len(jobs)]:  # interleaved, order rotating
                if job in failed:
                    continue
                python = args.lifetimes_python if job == "lifetimes" else sys.executable
                res = run_child(job, path, python)
                if isinstance(res, str):
                    failed[job] = res
                    print(res, file=sys.stderr, flush=True)
                    continue
                results[job].append(res)
                print(f"{rows:,} rows, repeat {i + 1}/{args.repeats} {job:15s} {res['seconds']:8.2f} s "
                      f"{res['peak_rss_mib']:8,.0f} MiB", file=sys.stderr, flush=True)
        results = {j: xs for j, xs in results.items() if xs}
        text = report(results, path, rows, (load_before, os.getloadavg()[0]),
                      {j: w for j, w in failed.items() if not results.get(j)})
        print(text, flush=True)
        if args.markdown:
            with open(args.markdown, "a") as fh:
                fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
