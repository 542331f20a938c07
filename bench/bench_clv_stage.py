"""Benchmark: the whole churn and CLV stage (issue 15) against lifetimes, side by side.

Simulates ``--customers`` customers (seeded) from a BG/NBD process with the CDNOW parameters
(r 0.243, alpha 4.414 weeks, a 0.793, b 2.426) and Gamma-Gamma spend (p 6.25, q 3.74,
gamma 15.44), first purchases spread over the first year of a two-year window, purchases on
whole days. Then times, on the same data:

- **customersense**: :func:`customersense.clv.stage.run_clv` on the transactions in DuckDB:
  the engine summaries, every candidate (BG/NBD, MBG/NBD and Pareto/NBD with the L2 penalty
  chosen by the holdout, Gamma-Gamma, the supervised model by time split), the baselines, the
  holdout scores, the refit on all data and every customer's columns; with the seconds (wall
  and CPU) of each step. By default (``clv.fit_sample`` 200,000) above 200,000 customers the
  candidates are fitted, scored and chosen on a seeded sample of about 200,000 customers and
  every customer is predicted (``--fit-sample 0``: every candidate on every customer, the exact
  path); the chosen model is then also fitted on every customer outside the timer, and each
  parameter's difference from the sample fit is printed in units of its stated sampling error.
- **lifetimes** (0.11.3, a subprocess of its own virtual environment, ``--lifetimes-python``):
  from the same per-customer (x, t_x, T, m) summary, which it is handed ready-made, BG/NBD and
  Gamma-Gamma fits, P(alive), conditional expected purchases and CLV for every customer (its
  Pareto/NBD fit only at sizes up to ``--lifetimes-pareto-customers``: it takes minutes at 1M).
- **customersense, the same work**: those BG/NBD and Gamma-Gamma fits and predictions by
  customersense's own models on that summary (standard errors included), for the like-for-like
  ratio.

The machine's 1-minute load average before and after each size is in the JSON.

Prints a markdown table; ``--json`` writes the numbers.

    .venv/bin/python bench/bench_clv_stage.py --customers 100000 1000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BGNBD = {"r": 0.243, "alpha": 4.414 * 7, "a": 0.793, "b": 2.426}   # alpha in days
GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}
START = dt.date(2024, 1, 1)
SPAN_DAYS = 730
DEFAULT_LIFETIMES = "/tmp/lifetimes-venv/bin/python"

LIFETIMES_CHILD = r"""
import json, sys, time, numpy as np, pandas as pd
import lifetimes
d = np.load(sys.argv[1]); n_pareto = int(sys.argv[2]); horizon = float(sys.argv[3])
x, tx, T, m = d["x"], d["tx"], d["T"], d["m"]
out = {"version": lifetimes.__version__}
t0 = time.perf_counter()
bg = lifetimes.BetaGeoFitter().fit(x, tx, T)
t1 = time.perf_counter()
pa = bg.conditional_probability_alive(x, tx, T)
ep = bg.conditional_expected_number_of_purchases_up_to_time(horizon, x, tx, T)
t2 = time.perf_counter()
rep = x > 0
gg = lifetimes.GammaGammaFitter().fit(x[rep], m[rep])
summary = pd.DataFrame({"frequency": x, "recency": tx, "T": T, "monetary_value": m})
clv = gg.customer_lifetime_value(bg, summary["frequency"], summary["recency"], summary["T"],
                                 summary["monetary_value"], time=12, discount_rate=0.01, freq="W")
t3 = time.perf_counter()
out["bgnbd_gg"] = {"fit": t1 - t0, "predict": t2 - t1, "gg_and_clv": t3 - t2, "total": t3 - t0,
                   "params": {k: float(v) for k, v in bg.params_.items()}}
if n_pareto:
    t0 = time.perf_counter()
    try:
        pn = lifetimes.ParetoNBDFitter().fit(x[:n_pareto], tx[:n_pareto], T[:n_pareto])
        out["pareto"] = {"n": n_pareto, "fit": time.perf_counter() - t0}
    except Exception as exc:
        out["pareto"] = {"n": n_pareto, "error": f"{type(exc).__name__}: {exc}"[:200]}
print(json.dumps(out))
"""


def simulate(n: int, seed: int = 0):
    """Transactions of ``n`` BG/NBD customers as Arrow arrays: customer id, day, amount."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(BGNBD["r"], 1.0 / BGNBD["alpha"], n)
    p = rng.beta(BGNBD["a"], BGNBD["b"], n)
    nu = rng.gamma(GG["q"], 1.0 / GG["gamma"], n)
    birth = rng.integers(0, 365, n).astype(float)
    ids, days = [np.arange(n)], [birth]
    t, alive = birth.copy(), np.ones(n, bool)
    while True:
        alive &= rng.random(n) >= p            # dropout right after each purchase
        t = t + rng.exponential(1.0, n) / lam
        keep = alive & (t < SPAN_DAYS)
        if not keep.any():
            break
        ids.append(np.nonzero(keep)[0])
        days.append(t[keep])
        alive &= keep
    cid, day = np.concatenate(ids), np.floor(np.concatenate(days)).astype(np.int64)
    amount = rng.gamma(GG["p"], 1.0, cid.size) / nu[cid]
    return cid, day, amount


def run_customersense(cid, day, amount, threads: int, fit_sample: int | None = None):
    import pyarrow as pa

    from customersense.clv.stage import STEPS, run_clv
    from customersense.config import CLVConfig, EngineConfig
    from customersense.engine import connect

    engine = connect(EngineConfig(threads=threads))
    dates = (np.datetime64(START) + day.astype("timedelta64[D]")).astype("datetime64[D]")
    table = pa.table({"customer_id": pa.array(cid.astype(str)), "purchase_date": pa.array(dates),
                      "line_amount": pa.array(amount), "is_return": pa.array(np.zeros(cid.size, bool))})
    clean = engine.upload(table, "bench_tx")
    steps, cpu, last = {}, {}, [time.perf_counter(), time.process_time()]

    def progress(done, total, what):
        now, now_cpu = time.perf_counter(), time.process_time()
        steps[STEPS[done - 1]] = round(now - last[0], 2)
        cpu[STEPS[done - 1]] = round(now_cpu - last[1], 2)
        last[:] = [now, now_cpu]

    as_of = START + dt.timedelta(days=SPAN_DAYS)
    cfg = CLVConfig() if fit_sample is None else CLVConfig(fit_sample=fit_sample)
    t0, c0 = time.perf_counter(), time.process_time()
    result = run_clv(clean, as_of, cfg, engine, progress)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    engine.close()
    return seconds, steps, result, {"seconds": round(cpu_seconds, 2), "steps": cpu}


def customersense_same_work(result) -> dict:
    """lifetimes' side done by customersense on the same summary: BG/NBD and Gamma-Gamma fits
    (standard errors included), P(alive), expected purchases in 90 days, 12-month CLV."""
    from customersense.clv.models import BetaGeoFitter, GammaGammaFitter, lifetime_values

    cols = result.columns
    x, tx, T, m = (cols[c].to_numpy(float) for c in ("clv_frequency", "clv_recency", "clv_T", "clv_monetary_value"))
    t0 = time.perf_counter()
    bg = BetaGeoFitter().fit(x, tx, T)
    t1 = time.perf_counter()
    pa = bg.probability_alive(x, tx, T)
    bg.expected_purchases(90 / 7, x, tx, T, p_alive=pa)
    t2 = time.perf_counter()
    rep = (x > 0) & (m > 0)
    gg = GammaGammaFitter().fit(x[rep], m[rep])
    lifetime_values(bg, gg, x, tx, T, m, horizon=12, discount_rate=0.01, p_alive=pa)
    t3 = time.perf_counter()
    return {"fit": t1 - t0, "predict": t2 - t1, "gg_and_clv": t3 - t2, "total": t3 - t0,
            "params": dict(bg.params_)}


def against_full_fit(result) -> dict | None:
    """When the stage fitted on a sample: the chosen BTYD model (same class, same penalty) fitted
    on every customer outside the timer, and each parameter's difference from the sample fit in
    units of its stated sampling error."""
    fit = result.record["prediction_model"].get("transactions")
    if fit is None or "sampling_errors" not in fit:
        return None
    from customersense.clv.candidates import BTYD

    cls = next(c for name, c in BTYD.values() if name == fit["model"])
    cols = result.columns
    x, tx, T = (cols[c].to_numpy(float) for c in ("clv_frequency", "clv_recency", "clv_T"))
    t0 = time.perf_counter()
    full = cls(penalizer_coef=fit["penalizer"]).fit(x, tx, T)
    seconds = time.perf_counter() - t0
    return {"model": fit["model"], "customers": int(x.size), "fit_seconds": round(seconds, 2),
            "params": full.params_, "standard_errors": full.standard_errors_,
            "sample_params": fit["params"], "sampling_errors": fit["sampling_errors"],
            "z": {k: (fit["params"][k] - v) / fit["sampling_errors"][k] for k, v in full.params_.items()}}


def lifetimes_side(result, python: str, n_pareto: int):
    cols = result.columns
    weeks = result.record["time_unit"] == "weeks"
    assert weeks
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "summary.npz"
        np.savez(path, x=cols["clv_frequency"].to_numpy(float), tx=cols["clv_recency"].to_numpy(float),
                 T=cols["clv_T"].to_numpy(float), m=cols["clv_monetary_value"].to_numpy(float))
        child = Path(tmp) / "child.py"
        child.write_text(LIFETIMES_CHILD)
        proc = subprocess.run([python, str(child), str(path), str(n_pareto), str(90 / 7)],
                              capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "2"})
    if proc.returncode:
        return {"error": proc.stderr.strip().splitlines()[-1][:200]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lifetimes-python", default=DEFAULT_LIFETIMES)
    ap.add_argument("--lifetimes-pareto-customers", type=int, default=100_000)
    ap.add_argument("--fit-sample", type=int, default=None,
                    help="clv.fit_sample (default: the setting's default; 0: fit every candidate on every customer)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rows = []
    for n in args.customers:
        cid, day, amount = simulate(n)
        load = round(os.getloadavg()[0], 2)
        seconds, steps, result, cpu = run_customersense(cid, day, amount, args.threads, args.fit_sample)
        chosen = result.record["selection"]["chosen"]
        table = result.holdout.set_index("candidate")
        row = {"customers": n, "load_before": load, "transactions": int(cid.size), "seconds": round(seconds, 2), "steps": steps,
               "chosen": chosen, "auc": {k: table.loc[k, "churn_auc"] for k in table.index}, "cpu": cpu,
               "fit_sample": {k: v for k, v in result.record["fit_sample"].items()
                              if k not in ("rule", "parameter_error")},
               "prediction_model": result.record["prediction_model"].get("transactions")}
        row["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # so far: simulation + stage
        row["customersense_bgnbd_gg"] = customersense_same_work(result)
        row["against_full_fit"] = against_full_fit(result)
        if Path(args.lifetimes_python).exists():
            pareto = n if n <= args.lifetimes_pareto_customers else 0
            row["lifetimes"] = lifetimes_side(result, args.lifetimes_python, pareto)
        row["load_1min"] = round(os.getloadavg()[0], 2)
        rows.append(row)
        print(json.dumps(row, default=float), file=sys.stderr)
    for r in rows:
        check = r["against_full_fit"]
        if check:
            print(f"{r['customers']:,} customers, {check['model']} fitted on {r['fit_sample']['customers_fitted']:,} "
                  "vs on all: " + ", ".join(f"{k} {check['sample_params'][k]:.6g} vs {v:.6g} "
                                            f"({check['z'][k]:+.2f} sampling errors)" for k, v in check["params"].items()))
    print("| customers | transactions | customersense stage (s) | its steps (s) | customers fitted | chosen | "
          "customersense BG/NBD + GG + predictions (s) | lifetimes BG/NBD + GG + predictions (s) | lifetimes Pareto/NBD fit (s) | peak RSS MiB | "
          "load |")
    print("|---:|---:|---:|---|---:|---|---:|---:|---:|---:|---|")
    for r in rows:
        lt = r.get("lifetimes", {})
        bg = lt.get("bgnbd_gg", {})
        pn = lt.get("pareto", {})
        pareto = (f"{pn['fit']:.1f} at {pn['n']:,}" if "fit" in pn else pn.get("error", "-"))
        steps = ", ".join(f"{k} {v}" for k, v in r["steps"].items())
        print(f"| {r['customers']:,} | {r['transactions']:,} | {r['seconds']:.1f} | {steps} | "
              f"{r['fit_sample']['customers_fitted']:,} | {r['chosen']} | "
              f"{r['customersense_bgnbd_gg']['total']:.1f} | {bg.get('total', float('nan')):.1f} | {pareto} | "
              f"{r['peak_rss_mib']:,} | {r['load_before']} -> {r.get('load_1min')} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=float))


if __name__ == "__main__":
    main()
