"""Benchmark: BG/NBD and Pareto/NBD maximum-likelihood fits on synthetic BG/NBD customers.

Draws ``--customers`` customers (default 1,000,000, seeded) from a BG/NBD process with the
CDNOW parameters (r=0.243, alpha=4.414, a=0.793, b=2.426, in weeks): first purchases spread
over 12 weeks, calibration end at week 52; recency and T are rounded down to whole days, as
in a summary of daily transactions. Times the CustomerSense fits (row grouping included)
and, when the ``lifetimes`` package runs in a separate interpreter (``--lifetimes-python``,
default ``/tmp/lifetimes-venv/bin/python`` when it exists), the lifetimes 0.11 fits on the
same data in the same run (BG/NBD at ``--customers``, Pareto/NBD at
``--lifetimes-pareto-customers``). Prints a markdown table.

    .venv/bin/python bench/bench_clv.py
    python3 -m venv /tmp/lifetimes-venv && /tmp/lifetimes-venv/bin/pip install lifetimes
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TRUE = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
TARGETS = {"BG/NBD": 2.0, "Pareto/NBD": 15.0}
DEFAULT_LIFETIMES = "/tmp/lifetimes-venv/bin/python"

LIFETIMES_CHILD = r"""
import json, sys, time, numpy as np
import lifetimes
d = np.load(sys.argv[1]); n_pareto = int(sys.argv[2]); out = {"version": lifetimes.__version__}
for name, cls, n in (("BG/NBD", lifetimes.BetaGeoFitter, d["x"].size),
                     ("Pareto/NBD", lifetimes.ParetoNBDFitter, n_pareto)):
    t0 = time.perf_counter()
    try:
        m = cls().fit(d["x"][:n], d["tx"][:n], d["T"][:n])
        out[name] = {"n": n, "seconds": time.perf_counter() - t0, "params": {k: float(v) for k, v in m.params_.items()}}
    except Exception as exc:  # report, do not abort the benchmark
        out[name] = {"n": n, "error": f"{type(exc).__name__}: {exc}"[:200]}
print(json.dumps(out))
"""


def simulate(n: int, seed: int = 0, cohort_weeks: int = 12, calibration_weeks: int = 52):
    """Frequency, recency and T (weeks, whole days) of ``n`` BG/NBD customers."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(TRUE["r"], 1.0 / TRUE["alpha"], n)
    p = rng.beta(TRUE["a"], TRUE["b"], n)
    birth_day = rng.integers(0, cohort_weeks * 7, n)
    T_days = calibration_weeks * 7 - birth_day
    T = T_days / 7.0
    k = rng.poisson(lam * T)                       # purchases in (0, T] if never dropping out
    x = np.minimum(k, rng.geometric(p))            # dropout after the j-th repeat purchase
    # Time of the x-th of k uniform purchase times on (0, T]: T * Beta(x, k - x + 1).
    tx = np.zeros(n)
    pos = x > 0
    tx[pos] = T[pos] * rng.beta(x[pos], k[pos] - x[pos] + 1)
    tx = np.minimum(np.floor(tx * 7), T_days) / 7.0
    return x.astype(float), tx, T


def time_fit(cls, x, tx, T, repeats: int):
    """Median wall-clock seconds of ``repeats`` fits (row grouping included) and the last model."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model = cls().fit(x, tx, T)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), model


def loglik_at(cls, params: dict, x, tx, T) -> float:
    """CustomerSense log-likelihood at given parameters (to compare lifetimes' optimum)."""
    from customersense.clv._base import group_rows

    model = cls()
    (gx, gtx, gT), w = group_rows(x, tx, T)
    theta = np.array([params[k] for k in cls._param_names])
    return model._loglik(theta, model._prepare(gx, gtx, gT), w)


def run_lifetimes(python: str, x, tx, T, n_pareto: int, timeout: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.npz"
        np.savez(path, x=x, tx=tx, T=T)
        try:
            res = subprocess.run([python, "-c", LIFETIMES_CHILD, str(path), str(n_pareto)],
                                 capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f} s"}
    if res.returncode != 0:
        return {"error": res.stderr.strip().splitlines()[-1][:200] if res.stderr.strip() else f"exit {res.returncode}"}
    return json.loads(res.stdout.strip().splitlines()[-1])


def fmt_params(params: dict) -> str:
    return ", ".join(f"{k} {v:.4g}" for k, v in params.items())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--lifetimes-pareto-customers", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3, help="CustomerSense fits per row (median reported)")
    ap.add_argument("--lifetimes-python", default=DEFAULT_LIFETIMES if os.path.exists(DEFAULT_LIFETIMES) else None)
    ap.add_argument("--lifetimes-timeout", type=float, default=1800.0)
    args = ap.parse_args(argv)

    from customersense.clv import BetaGeoFitter, ParetoNBDFitter

    t0 = time.perf_counter()
    x, tx, T = simulate(args.customers, args.seed)
    sim_s = time.perf_counter() - t0
    distinct = np.unique(np.column_stack([x, tx, T]), axis=0).shape[0]
    n_small = min(args.lifetimes_pareto_customers, args.customers)
    rows = []
    for name, cls, n in (("BG/NBD", BetaGeoFitter, args.customers), ("Pareto/NBD", ParetoNBDFitter, args.customers),
                         ("Pareto/NBD", ParetoNBDFitter, n_small)):
        secs, model = time_fit(cls, x[:n], tx[:n], T[:n], args.repeats)
        rows.append({"model": name, "n": n, "impl": "customersense", "seconds": secs, "params": model.params_,
                     "log_likelihood": model.log_likelihood_, "target": TARGETS[name] if n == args.customers else None})
    lt_note = "lifetimes: not run (no --lifetimes-python interpreter)"
    if args.lifetimes_python:
        lt = run_lifetimes(args.lifetimes_python, x, tx, T, n_small, args.lifetimes_timeout)
        if "error" in lt:
            lt_note = f"lifetimes: failed ({lt['error']})"
        else:
            lt_note = f"lifetimes {lt['version']} in {args.lifetimes_python} (subprocess, same data)"
            for name in ("BG/NBD", "Pareto/NBD"):
                r, cls = lt[name], {"BG/NBD": BetaGeoFitter, "Pareto/NBD": ParetoNBDFitter}[name]
                n = r["n"]
                ll = loglik_at(cls, r["params"], x[:n], tx[:n], T[:n]) if "params" in r else None
                rows.append({"model": name, "n": n, "impl": "lifetimes (1 fit)", "seconds": r.get("seconds"),
                             "params": r.get("params", {}), "log_likelihood": ll,
                             "error": r.get("error"), "target": None})

    print(f"Synthetic BG/NBD customers: {args.customers:,} (seed {args.seed}, true {fmt_params(TRUE)}), "
          f"{distinct:,} distinct (x, t_x, T) rows; simulated in {sim_s:.2f} s; {os.cpu_count()} CPUs.")
    print(lt_note + f"; CustomerSense times are the median of {args.repeats} fits; log-likelihoods are computed "
          "by CustomerSense at each implementation's parameters.\n")
    print("| model | customers | implementation | fit seconds | target | parameters | log-likelihood |")
    print("|---|---:|---|---:|---:|---|---:|")
    for r in rows:
        secs = "error: " + r["error"] if r.get("error") else f"{r['seconds']:.2f}"
        target = f"<= {r['target']:.0f} s" if r["target"] else ""
        ll = f"{r['log_likelihood']:,.1f}" if r.get("log_likelihood") is not None else ""
        print(f"| {r['model']} | {r['n']:,} | {r['impl']} | {secs} | {target} | {fmt_params(r['params'])} | {ll} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
