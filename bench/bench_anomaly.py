"""Benchmark: Isolation Forest flags for n customers, scikit-learn as is vs CustomerSense's
AnomalyDetector (one scoring pass, row chunks scored in threads), same seed, same flags.

    .venv/bin/python bench/bench_anomaly.py --customers 500000 5000000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.ensemble import IsolationForest

from customersense.models.anomaly import AnomalyDetector


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, nargs="+", default=[500_000, 5_000_000])
    args = ap.parse_args()
    print("| customers | scikit-learn fit + predict s | CustomerSense s | ratio | identical flags |")
    print("|---:|---:|---:|---:|---|")
    for n in args.customers:
        Z = np.random.default_rng(0).standard_t(4, size=(n, 5))  # heavy-tailed, like log RFM features
        t0 = time.perf_counter()
        ref = IsolationForest(n_estimators=200, contamination=0.05, random_state=42).fit(Z).predict(Z)
        t1 = time.perf_counter()
        det = AnomalyDetector(0.05, random_state=42).fit(Z)
        ours = np.where(det.train_scores_ < det.offset_, -1, 1)
        t2 = time.perf_counter()
        print(f"| {n:,} | {t1 - t0:.2f} | {t2 - t1:.2f} | {(t1 - t0) / (t2 - t1):.1f}x | {bool((ref == ours).all())} |")


if __name__ == "__main__":
    main()
