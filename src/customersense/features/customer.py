"""Per-customer features as of ``as_of``, written as Ibis expressions run by the engine.

Definitions (purchase lines only unless said otherwise; dates are calendar days, so a purchase
at 23:59 and one at 00:01 the next day are one day apart):

- ``frequency``: distinct orders (order ids; distinct purchase days when there is no order id).
- ``recency_days``: days from the last purchase day to ``as_of`` (1 = bought the day before).
- ``tenure_days``: days from the first purchase day to ``as_of``.
- ``gross_revenue``: value of the purchases; ``returns_value``: value returned (positive).
- ``monetary``: net revenue, gross_revenue - returns_value (may be negative).
- ``avg_order_value``: mean order value (gross, one order = all its purchase lines).
- ``order_value_std``: sample standard deviation of the order values; 0 for one order.
- ``mean_interpurchase_days``: (last - first purchase day) / (distinct purchase days - 1);
  empty when the customer bought on one day only.
- ``return_rate``: returns_value / gross_revenue; where the purchases are worth nothing (zero-value
  purchases kept as purchases), 0 without returns and 1 with some.
- ``engagement_score`` in [0, 100]: 100 x (0.4 x PR(-recency) + 0.3 x PR(frequency) +
  0.3 x PR(monetary)), where PR(x) is the percent rank of x among all customers,
  (rank - 1) / (customers - 1) with ties sharing the lowest rank. It reads "more engaged than
  this share of customers", weighted towards recency. Identical customers get identical scores.

With ``pricing=True`` (and a quantity column) the same query also returns the per-customer
pieces of the segments' pricing signals, :data:`~customersense.features.pricing.PRICING_PIECES`
(see :func:`~customersense.features.pricing.segment_pricing`).
"""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd

from .. import schema as S
from ..cleaning import IS_RETURN, LINE_AMOUNT, ORDER_KEY, PURCHASE_DATE
from ..engine.base import Engine, fetch
from .pricing import PRICING_PIECES

FEATURE_COLUMNS = (
    "recency_days",
    "frequency",
    "monetary",
    "gross_revenue",
    "returns_value",
    "avg_order_value",
    "order_value_std",
    "tenure_days",
    "mean_interpurchase_days",
    "return_rate",
    "engagement_score",
)
_FLOAT_COLUMNS = (
    "monetary", "gross_revenue", "returns_value", "avg_order_value", "order_value_std",
    "mean_interpurchase_days", "return_rate",
)
ENGAGEMENT_WEIGHTS = {"recency": 0.4, "frequency": 0.3, "monetary": 0.3}


def round6(x: ibis.Value) -> ibis.Value:
    """x rounded to 1e-6, half up, with the same IEEE operations on every engine.

    SQL ROUND differs between engines on halves (Spark rounds the shortest decimal text of
    the double, DuckDB the binary value); floor(x * 1e6 + 0.5) / 1e6 is computed identically.
    """
    return (x * 1e6 + 0.5).floor().cast("float64") / 1e6


def customer_frame(clean: ibis.Table, as_of: dt.date, pricing: bool = False,
                   engine: Engine | None = None) -> pd.DataFrame:
    """:func:`customer_features`, fetched: the engine aggregates the transactions, and the
    engagement score, a function of three customer-level columns, is computed here with the same
    floating-point operations (identical values; tested), which saves the engine three sorts of
    every customer."""
    frame = fetch(customer_features(clean, as_of, pricing=pricing, engagement=False), engine)
    frame.insert(
        frame.columns.get_loc(FEATURE_COLUMNS[-2]) + 1, "engagement_score",
        engagement_scores(frame["recency_days"], frame["frequency"], frame["monetary"]),
    )
    return frame


def engagement_scores(recency_days, frequency, monetary) -> np.ndarray:
    """The engagement score of every customer (see the module's docstring), from numpy arrays."""
    return engagement_from_ranks(_percent_rank(-np.asarray(recency_days, dtype=np.float64)),
                                 _percent_rank(np.asarray(frequency, dtype=np.float64)),
                                 _percent_rank(np.asarray(monetary, dtype=np.float64)))


def engagement_from_ranks(recency: np.ndarray, frequency: np.ndarray, monetary: np.ndarray) -> np.ndarray:
    """The weighted score from the three percent ranks (PR(-recency), PR(frequency), PR(monetary)),
    rounded to 1e-6 with the same operations as :func:`round6`."""
    w = ENGAGEMENT_WEIGHTS
    score = 100.0 * (w["recency"] * recency + w["frequency"] * frequency + w["monetary"] * monetary)
    return np.floor(score * 1e6 + 0.5) / 1e6


def _percent_rank(x: np.ndarray) -> np.ndarray:
    """SQL PERCENT_RANK() OVER (ORDER BY x): (rank - 1) / (n - 1), ties sharing the lowest rank,
    0 for a single row; x has no missing values."""
    n = len(x)
    if n < 2:
        return np.zeros(n)
    order = np.argsort(x)  # any order of ties: they share the rank of the first
    ranked = x[order]
    # rank - 1 of each sorted value: the position of the first of its ties
    first = np.empty(n, dtype=bool)
    first[0] = True
    np.not_equal(ranked[1:], ranked[:-1], out=first[1:])
    below = np.empty(n, dtype=np.float64)
    below[order] = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    return below / float(n - 1)


def order_aggregates(orders: ibis.Table, keys: list[str], purchase_days: ibis.Value, **more) -> ibis.Table:
    """Per ``keys`` (a customer, or a snapshot and a customer), the aggregates of its orders
    (``order_value``, ``order_day``) that :func:`derived_features` reads; ``purchase_days``: the
    number of distinct order days, as the caller counts them."""
    return orders.group_by(keys).aggregate(
        frequency=orders.count(),
        gross_revenue=orders.order_value.sum(),
        order_value_std=orders.order_value.std(how="sample"),
        first_day=orders.order_day.min(),
        last_day=orders.order_day.max(),
        purchase_days=purchase_days,
        **more,
    )


def derived_features(t: ibis.Table, as_of_day: ibis.Value) -> ibis.Table:
    """The feature columns from the per-customer aggregates (``frequency``, ``gross_revenue``,
    ``order_value_std``, ``first_day``, ``last_day``, ``purchase_days`` and ``returns_value``,
    NULL without returns) as of ``as_of_day`` (a date literal, or a column: one row per customer
    and snapshot), rounded as every engine rounds them."""
    returns_value = t.returns_value.fill_null(0.0)
    span = t.last_day.delta(t.first_day, unit="day")
    t = t.mutate(
        recency_days=as_of_day.delta(t.last_day, unit="day"),
        tenure_days=as_of_day.delta(t.first_day, unit="day"),
        returns_value=returns_value,
        monetary=t.gross_revenue - returns_value,
        order_value_std=t.order_value_std.fill_null(0.0),
        mean_interpurchase_days=ibis.ifelse(
            t.purchase_days > 1, span.cast("float64") / (t.purchase_days - 1), ibis.null("float64")
        ),
        return_rate=ibis.ifelse(t.gross_revenue > 0, returns_value / t.gross_revenue,
                                ibis.ifelse(returns_value > 0, 1.0, 0.0)),
    )
    # Money is rounded to 1e-6 so that parallel float sums give identical outputs on every run.
    t = t.mutate(**{c: round6(t[c]) for c in _FLOAT_COLUMNS if c != "avg_order_value"})
    # From the rounded sum, so every engine divides the same two numbers (a mean aggregate
    # rounds differently when the engine adds in another order).
    return t.mutate(avg_order_value=round6(t.gross_revenue / t.frequency))


def customer_features(clean: ibis.Table, as_of: dt.date, pricing: bool = False,
                      engagement: bool = True) -> ibis.Table:
    """One row per customer with :data:`FEATURE_COLUMNS`, ordered by customer_id; then, with
    ``pricing`` and a quantity column, the columns of :data:`PRICING_PIECES`. Without
    ``engagement`` the engine leaves out ``engagement_score`` (:func:`customer_frame` adds it)."""
    cid = S.CUSTOMER_ID
    pricing = pricing and S.QUANTITY in clean.columns
    purchases = clean.filter(~clean[IS_RETURN])
    pieces = {"order_items": purchases[S.QUANTITY].sum(), "order_lines": purchases.count()} if pricing else {}
    orders = purchases.group_by([cid, ORDER_KEY]).aggregate(
        order_value=purchases[LINE_AMOUNT].sum(),
        order_day=purchases[PURCHASE_DATE].min(),
        **pieces,
    )
    if pricing:
        pieces = {"pricing_value": orders.order_value.sum(), "pricing_items": orders.order_items.sum(),
                  "pricing_lines": orders.order_lines.sum(), "pricing_orders": orders.count()}
    per_customer = order_aggregates(orders, [cid], orders.order_day.nunique(), **pieces)
    returns = clean.filter(clean[IS_RETURN])
    returned = returns.group_by(cid).aggregate(
        returns_value=-returns[LINE_AMOUNT].sum(),
        **({"pricing_return_orders": returns[ORDER_KEY].nunique()} if pricing else {}),
    )
    t = per_customer.left_join(returned, cid).select(
        per_customer, *([returned.pricing_return_orders] if pricing else []), returned.returns_value
    )
    if pricing:
        t = t.mutate(pricing_return_orders=t.pricing_return_orders.fill_null(0))
    t = derived_features(t, ibis.literal(as_of, "date"))
    if not engagement:
        features = [c for c in FEATURE_COLUMNS if c != "engagement_score"]
        return t.select(cid, *features, *(PRICING_PIECES if pricing else ())).order_by(cid)
    w = ENGAGEMENT_WEIGHTS
    score = 100.0 * (
        w["recency"] * ibis.percent_rank().over(order_by=ibis.desc(t.recency_days))
        + w["frequency"] * ibis.percent_rank().over(order_by=t.frequency)
        + w["monetary"] * ibis.percent_rank().over(order_by=t.monetary)
    )
    t = t.mutate(engagement_score=round6(score))
    return t.select(cid, *FEATURE_COLUMNS, *(PRICING_PIECES if pricing else ())).order_by(cid)
