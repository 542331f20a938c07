"""Standard column names.

User column names are mapped to these names once, at the reader (``io/detect.py``, with its rules
in ``io/data/columns.toml``); everything after the reader speaks only the standard names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .errors import ConfigError

CUSTOMER_ID = "customer_id"
ORDER_ID = "order_id"
TIMESTAMP = "timestamp"
AMOUNT = "amount"
QUANTITY = "quantity"
UNIT_PRICE = "unit_price"
PRODUCT_ID = "product_id"
DESCRIPTION = "description"
COUNTRY = "country"

STANDARD_COLUMNS = (
    CUSTOMER_ID,
    ORDER_ID,
    TIMESTAMP,
    AMOUNT,
    QUANTITY,
    UNIT_PRICE,
    PRODUCT_ID,
    DESCRIPTION,
    COUNTRY,
)

# Each input row's position in the source (file by file, then row by row), carried by the DuckDB
# engine from the reader to the writer: the transactions are written in the order they came in,
# which is reproducible without sorting by every column. Internal: never a user column, never
# written. Spark has no such position, and sorts by the columns instead.
ROW_ID = "_cs_row_id"

# Money: amounts in the input's currency. The CSV outputs round these columns to cents (the
# Parquet outputs keep full precision); see reporting/writers.py. Shares, rates, scores, probabilities,
# counts and expected purchase counts are not money and are written unrounded.
# Per customer: net and gross revenue, returns, order value and its spread, predicted spend, CLV.
MONEY_FEATURES = (
    "monetary", "gross_revenue", "returns_value", "avg_order_value", "order_value_std", "expected_spend", "clv",
    "clv_monetary_value",
)
MONEY_COLUMNS = frozenset({
    AMOUNT, UNIT_PRICE, "line_amount",  # transactions
    *MONEY_FEATURES,  # customers
    "revenue", "clv_total", "avg_unit_price_paid",  # segment profiles: totals and the pricing signal
    "period_revenue", "revenue_new", "revenue_retained", "revenue_reactivated",  # evolve: migration tables
    *(f"{stat}_{col}" for stat in ("mean", "median") for col in MONEY_FEATURES),  # profiles of money features
})

# Customer features the learned segments use by default (see models/preprocess.py for why).
DEFAULT_SEGMENT_FEATURES = ("recency_days", "frequency", "monetary", "avg_order_value", "tenure_days")

def normalise(name: str) -> str:
    """Lower-case a column name and keep only letters and digits ("Customer ID" -> "customerid")."""
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def parse_mapping_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """Parse ``std=column`` strings from the command line into a mapping."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        std, sep, column = pair.partition("=")
        if not sep or not std.strip() or not column.strip():
            raise ConfigError(f"--map {pair!r}: expected STANDARD=COLUMN, e.g. --map customer_id='Client No'")
        mapping[std.strip()] = column.strip()
    return mapping
