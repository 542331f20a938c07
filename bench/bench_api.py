"""Benchmark: the HTTP service (`customersense serve`) under a bounded load, on 127.0.0.1 only.

    .venv/bin/python bench/bench_api.py --model outputs/model --customers outputs/customer_segments.parquet \
        --transactions outputs/transactions_with_segments.parquet

(a run with more than 1,000,000 kept rows writes that file only with ``--transactions-max-rows -1``)

Starts the service itself (a subprocess on 127.0.0.1, a free port, a random API key), then runs
three scenarios with an async httpx loop, each with a fixed request count and a duration cap:

- single customer ``POST /v1/score``: one at a time, four at a time, then an open loop at
  ``--rate`` requests/s (latency counted from the moment each request was due, so queueing
  behind a server slower than the offered rate shows; unfinished requests at the cap are dropped);
- 1,000 customers ``POST /v1/score``, one request at a time;
- 50 transaction lines ``POST /v1/score/transactions``, one request at a time.

It reports throughput and p50/p95/p99 latency per scenario and the service's RSS (VmRSS now,
VmHWM peak, from /proc), then stops the service by its pid (terminate, then kill).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from customersense.api.process import start, stop

FEATURES = ["customer_id", "recency_days", "frequency", "monetary", "gross_revenue", "returns_value",
            "avg_order_value", "order_value_std", "tenure_days", "mean_interpurchase_days", "return_rate",
            "clv_frequency", "clv_recency", "clv_T", "clv_monetary_value"]
LINES = ["customer_id", "timestamp", "quantity", "unit_price", "order_id", "product_id", "description", "country"]


def records(frame: pd.DataFrame) -> list[dict]:
    rows = frame.astype(object).to_dict(orient="records")
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items() if not pd.isna(v)} for r in rows]


def rss_mib(pid: int) -> dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


async def run(client: httpx.AsyncClient, path: str, bodies: list[dict], *, rate: float | None, cap: float,
              headers: dict, concurrency: int = 1) -> dict:
    """``len(bodies)`` requests: open loop at ``rate``/s, else ``concurrency`` at a time; stops at ``cap`` s."""
    latencies: list[float] = []
    failures = 0
    tasks: list[asyncio.Task] = []
    start = time.perf_counter()

    async def one(body: dict, due: float) -> None:
        nonlocal failures
        try:
            r = await client.post(path, json=body, headers=headers)
        except httpx.HTTPError:
            failures += 1
            return
        failures += r.status_code != 200
        latencies.append(time.perf_counter() - due)

    async def closed(queue: list[dict]) -> None:
        while queue:
            await one(queue.pop(), time.perf_counter())

    async def drive() -> None:
        if rate is None:
            queue = list(bodies)
            tasks.extend(asyncio.create_task(closed(queue)) for _ in range(concurrency))
        else:
            for i, body in enumerate(bodies):
                due = start + i / rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                tasks.append(asyncio.create_task(one(body, due)))
        await asyncio.gather(*tasks)

    try:
        async with asyncio.timeout(cap):
            await drive()
    except TimeoutError:
        pass
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    elapsed = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {"requests": len(bodies), "done": len(latencies), "failed": failures, "seconds": elapsed,
            "throughput": len(latencies) / elapsed,
            **({f"p{q}": float(np.percentile(ms, q)) for q in (50, 95, 99)} if len(ms) else {})}


async def main_async(args, base: str, key: str) -> list[tuple[str, dict]]:
    customers = pd.read_parquet(args.customers)
    features = customers[[c for c in FEATURES if c in customers.columns]]
    tx = pd.read_parquet(args.transactions)
    tx = tx[[c for c in LINES if c in tx.columns]].assign(timestamp=lambda t: t["timestamp"].astype(str))
    rng = np.random.default_rng(0)
    singles = [{"customers": records(features.iloc[[i]])} for i in rng.integers(0, len(features), args.single)]
    batch = [{"customers": records(features.sample(1000, random_state=i))} for i in range(args.batch)]
    ids = tx["customer_id"].drop_duplicates().sample(args.tx, random_state=1).tolist()
    by_customer = tx.groupby("customer_id", sort=False)
    lines = []
    for cid in ids:  # 50 lines: this customer's, topped up with the next customers' lines
        rows = by_customer.get_group(cid)
        others = tx[tx["customer_id"] != cid].sample(50, random_state=len(lines))
        lines.append({"transactions": records(pd.concat([rows, others]).head(50))})
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        for body in (singles[0], batch[0], lines[0]):  # warm-up (first-call imports, compiled kernels)
            path = "/v1/score/transactions" if "transactions" in body else "/v1/score"
            (await client.post(path, json=body, headers=headers)).raise_for_status()
        return [
            ("single customer /v1/score, sequential",
             await run(client, "/v1/score", singles[:200], rate=None, cap=args.cap, headers=headers)),
            ("single customer /v1/score, 4 concurrent",
             await run(client, "/v1/score", singles[:400], rate=None, cap=args.cap, headers=headers, concurrency=4)),
            (f"single customer /v1/score, open loop {args.rate:g} req/s for {args.single / args.rate:g} s",
             await run(client, "/v1/score", singles, rate=args.rate, cap=args.cap, headers=headers)),
            ("1,000 customers /v1/score, sequential",
             await run(client, "/v1/score", batch, rate=None, cap=args.cap, headers=headers)),
            ("50 lines /v1/score/transactions, sequential",
             await run(client, "/v1/score/transactions", lines, rate=None, cap=args.cap, headers=headers)),
        ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--customers", required=True, help="a run's customer_segments.parquet")
    p.add_argument("--transactions", required=True, help="a run's transactions_with_segments.parquet")
    p.add_argument("--rate", type=float, default=200.0, help="single-customer requests per second offered")
    p.add_argument("--single", type=int, default=1000, help="single-customer requests of the open loop")
    p.add_argument("--batch", type=int, default=40, help="1,000-customer requests")
    p.add_argument("--tx", type=int, default=30, help="50-line transaction requests")
    p.add_argument("--cap", type=float, default=40.0, help="seconds at most per scenario")
    args = p.parse_args()
    key = secrets.token_urlsafe(24)
    proc, base = start(args.model, key, stderr=subprocess.DEVNULL)
    try:
        results = asyncio.run(main_async(args, base, key))
        memory = rss_mib(proc.pid)
    finally:
        stop(proc)
    print(f"{os.cpu_count()} cores, 1-minute load {os.getloadavg()[0]:.2f}, service pid {proc.pid}")
    print("| scenario | requests done / sent | failed | throughput req/s | p50 ms | p95 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in results:
        print(f"| {name} | {r['done']} / {r['requests']} | {r['failed']} | {r['throughput']:.1f} | "
              f"{r.get('p50', float('nan')):.1f} | {r.get('p95', float('nan')):.1f} | {r.get('p99', float('nan')):.1f} |")
    print(f"service RSS: {memory['VmRSS']:.0f} MiB at the end, peak {memory['VmHWM']:.0f} MiB")


if __name__ == "__main__":
    main()
