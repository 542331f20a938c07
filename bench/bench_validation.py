"""Benchmark: statistical validation of learned segments at 1M customers stays within budget.

Validation (bootstrap stability, gap statistic, null test) works on at most
``ValidationSettings.max_customers`` customers (default 5,000, a seeded sample), so its cost does
not grow with the number of customers. This script measures it at several sizes on planted
groups in a 5-feature scaled space (the shape the segmenter hands to validation):

    .venv/bin/python bench/bench_validation.py --customers 10000 100000 1000000 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from sklearn.cluster import KMeans

from customersense.evaluation.validation import ValidationSettings, validate_clustering


def planted(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, size=(4, 5))
    groups = rng.integers(0, 4, size=n)
    return centers[groups] + rng.normal(0, 1, size=(n, 5)), groups


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    settings = ValidationSettings()
    print(f"settings: {settings}")
    print("| customers | validation s (median) | min s | max s | used | verdict |")
    print("|---:|---:|---:|---:|---:|---|")
    for n in args.customers:
        Z, _ = planted(n)
        # labels as the segmenter would give them: K-Means fitted on a sample, all assigned
        sample = Z[np.random.default_rng(1).choice(n, min(n, 200_000), replace=False)]
        labels = KMeans(4, n_init=4, random_state=0).fit(sample).predict(Z)
        times, report = [], None
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            report = validate_clustering(Z, labels, settings)
            times.append(time.perf_counter() - t0)
        print(f"| {n:,} | {statistics.median(times):.2f} | {min(times):.2f} | {max(times):.2f} "
              f"| {report.n_used:,} | {report.verdict()} |")


if __name__ == "__main__":
    main()
