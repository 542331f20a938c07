"""Issue 20's speed target: 12 monthly snapshots of about 1M customers scored by one frozen model.

    python bench/bench_evolve.py --rows 10000000        # bench/data/synthetic_10000000_issue5.parquet

Steps (each in its own process, so peak memory is the step's own):

1. ``generate``: the issue5-shaped file (about 1 customer per 10 rows, two years), if missing;
2. ``train``: a run on it with ``--no-validate --no-clv --no-plots --no-dashboards`` (the bundle to freeze);
3. ``evolve``: ``customersense evolve FILE --model BUNDLE --every month --from 2011-01-01
   --to 2011-12-01`` (12 snapshots), timed as a whole and per stage (from evolve.json), with the
   peak resident memory of the process.

Prints one Markdown table for docs/evolution.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent / "customersense"


def timed(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run(args, check=True)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--work", type=Path, default=HERE / "data" / "evolve")
    ap.add_argument("--reuse-model", action="store_true", help="skip the training run when its bundle exists")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from generate import default_path

    data = default_path(args.rows, "issue5")
    if not data.exists():
        subprocess.run([sys.executable, str(HERE / "generate.py"), "--rows", str(args.rows), "--shape", "issue5"],
                       check=True)
    args.work.mkdir(parents=True, exist_ok=True)
    train_s = train_mib = float("nan")
    if not (args.reuse_model and (args.work / "train" / "model" / "manifest.json").is_file()):
        train_s, train_mib = timed([str(BIN), "run", str(data), "--out", str(args.work / "train"), "--no-validate",
                                    "--no-clv", "--no-plots", "--no-dashboards", "--quiet", "--csv-max-rows", "0"])
    evolve_s, evolve_mib = timed([str(BIN), "evolve", str(data), "--model", str(args.work / "train" / "model"),
                                  "--every", "month", "--from", "2011-01-01", "--to", "2011-12-01",
                                  "--out", str(args.work / "evolve"), "--no-plots", "--quiet"])
    record = json.loads((args.work / "evolve" / "evolve.json").read_text())
    stages = record["timings"]["stages"]
    customers = record["customers_per_snapshot"]
    print(f"rows {args.rows:,}; snapshots {len(record['snapshots'])}; customers in the last snapshot "
          f"{list(customers.values())[-1]:,}\n")
    print("| step | seconds | peak RSS (MiB) |\n|---|---:|---:|")
    print(f"| train (run --no-validate --no-clv) | {train_s:.1f} | {train_mib:,.0f} |")
    print(f"| evolve, whole command | {evolve_s:.1f} | {evolve_mib:,.0f} |")
    for name, stage in stages.items():
        print(f"| evolve: {name} | {stage['seconds']:.1f} | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
