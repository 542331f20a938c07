"""Benchmark: CustomerSense read + clean + features vs plain DuckDB SQL over the same Parquet.

Runs, each in its own subprocess so that peak RSS is per run (measured by the child itself
with getrusage at its end, so it covers the whole process, imports included):

- ``duckdb_groupby`` (sql/plain_groupby.sql): the issue's baseline, a basic RFM GROUP BY in
  plain DuckDB SQL (rows with a customer, not cancelled, price > 0; distinct invoices, revenue,
  first/last date per customer).
- ``duckdb_same_rules`` (sql/same_rules.sql): hand-written DuckDB SQL applying CustomerSense's
  cleaning rules (standardised ids, exact-duplicate removal, non-product codes, returns netting,
  orphan returns) and computing the same feature columns. It produces no cleaning report.
- ``customersense``: ``read_transactions`` + ``clean`` + ``customer_frame(...)`` (the features as the run
  fetches them: the engine's query, then the engagement score in numpy),
  with the time of each stage and of the main queries inside it.

Times are wall-clock seconds of the work inside the child, after imports (import time is
reported separately). The runs are interleaved and their order rotates between repeats; the
file is read once beforehand so every run starts from a warm page cache.

    .venv/bin/python bench/bench_features.py --rows 10000000 --repeats 3 --markdown out.md
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
TARGET = 1.5
RUNS = {
    "duckdb_groupby": "DuckDB SQL, plain RFM GROUP BY",
    "duckdb_same_rules": "DuckDB SQL, same cleaning rules + features",
    "customersense": "CustomerSense read + clean + features",
}
# Functions wrapped in the CustomerSense child to time the main queries inside each stage.
STAGE_PROBES = (
    ("readers", "fingerprint", "read: sha256 fingerprint of the file"),
    ("readers", "standardise", "read: standardise (mapping, validation queries)"),
    ("engine", "materialize", "clean: dedupe + label rows, materialised (and a CSV's parse)"),
    ("cleaning", "_count_labels", "clean: counts per rule + last date query"),
    ("cleaning", "_buyers_and_orphans", "clean: buyers and orphan returns query"),
)
STAGES = ("read (total)", *(p[2] for p in STAGE_PROBES[:2]), "clean (total)",
          *(p[2] for p in STAGE_PROBES[2:]), "features (total)")

SQL = {run: (HERE / "sql" / f"{name}.sql").read_text()
       for run, name in (("duckdb_groupby", "plain_groupby"), ("duckdb_same_rules", "same_rules"))}


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _summary(table) -> dict:
    """Row count and a checksum, to see that the two feature runs agree."""
    out = {"customers": table.num_rows}
    if "monetary" in table.column_names:
        import pyarrow.compute as pc

        out["sum_monetary"] = round(pc.sum(table["monetary"]).as_py() or 0.0, 2)
        out["sum_frequency"] = pc.sum(table["frequency"]).as_py()
    return out


def child(run: str, path: str) -> dict:
    """One run in this process; returns seconds, stage seconds and peak RSS."""
    import resource

    stages: dict[str, float] = {}
    if run == "customersense":
        import tempfile

        import customersense.cleaning.rules as cleaning_mod
        import customersense.io.readers as readers_mod
        from customersense.cleaning import clean
        from customersense.config import load_config
        from customersense.engine import DuckDBEngine, connect
        from customersense.features import customer_frame
        from customersense.io.readers import read_transactions

        def timed(module, name: str, label: str) -> None:
            """Wrap module.name so that its calls add to stages[label] (src/ stays untouched)."""
            fn = getattr(module, name)

            def wrapper(*args, **kwargs):
                t = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    stages[label] = stages.get(label, 0.0) + time.perf_counter() - t

            setattr(module, name, wrapper)

        for module, name, label in STAGE_PROBES:
            timed({"readers": readers_mod, "cleaning": cleaning_mod, "engine": DuckDBEngine}[module], name, label)
        imported = time.perf_counter()
        config = load_config(None, {"input": {"source": path}})
        engine = connect(config.engine)
        with tempfile.TemporaryDirectory() as wd:
            t0, cpu0 = time.perf_counter(), _cpu()
            tx = read_transactions(engine, config.input, Path(wd))
            t1 = time.perf_counter()
            cleaned = clean(engine, tx.table, config.cleaning, source=path)
            t2 = time.perf_counter()
            result = customer_frame(cleaned.purchases_and_returns, cleaned.report.as_of, engine=engine)
            t3 = time.perf_counter()
        import pyarrow as pa

        result = pa.Table.from_pandas(result, preserve_index=False)  # for _summary, after the clock
        seconds = t3 - t0
        stages.update({"read (total)": t1 - t0, "clean (total)": t2 - t1,
                       "features (total)": t3 - t2})
        threads = engine.backend.raw_sql("SELECT current_setting('threads')").fetchone()[0]
    else:
        import duckdb
        from customersense.config import DEFAULT_NON_PRODUCT_CODES

        imported = time.perf_counter()
        con = duckdb.connect()
        t0, cpu0 = time.perf_counter(), _cpu()
        codes = ", ".join(_sql_str(c.upper()) for c in DEFAULT_NON_PRODUCT_CODES)
        result = con.execute(SQL[run].format(path=_sql_str(path), codes=codes)).fetch_arrow_table()
        seconds = time.perf_counter() - t0
        threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"run": run, "seconds": seconds, "import_seconds": imported - T_START,
            "cpu_seconds": usage.ru_utime + usage.ru_stime - cpu0,
            "peak_rss_mib": usage.ru_maxrss / 1024,  # ru_maxrss is KiB on Linux
            "stages": stages, "threads": threads, **_summary(result)}


def run_child(run: str, path: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", run, "--path", str(path)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{run} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report(results: dict[str, list[dict]], rows: int, path: Path, load: tuple) -> str:
    """The markdown tables: runs, the headline ratio, a check, and CustomerSense's stages."""
    med = {r: statistics.median(x["seconds"] for x in xs) for r, xs in results.items()}
    base, ratio = med["duckdb_groupby"], med["customersense"] / med["duckdb_groupby"]
    cs_runs = results["customersense"]
    lines = [f"{rows:,} rows, {path.stat().st_size / 2**20:.0f} MiB Parquet, {len(cs_runs)} "
             f"repeats, DuckDB threads = {cs_runs[0]['threads']}, 1-minute load average "
             f"{load[0]:.2f} before / {load[1]:.2f} after.", "",
             "| Run | median s | min s | max s | CPU s (median) | peak RSS MiB (max) "
             "| x plain GROUP BY |", "|---|---:|---:|---:|---:|---:|---:|"]
    for run, xs in results.items():
        secs = [x["seconds"] for x in xs]
        cpu = statistics.median(x["cpu_seconds"] for x in xs)
        rss = max(x["peak_rss_mib"] for x in xs)
        lines.append(f"| {RUNS[run]} | {med[run]:.2f} | {min(secs):.2f} | {max(secs):.2f} | "
                     f"{cpu:.1f} | {rss:.0f} | {med[run] / base:.2f}x |")
    feat = statistics.median(x["stages"]["features (total)"] for x in cs_runs)
    met = "met" if feat / base <= TARGET else "NOT met"
    lines += ["", f"**Feature stage (features from the cleaned transactions, {feat:.2f} s) / plain DuckDB "
                  f"GROUP BY = {feat / base:.2f}x (target <= {TARGET}x: {met}).** Whole read + clean + "
                  f"features / plain GROUP BY = {ratio:.2f}x; / DuckDB SQL with the same cleaning rules = "
                  f"{med['customersense'] / med['duckdb_same_rules']:.2f}x.", ""]
    a, b = cs_runs[0], results["duckdb_same_rules"][0]
    same = a["customers"] == b["customers"] and a["sum_frequency"] == b["sum_frequency"] and \
        abs(a["sum_monetary"] - b["sum_monetary"]) <= 1e-6 * max(1.0, abs(b["sum_monetary"]))
    lines += [f"Check: same-rules SQL and CustomerSense agree on customers, sum(frequency) and "
              f"sum(monetary): {'yes' if same else 'NO'} ({a['customers']:,} customers vs "
              f"{b['customers']:,}; monetary {a['sum_monetary']:,.2f} vs {b['sum_monetary']:,.2f}). "
              f"The plain GROUP BY finds {results['duckdb_groupby'][0]['customers']:,} customers.", ""]
    cs = sorted(cs_runs, key=lambda x: x["seconds"])[len(cs_runs) // 2]  # the median run
    total = cs["seconds"]
    lines += [f"CustomerSense stages in the median run ({total:.2f}s); indented rows are parts "
              "of the stage above:", "", "| Stage | s | share |", "|---|---:|---:|"]
    for key in STAGES:
        sec = cs["stages"].get(key, 0.0)
        name = key if "(total)" in key else "&nbsp;&nbsp;" + key.split(": ", 1)[1]
        lines.append(f"| {name} | {sec:.2f} | {100 * sec / total:.0f}% |")
        if key in ("read (total)", "clean (total)"):
            stage = key.split()[0]
            other = sec - sum(v for k, v in cs["stages"].items() if k.startswith(stage + ":"))
        if key in (STAGE_PROBES[1][2], STAGE_PROBES[-1][2]):
            lines.append(f"| &nbsp;&nbsp;rest ({stage}: building expressions, Python) | "
                         f"{other:.2f} | {100 * other / total:.0f}% |")
    imports = {r: statistics.median(x["import_seconds"] for x in xs) for r, xs in results.items()}
    lines += ["", "Not counted above: interpreter start + imports, "
              + ", ".join(f"{r} {s:.2f}s" for r, s in imports.items()) + "."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--path", type=Path, default=None, help="Parquet file (default: generated)")
    ap.add_argument("--markdown", type=Path, default=None, help="also write the tables here")
    ap.add_argument("--child", choices=list(RUNS), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, str(args.path))))
        return 0
    sys.path.insert(0, str(HERE))
    import generate

    path = args.path or generate.default_path(args.rows)
    if not path.exists():
        subprocess.run([sys.executable, str(HERE / "generate.py"), "--rows", str(args.rows),
                        "--out", str(path)], check=True)
    generate.warm_page_cache(path)
    load_before = os.getloadavg()[0]
    results: dict[str, list[dict]] = {r: [] for r in RUNS}
    names = list(RUNS)
    for i in range(args.repeats):
        for run in names[i % len(names):] + names[: i % len(names)]:
            res = run_child(run, path)
            results[run].append(res)
            print(f"repeat {i + 1}/{args.repeats} {run:18s} {res['seconds']:7.2f}s "
                  f"{res['peak_rss_mib']:7.0f} MiB", file=sys.stderr, flush=True)
    import pyarrow.parquet as pq

    rows = pq.read_metadata(path).num_rows  # --path may name a file of another size
    text = report(results, rows, path, (load_before, os.getloadavg()[0]))
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
