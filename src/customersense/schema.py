"""Standard column names and the aliases used to detect them in user files.

User column names are mapped to these names once, at the reader; everything after
the reader speaks only the standard names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from .errors import ConfigError, SchemaError

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
    "p_alive", "expected_spend", "clv", "churn_probability",
    "clv_frequency", "clv_recency", "clv_t", "clv_monetary_value",
    "trajectory_cluster", "trajectory", "embedding_cluster", "embedding_segment",
})
ENGINE_COLUMN_PATTERN = r"expected_purchases_\d+m|_cs_.*"  # the CLV horizon's column; internal names
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

# Customer features the learned segments use by default (see models/preprocess.py for why).
DEFAULT_SEGMENT_FEATURES = ("recency_days", "frequency", "monetary", "avg_order_value", "tenure_days")

# Aliases are compared after normalisation: lower case, only letters and digits.
# Order matters: the first alias found in the file wins.
ALIASES: dict[str, tuple[str, ...]] = {
    CUSTOMER_ID: ("customerid", "customer", "custid", "clientid", "client", "userid", "memberid",
                  "accountid", "buyerid"),
    ORDER_ID: ("orderid", "invoice", "invoiceno", "invoicenumber", "invoiceid", "order",
               "ordernumber", "orderno", "transactionid", "receiptid", "basketid"),
    TIMESTAMP: ("timestamp", "invoicedate", "orderdate", "transactiondate", "purchasedate",
                "datetime", "date", "time", "createdat"),
    AMOUNT: ("amount", "dollarvalue", "revenue", "sales", "salesamount", "totalamount",
             "ordervalue", "linetotal", "totalprice", "value", "spend"),
    QUANTITY: ("quantity", "qty", "numberofcds", "units", "unitssold", "count"),
    UNIT_PRICE: ("unitprice", "price", "itemprice"),
    PRODUCT_ID: ("productid", "stockcode", "sku", "itemid", "productcode", "product", "item"),
    DESCRIPTION: ("description", "productname", "itemname", "productdescription"),
    COUNTRY: ("country", "countrycode"),
}


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


def resolve_mapping(columns: Iterable[str], explicit: Mapping[str, str], source: str) -> dict[str, str]:
    """Return ``{standard name: source column}`` for the columns of one input.

    Explicit entries win; the other standard columns are detected by alias. Raises
    :class:`SchemaError` naming the source, the missing column and the columns found.
    """
    columns = list(columns)
    found = ", ".join(repr(c) for c in columns)
    for std, col in explicit.items():
        if std not in STANDARD_COLUMNS:
            raise ConfigError(
                f"mapping {std}={col!r}: unknown standard column {std!r}; "
                f"use one of {', '.join(STANDARD_COLUMNS)}"
            )
        if col not in columns:
            raise SchemaError(f"{source}: mapped column {col!r} (for {std}) not found; columns found: {found}")
    mapping = dict(explicit)
    taken = set(mapping.values())
    by_norm: dict[str, str] = {}
    for col in columns:
        by_norm.setdefault(normalise(col), col)
    for std in STANDARD_COLUMNS:
        if std in mapping:
            continue
        for alias in (normalise(std), *ALIASES[std]):
            col = by_norm.get(alias)
            if col is not None and col not in taken:
                mapping[std] = col
                taken.add(col)
                break
    _check_required(mapping, source, found)
    return mapping


def _check_required(mapping: Mapping[str, str], source: str, found: str) -> None:
    for std in (CUSTOMER_ID, TIMESTAMP):
        if std not in mapping:
            raise SchemaError(
                f"{source}: no {std} column (looked for {', '.join(ALIASES[std][:5])}, ...); "
                f"columns found: {found}; name it with --map {std}=COLUMN"
            )
    if AMOUNT not in mapping and not (QUANTITY in mapping and UNIT_PRICE in mapping):
        raise SchemaError(
            f"{source}: no amount column and no quantity + unit_price pair to compute it; "
            f"columns found: {found}; name them with --map amount=COLUMN "
            f"or --map quantity=COLUMN --map unit_price=COLUMN"
        )
