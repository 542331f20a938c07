"""Peer benchmark for issue 5: CustomerSense against the tools users pick today, same file,
same run, interleaved, median of several repeats, each job in a fresh subprocess.

Jobs (each a child process; its peak RSS comes from ``wait4``, so it covers the whole process):

- ``duckdb_groupby``: the baseline, a plain RFM GROUP BY in DuckDB SQL (sql/plain_groupby.sql).
- ``cs_features``: CustomerSense read + clean + features, as ``customersense run`` calls them;
  the *feature stage* (``customer_frame`` on the cleaned rows: the engine query and the fetch) is
  reported on its own line.
- ``cs_run``: the whole ``customersense run FILE --out TMP --quiet`` (every stage, every output).
- ``pandas``: a careful pandas groupby: only the needed columns read with pyarrow, ids as
  categoricals, the same filter and aggregates as the plain GROUP BY.
- ``lifetimes``: lifetimes' ``summary_data_from_transaction_data`` on the same filtered rows, run
  by the Python of its own virtual environment (``--lifetimes-python``, default
  /tmp/lifetimes-venv/bin/python); skipped, with a message, when that is missing.

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
import tempfile
import time
from pathlib import Path

T_START = time.perf_counter()
HERE = Path(__file__).resolve().parent
JOBS = {
    "duckdb_groupby": "DuckDB SQL, plain RFM GROUP BY",
    "cs_features": "CustomerSense read + clean + features",
    "cs_run": "CustomerSense whole `customersense run`",
    "pandas": "pandas groupby (pyarrow read, categorical ids)",
    "lifetimes": "lifetimes summary_data_from_transaction_data",
}
COLUMNS = ["Invoice", "Quantity", "InvoiceDate", "Price", "Customer ID"]
TARGETS = {"cs_features_stage": 1.2, "cs_features_stage_csv": 1.3}


def _read_arrow(path: str):
    """Only the needed columns, with pyarrow (Parquet or CSV)."""
    if path.endswith(".csv"):
        import pyarrow.csv as pacsv

        return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(include_columns=COLUMNS))
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=COLUMNS)


def _filtered_frame(path: str):
    """Rows with a customer, not cancelled, price > 0 (the plain GROUP BY's filter)."""
    import pyarrow.compute as pc

    t = _read_arrow(path)
    keep = pc.and_(pc.and_(pc.is_valid(t["Customer ID"]), pc.invert(pc.starts_with(t["Invoice"], "C"))),
                   pc.greater(t["Price"], 0))
    t = t.filter(keep)
    df = t.to_pandas()
    df["Customer ID"] = df["Customer ID"].astype("category")
    df["Invoice"] = df["Invoice"].astype("category")
    df["amount"] = df["Quantity"] * df["Price"]
    return df


def child(job: str, path: str) -> dict:
    extra: dict = {}
    if job == "duckdb_groupby":
        import duckdb

        sql = (HERE / "sql" / "plain_groupby.sql").read_text()
        if path.endswith(".csv"):
            sql = sql.replace("read_parquet(", "read_csv(")
        imported = time.perf_counter()
        con = duckdb.connect()
        t0 = time.perf_counter()
        rows = con.execute(sql.format(path="'" + path.replace("'", "''") + "'")).fetch_arrow_table().num_rows
    elif job == "cs_features":
        sys.path.insert(0, str(HERE))
        import bench_features

        imported = time.perf_counter()
        t0 = time.perf_counter()
        res = bench_features.child("customersense", path)
        rows, extra["feature_stage_s"] = res["customers"], res["stages"]["features (total)"]
        extra["stages"] = res["stages"]
    elif job == "cs_run":
        from customersense.cli.main import cli

        imported = time.perf_counter()
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            cli.main(["run", path, "--out", out, "--quiet"], prog_name="customersense", standalone_mode=False)
            seconds = time.perf_counter() - t0
            record = json.loads((Path(out) / "run.json").read_text())
        extra["stages"] = {k: v["seconds"] for k, v in record["timings"]["stages"].items()}
        rows = record.get("customers")
        t0 = time.perf_counter() - seconds
    elif job == "pandas":
        import pandas as pd  # noqa: F401 (imported before the clock starts)
        import pyarrow  # noqa: F401

        imported = time.perf_counter()
        t0 = time.perf_counter()
        df = _filtered_frame(path)
        g = df.groupby("Customer ID", observed=True).agg(
            frequency=("Invoice", "nunique"), monetary=("amount", "sum"),
            first_purchase=("InvoiceDate", "min"), last_purchase=("InvoiceDate", "max"))
        rows = len(g)
    elif job == "lifetimes":
        import pyarrow  # noqa: F401
        from lifetimes.utils import summary_data_from_transaction_data

        imported = time.perf_counter()
        t0 = time.perf_counter()
        df = _filtered_frame(path)
        df["Customer ID"] = df["Customer ID"].astype("float64")
        summary = summary_data_from_transaction_data(
            df, "Customer ID", "InvoiceDate", monetary_value_col="amount",
            observation_period_end=df["InvoiceDate"].max())
        rows = len(summary)
    else:
        raise SystemExit(f"unknown job {job}")
    seconds = time.perf_counter() - t0
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"job": job, "seconds": seconds, "import_seconds": imported - T_START, "customers": rows,
            "peak_rss_mib": peak, **extra}


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
    for job, what in (("cs_features", "read + clean + features"), ("cs_run", "`customersense run`")):
        if results.get(job):
            runs = sorted(results[job], key=lambda x: x["seconds"])
            mid = runs[len(runs) // 2]
            stages = ", ".join(f"{k} {v:.1f}" for k, v in mid["stages"].items())
            lines += ["", f"CustomerSense {what}, seconds per stage in the median run ({mid['seconds']:.1f} s): "
                          f"{stages}."]
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
    sys.path.insert(0, str(HERE))
    import generate

    jobs = ["duckdb_groupby", *(j for j in args.jobs if j != "duckdb_groupby")]
    skipped = {}
    if "lifetimes" in jobs and not Path(args.lifetimes_python).exists():
        skipped["lifetimes"] = (f"{args.lifetimes_python} missing; create it with `python3 -m venv "
                                "/tmp/lifetimes-venv && /tmp/lifetimes-venv/bin/pip install lifetimes pandas pyarrow`")
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
