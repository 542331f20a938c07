"""Benchmark: Isolation Forest flags for n customers: scikit-learn as is, CustomerSense's
AnomalyDetector walking the trees with scikit-learn's code (row chunks scored in threads), and
the same detector with its compiled kernel (numba); same seed, same scores, same flags.

    .venv/bin/python bench/bench_anomaly.py --customers 500000 5000000 --sklearn-up-to 500000

Above ``--sklearn-up-to`` customers plain scikit-learn (one core, two scoring passes) is not
run; identity is then checked against scikit-learn's tree walks on the same forest.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from sklearn.ensemble import IsolationForest

from customersense.models.anomaly import AnomalyDetector


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, nargs="+", default=[500_000, 5_000_000])
    ap.add_argument("--sklearn-up-to", type=int, default=500_000)
    args = ap.parse_args()
    t0 = time.perf_counter()
    AnomalyDetector(0.05, random_state=42).fit(np.zeros((10, 5)), method="compiled")
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; first compiled call in this "
          f"process (numba import, kernel from its cache or compiled): {time.perf_counter() - t0:.2f} s")
    print()
    print("| customers | scikit-learn fit + predict s | chunks + threads, scikit-learn walks s "
          "| chunks + threads, compiled walks s | its CPU s | vs scikit-learn | vs threads alone | identical scores |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    for n in args.customers:
        Z = np.random.default_rng(0).standard_t(4, size=(n, 5))  # heavy-tailed, like log RFM features
        ref = None
        t_ref = float("nan")
        if n <= args.sklearn_up_to:
            t0 = time.perf_counter()
            forest = IsolationForest(n_estimators=200, contamination=0.05, random_state=42).fit(Z)
            ref = forest.predict(Z)
            t_ref = time.perf_counter() - t0
        t0 = time.perf_counter()
        threads = AnomalyDetector(0.05, random_state=42).fit(Z, method="sklearn")
        t_threads = time.perf_counter() - t0
        t0, cpu0 = time.perf_counter(), time.process_time()
        det = AnomalyDetector(0.05, random_state=42).fit(Z, method="compiled")
        t_compiled, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        same = bool(np.array_equal(det.train_scores_, threads.train_scores_))
        if ref is not None:
            same &= bool((np.where(det.train_scores_ < det.offset_, -1, 1) == ref).all())
            same &= bool(np.array_equal(det.train_scores_, forest.score_samples(Z)))
        print(f"| {n:,} | {t_ref:.2f} | {t_threads:.2f} | {t_compiled:.2f} | {cpu:.2f} | {t_ref / t_compiled:.1f}x "
              f"| {t_threads / t_compiled:.1f}x | {same} |", flush=True)
    print()
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
