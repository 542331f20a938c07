"""Benchmark: Isolation Forest flags for n customers, scikit-learn as is against CustomerSense's
AnomalyDetector (trees grown from their sampled rows, every customer scored once by the compiled
kernel, row chunks on all cores); same seed, same trees, same scores, same flags.

    .venv/bin/python bench/bench_anomaly.py --customers 500000 5000000 --sklearn-up-to 500000

Above ``--sklearn-up-to`` customers plain scikit-learn (one core, two scoring passes) is not
timed; identity is then checked against a plain scikit-learn fit of the same forest: every tree
node for node, and scikit-learn's scores on a 200,000-row sample.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from sklearn.ensemble import IsolationForest

from customersense.models.anomaly import AnomalyDetector

CHECK_ROWS = 200_000


def same_trees(a, b) -> bool:
    fields = ("feature", "threshold", "children_left", "children_right", "n_node_samples")
    return all(np.array_equal(getattr(x.tree_, f), getattr(y.tree_, f))
               for x, y in zip(a.estimators_, b.estimators_, strict=True) for f in fields)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, nargs="+", default=[500_000, 5_000_000])
    ap.add_argument("--sklearn-up-to", type=int, default=500_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    t0 = time.perf_counter()
    AnomalyDetector(0.05, random_state=42, method="compiled").fit(np.zeros((10, 5)))
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; first compiled call in this "
          f"process (numba import, kernel from its cache or compiled): {time.perf_counter() - t0:.2f} s")
    print()
    print("| customers | scikit-learn fit + predict s | CustomerSense fit + score s (median) | min | max "
          "| its CPU s | vs scikit-learn | identical |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    for n in args.customers:
        Z = np.random.default_rng(0).standard_t(4, size=(n, 5))  # heavy-tailed, like log RFM features
        walls, cpus = [], []
        for _ in range(args.repeats):
            t0, cpu0 = time.perf_counter(), time.process_time()
            det = AnomalyDetector(0.05, random_state=42).fit(Z)
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - cpu0)
        t_ref = float("nan")
        if n <= args.sklearn_up_to:
            t0 = time.perf_counter()
            forest = IsolationForest(n_estimators=200, contamination=0.05, random_state=42).fit(Z)
            flags = forest.predict(Z)
            t_ref = time.perf_counter() - t0
            same = bool(np.array_equal(det.train_scores_, forest.score_samples(Z)))
            same &= bool((np.where(det.train_scores_ < det.offset_, -1, 1) == flags).all())
            what = "scores and flags"
        else:
            forest = IsolationForest(n_estimators=200, contamination="auto", random_state=42).fit(Z)
            rows = np.random.default_rng(1).choice(n, CHECK_ROWS, replace=False)
            same = same_trees(det.forest_, forest)
            same &= bool(np.array_equal(det.train_scores_[rows], forest.score_samples(Z[rows])))
            what = f"trees, scores of {CHECK_ROWS:,} rows"
        ref = "(not run)" if np.isnan(t_ref) else f"{t_ref:.2f}"
        ratio = "-" if np.isnan(t_ref) else f"{t_ref / np.median(walls):.1f}x"
        print(f"| {n:,} | {ref} | {np.median(walls):.2f} | {min(walls):.2f} | {max(walls):.2f} "
              f"| {np.median(cpus):.2f} | {ratio} | {same} ({what}) |", flush=True)
    print()
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
