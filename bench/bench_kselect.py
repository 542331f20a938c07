"""Benchmark: the k sweep (k = 2..10) of CustomerSegmenter on millions of customers, against a
full scikit-learn K-Means fit of the chosen k on all points (the inertia it has to match).

    .venv/bin/python bench/bench_kselect.py --customers 1000000 5000000 --repeats 3

Customers: five planted groups in the log-feature space (5 features) with Student-t(5) noise,
so the groups overlap and the tails are heavy, as in real RFM data; raw values are
sign(z) * expm1(|z|), which the segmenter's signed log1p turns back into z before scaling.
"Sweep" is what ``fit_seconds_`` calls k_sweep + assign: every k fitted and scored, k chosen,
the final K-Means fitted, and every customer given its nearest centre. Anomaly detection is
off (contamination 0) so that all points are clustered and the inertias compare directly.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from sklearn.cluster import KMeans

from customersense.models.segmenter import CustomerSegmenter


def customers(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 1.5, (5, 5))
    z = centers[rng.integers(0, 5, n)] + 0.7 * rng.standard_t(5, (n, 5))
    return np.sign(z) * np.expm1(np.abs(z))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, nargs="+", default=[1_000_000, 5_000_000])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"{os.cpu_count()} CPUs; load average before: {os.getloadavg()[0]:.2f}; "
          f"CustomerSegmenter defaults (sweep sample 50,000, final fit sample 200,000, "
          f"silhouettes 3 x 5,000); full fit: scikit-learn KMeans(k, n_init=4) on all points")
    print()
    print("| customers | k chosen | sweep + final fit + assign s (median) | min | max | whole fit s "
          "| full K-Means of the chosen k s | inertia | full-fit inertia | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.customers:
        X = customers(n)
        sweeps, fits = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            seg = CustomerSegmenter(contamination=0, random_state=0).fit(X)
            fits.append(time.perf_counter() - t0)
            sweeps.append(seg.fit_seconds_["k_sweep"] + seg.fit_seconds_["assign"])
        Z = seg.preprocessor_.transform(X)
        t0 = time.perf_counter()
        full = KMeans(seg.n_clusters_, n_init=4, random_state=0).fit(Z)
        t_full = time.perf_counter() - t0
        print(f"| {n:,} | {seg.n_clusters_} | {np.median(sweeps):.2f} | {min(sweeps):.2f} | {max(sweeps):.2f} "
              f"| {np.median(fits):.2f} | {t_full:.2f} | {seg.inertia_:,.0f} | {full.inertia_:,.0f} "
              f"| {seg.inertia_ / full.inertia_:.4f} |", flush=True)
    print()
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
