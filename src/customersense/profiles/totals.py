"""A run's headline numbers, computed once for every output that states them (the workbook's
Summary sheet; run.json states the same three)."""

from __future__ import annotations

from typing import Any

import pandas as pd


def customer_totals(customers: pd.DataFrame, table: Any = None) -> dict[str, Any]:
    """Customers, net revenue (sum of ``monetary``) and orders (sum of ``frequency``). ``table``: the
    engine table of every customer when ``customers`` holds only a sample (at scale), summed there."""
    if table is not None:
        row = table.aggregate(n=table.count(), revenue=table.monetary.sum(), orders=table.frequency.sum())
        n, revenue, orders = row.to_pandas().iloc[0]
    else:
        n, revenue, orders = len(customers), customers["monetary"].sum(), customers["frequency"].sum()
    revenue = 0.0 if pd.isna(revenue) else float(revenue)
    orders = 0 if pd.isna(orders) else int(orders)
    return {"customers": int(n), "net_revenue": revenue, "orders": orders}
