"""Synthetic transaction logs with planted customer groups and planted anomalies.

Each group has a typical recency, number of orders, order value and tenure; customers draw
theirs around it with lognormal noise, then orders are laid out between their first and last
purchase day. Planted anomalies are ordinary customers of a random group whose order values
are multiplied by ``anomaly_factor`` (a wholesale-like spender). The ground truth (group and
anomaly flag per customer) comes back beside the transactions, so tests can measure how well
segments and anomalies are recovered.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa


@dataclass(frozen=True)
class PlantedGroup:
    name: str
    share: float
    recency_days: float
    orders: float
    order_value: float
    tenure_days: float


DEFAULT_GROUPS = (
    PlantedGroup("best", 0.20, recency_days=6, orders=25, order_value=220, tenure_days=700),
    PlantedGroup("new", 0.25, recency_days=12, orders=1, order_value=35, tenure_days=12),
    PlantedGroup("lapsed", 0.30, recency_days=420, orders=3, order_value=45, tenure_days=650),
    PlantedGroup("steady", 0.25, recency_days=45, orders=8, order_value=90, tenure_days=360),
)


def planted_transactions(
    n_customers: int = 2000,
    groups: tuple[PlantedGroup, ...] = DEFAULT_GROUPS,
    anomaly_share: float = 0.02,
    anomaly_factor: float = 40.0,
    noise: float = 0.2,
    as_of: dt.date = dt.date(2024, 1, 1),
    seed: int = 0,
) -> tuple[pa.Table, pd.DataFrame]:
    """Transactions (customer_id, order_id, timestamp, quantity, unit_price, product_id) and the
    truth (customer_id, group, is_anomaly). The day after the last purchase is ``as_of`` or earlier.
    """
    rng = np.random.default_rng(seed)
    shares = np.array([g.share for g in groups], dtype=float)
    group_idx = rng.choice(len(groups), size=n_customers, p=shares / shares.sum())
    anomalous = rng.random(n_customers) < anomaly_share
    end = dt.datetime.combine(as_of, dt.time(12)) - dt.timedelta(days=1)
    rows: dict[str, list] = {k: [] for k in ("customer_id", "order_id", "timestamp", "quantity", "unit_price", "product_id")}
    order_no = 0
    for c in range(n_customers):
        g = groups[group_idx[c]]
        recency = max(0.0, g.recency_days * rng.lognormal(0, noise) - 1)
        n_orders = 1 if g.orders <= 1 else max(2, int(round(g.orders * rng.lognormal(0, noise))))
        tenure = recency if n_orders == 1 else max(recency + n_orders, g.tenure_days * rng.lognormal(0, noise))
        offsets = np.sort(rng.uniform(recency, tenure, size=n_orders))
        offsets[0], offsets[-1] = recency, tenure
        values = g.order_value * rng.lognormal(0, noise, size=n_orders)
        if anomalous[c]:
            values *= anomaly_factor
        for off, value in zip(offsets, values):
            qty = int(rng.integers(1, 6))
            rows["customer_id"].append(f"C{c:06d}")
            rows["order_id"].append(f"O{order_no:08d}")
            rows["timestamp"].append(end - dt.timedelta(days=int(round(off))))
            rows["quantity"].append(qty)
            rows["unit_price"].append(round(float(value) / qty, 2))
            rows["product_id"].append(f"P{int(rng.integers(1, 200)):03d}")
            order_no += 1
    table = pa.table(rows)
    truth = pd.DataFrame({
        "customer_id": [f"C{c:06d}" for c in range(n_customers)],
        "group": [groups[i].name for i in group_idx],
        "is_anomaly": anomalous,
    })
    return table, truth
