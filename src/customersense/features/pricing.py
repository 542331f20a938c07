"""Per-segment pricing signals measured from the transactions, in the engine.

- ``avg_unit_price_paid``: purchase value / items bought (quantity-weighted mean unit price).
- ``items_per_order``: items bought / purchase orders; ``lines_per_order``: purchase lines / orders.
- ``return_order_share``: orders with returned items / purchase orders (an order id starting with
  the cancel prefix is one return order; without order ids, a day with returns is one).

Each is a ratio of two sums over the segment's customers (orders are distinct (customer, order)
pairs, so a segment's distinct orders are the sum of its customers' distinct orders). The
pipeline therefore reads the per-customer pieces (:data:`PRICING_PIECES`) from the features
query and adds them up per segment in pandas (:func:`segment_pricing`), for every segmentation
at once; :func:`pricing_signals` computes the same from the transactions in the engine (used
at scale, where the customer table stays in the engine).
"""

from __future__ import annotations

import ibis
import pandas as pd

from .. import schema as S
from ..cleaning import IS_RETURN, LINE_AMOUNT, ORDER_KEY

PRICING_COLUMNS = ("avg_unit_price_paid", "items_per_order", "lines_per_order", "return_order_share")
# Per customer: purchase value, items bought, purchase lines, purchase orders, return orders.
PRICING_PIECES = ("pricing_value", "pricing_items", "pricing_lines", "pricing_orders", "pricing_return_orders")


def pricing_signals(transactions: ibis.Table, segment_column: str) -> pd.DataFrame:
    """One row per segment (index: segment name); empty when there is no quantity column."""
    t = transactions
    if S.QUANTITY not in t.columns:
        return pd.DataFrame(columns=PRICING_COLUMNS, dtype="float64")  # typed, so every file keeps them numeric
    purchase = ~t[IS_RETURN]
    orders = ibis.cases((purchase, t[S.CUSTOMER_ID].concat("\x1f", t[ORDER_KEY])), else_=ibis.null("string"))
    returns = ibis.cases((t[IS_RETURN], t[S.CUSTOMER_ID].concat("\x1f", t[ORDER_KEY])), else_=ibis.null("string"))
    agg = t.group_by(segment_column).aggregate(
        value=t[LINE_AMOUNT].sum(where=purchase),
        items=t[S.QUANTITY].sum(where=purchase),
        lines=purchase.cast("int64").sum(),
        orders=orders.nunique(),
        return_orders=returns.nunique(),
    ).to_pandas().set_index(segment_column)
    return _ratios(agg)


def segment_pricing(pieces: pd.DataFrame | None, segments: pd.Series) -> pd.DataFrame:
    """:func:`pricing_signals` from per-customer :data:`PRICING_PIECES` (``pieces``, None when
    there is no quantity column) and each customer's segment (``segments``, same index)."""
    if pieces is None:
        return pd.DataFrame(columns=PRICING_COLUMNS, dtype="float64")  # typed, so every file keeps them numeric
    sums = pieces.groupby(segments.astype(str), sort=True).sum(min_count=1)
    agg = sums.rename(columns=lambda c: c.removeprefix("pricing_"))
    return _ratios(agg)


def overall_unit_price(pieces: pd.DataFrame | None) -> float:
    """Every customer's average unit price paid (purchase value / items bought); NaN without
    quantities. The reference a segment's ``avg_unit_price_paid`` is compared with."""
    if pieces is None or not pieces["pricing_items"].sum():
        return float("nan")
    return float(pieces["pricing_value"].sum() / pieces["pricing_items"].sum())


def _ratios(agg: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=agg.index)
    out["avg_unit_price_paid"] = agg["value"] / agg["items"]
    out["items_per_order"] = agg["items"] / agg["orders"]
    out["lines_per_order"] = agg["lines"] / agg["orders"]
    out["return_order_share"] = agg["return_orders"] / agg["orders"]
    out.index.name = "segment"
    return out.round(6)
