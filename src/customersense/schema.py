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

# The engine's namespace (issue 14, item 3; README "Outputs"). Every name the engine gives a
# column of a transaction row (the standard columns above; cleaning: is_return, line_amount,
# purchase_date, order_key; the customer's segments) or of a customer row (features, scores,
# segments, anomalies, CLV, representations; the BI files join the two on customer_id). The
# engine's columns always keep these names: a user column that would take one, compared
# without regard to case (as Excel, Tableau, Power BI and DuckDB compare names), is renamed
# ``src_<name>`` (see io/standardise.py), and the rename is reported. tests/trust checks that
# every column a run writes is here or is a user column.
ENGINE_COLUMNS = frozenset({
    *STANDARD_COLUMNS,
    "is_return", "line_amount", "purchase_date", "order_key",
    "recency_days", "frequency", "monetary", "gross_revenue", "returns_value", "avg_order_value",
    "order_value_std", "tenure_days", "mean_interpurchase_days", "return_rate", "engagement_score",
    "r_score", "f_score", "m_score", "rfm_segment",
    "cluster", "segment", "is_anomaly", "anomaly_score", "anomaly_reason",
    "p_alive", "expected_spend", "clv", "churn_probability", "clv_model", "clv_status",
    "clv_frequency", "clv_recency", "clv_t", "clv_monetary_value",
    "trajectory_cluster", "trajectory", "embedding_cluster", "embedding_segment",
})
# the churn horizon's columns (issue 15: expected_purchases_90d ...); internal names
ENGINE_COLUMN_PATTERN = r"expected_purchases_\d+[md]|expected_spend_\d+d|spend_last_\d+d|_cs_.*"
USER_PREFIX = "src_"


def is_engine_name(name: str) -> bool:
    """``name`` is (or, ignoring case, equals) a name of the engine's namespace."""
    folded = name.casefold()
    return folded in ENGINE_COLUMNS or re.fullmatch(ENGINE_COLUMN_PATTERN, folded) is not None


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
# Money columns named by the churn horizon H: expected_spend_90d, spend_last_90d (and their profiles).
MONEY_PATTERN = re.compile(r"((mean|median)_)?(expected_spend|spend_last)_\d+d")


def is_money(name: str) -> bool:
    """``name`` holds amounts in the input's currency (:data:`MONEY_COLUMNS`, :data:`MONEY_PATTERN`)."""
    return name in MONEY_COLUMNS or MONEY_PATTERN.fullmatch(name) is not None

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
