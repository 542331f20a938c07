#!/usr/bin/env bash
# Issues 5 and 19 (scale), every table of docs/benchmarks.md sections 5 and 8 (and section 7, the
# CLV stage of issue 15), from one command:
#
#     make bench-scale            (or: bash bench/scale.sh [RESULTS_FILE])
#
# Sets up what it needs on first use: the project's .venv with the bench extra (polars; make),
# lifetimes in its own environment (/tmp/lifetimes-venv, pinned versions below), and the seeded
# synthetic files in bench/data/ (bench/generate.py; 1M, 10M and 50M rows, the 200M-row file only
# with SCALE_200M=1). Run it on a quiet machine: every number is a time. Measured end to end on
# 2 cores (2026-12-02, SCALE_200M=1, generating its files on the way): 46 minutes, of
# which the 200M-row file took 11 (2 to generate, 9 to run). The tables go to stdout and to RESULTS_FILE
# (default bench/results/scale.md, git-ignored), each with its machine load before and after.
# Peak memory of a whole run is the process tree's (bench/treepeak.py): the run draws its figures
# in a worker process beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
OUT=${1:-bench/results/scale.md}
LT=${LIFETIMES_VENV:-/tmp/lifetimes-venv}
make --quiet .venv/.installed-bench
if [ ! -x "$LT/bin/python" ]; then
    python3 -m venv "$LT"
    "$LT/bin/pip" install --quiet "lifetimes==0.11.3" "pandas==3.1.1" "pyarrow==26.0.1"
fi
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
section() { printf '\n## %s\n\n' "$1" | tee -a "$OUT"; }
peers() { $PY bench/run_peers.py --lifetimes-python "$LT/bin/python" --markdown "$OUT" "$@"; }

section "5.1 retail shape, 1M and 10M rows"
peers --rows 1000000 10000000 --repeats 3
section "5.2 issue shape, 10M rows / 1M customers"
peers --shape issue5 --rows 10000000 --repeats 3
section "5.2 issue shape, 50M rows / 5M customers"
peers --shape issue5 --rows 50000000 --repeats 1
section "8.2 the exact-duplicate step, GROUP BY over every column against a row hash, 50M rows"
$PY bench/bench_dedupe.py bench/data/synthetic_50000000_issue5.parquet | tee -a "$OUT"
section "8.3 the default run, the engine's default memory (a quarter of the RAM, at most 4 GiB) against half the RAM, 10M rows"
HALF=$(( $(getconf PAGE_SIZE) * $(getconf _PHYS_PAGES) / 2 / 1048576 ))MiB
for limit in default "$HALF"; do
    echo "memory limit: $limit" | tee -a "$OUT"
    extra=(); [ "$limit" = default ] || extra=(--memory-limit "$limit")
    $PY bench/treepeak.py .venv/bin/customersense run bench/data/synthetic_10000000_issue5.parquet \
        --out /tmp/customersense-memory --quiet "${extra[@]}" \
        2>&1 | grep -E "Elapsed|Maximum resident|Exit status" | tee -a "$OUT" || true
done
section "5.2 the whole run with DuckDB capped at 1 GB, 10M rows / 1M customers"
$PY bench/treepeak.py .venv/bin/customersense run bench/data/synthetic_10000000_issue5.parquet \
    --out /tmp/customersense-capped --quiet --memory-limit 1GB --no-dashboards \
    2>&1 | grep -E "Elapsed|Maximum resident|Exit status" | tee -a "$OUT" || true  # its exit status is in the table
section "5.2 the whole run with DuckDB capped at 3 GB, 50M rows / 5M customers"
$PY bench/treepeak.py .venv/bin/customersense run bench/data/synthetic_50000000_issue5.parquet \
    --out /tmp/customersense-capped50 --quiet --memory-limit 3GB --no-dashboards \
    2>&1 | grep -E "Elapsed|Maximum resident|Exit status" | tee -a "$OUT" || true
section "5.2 from a 10M-row CSV"
peers --rows 10000000 --csv --jobs duckdb_groupby cs_features polars --repeats 1
section "5.3 Isolation Forest"
$PY bench/bench_anomaly.py --customers 500000 5000000 --repeats 3 | tee -a "$OUT"
section "5.4 k sweep"
$PY bench/bench_kselect.py --customers 1000000 5000000 --repeats 3 | tee -a "$OUT"
section "7. the churn and CLV stage (issue 15), against lifetimes"
$PY bench/bench_clv_stage.py --customers 100000 1000000 --lifetimes-python "$LT/bin/python" | tee -a "$OUT"
if [ "${SCALE_200M:-0}" = 1 ]; then
    section "5.5 / 8 200M rows, default options, bounded memory"
    [ -f bench/data/synthetic_200000000.parquet ] || $PY bench/generate.py --rows 200000000
    $PY bench/treepeak.py .venv/bin/customersense run bench/data/synthetic_200000000.parquet \
        --out /tmp/customersense-200m --quiet \
        2>&1 | grep -E "Elapsed|Maximum resident|Exit status" | tee -a "$OUT"
    $PY -c "import json; t = json.load(open('/tmp/customersense-200m/run.json'))['timings']; print(json.dumps(t))" | tee -a "$OUT"
fi
echo "results: $OUT"
