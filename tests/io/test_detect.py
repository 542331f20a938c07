"""Column detection by name and content (issue 14, item 4), on the headers of public retail
datasets with a few rows of values shaped like theirs."""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd
import pytest

from customersense.errors import ConfigError, SchemaError
from customersense.io.detect import detect_columns, words

# Values by the kind of column a header names (enough for the content checks).
_DATES = [f"2021-0{1 + i % 9}-1{i % 10} 10:00" for i in range(40)]


def _table(columns: dict[str, list]) -> ibis.Table:
    return ibis.memtable(pd.DataFrame(columns))


def _text_table(names: list[str], kinds: dict[str, str] | None = None, rows: int = 40) -> ibis.Table:
    """Text columns: dates where the name is in ``kinds`` as "date", numbers as "number", else ids."""
    kinds = kinds or {}
    data = {}
    for n in names:
        kind = kinds.get(n, "id")
        data[n] = (_DATES[:rows] if kind == "date" else [f"{1 + i % 7}.5" for i in range(rows)] if kind == "number"
                   else [f"{n[:3]}{i % 9}" for i in range(rows)])
    return _table(data)


def _detect(names, kinds=None, explicit=None):
    return detect_columns(_text_table(names, kinds), explicit or {}, "f.csv")


def test_words():
    assert words("order_purchase_timestamp") == ["order", "purchase", "timestamp"]
    assert words("CustomerID") == ["customer", "id"]
    assert words("household_key") == ["household", "key"]
    assert words("Customer ID") == ["customer", "id"]


@pytest.mark.parametrize(
    "columns, kinds, expected",
    [
        (  # Online Retail II
            ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"],
            {"Quantity": "number", "InvoiceDate": "date", "Price": "number"},
            {"order_id": "Invoice", "product_id": "StockCode", "description": "Description",
             "quantity": "Quantity", "timestamp": "InvoiceDate", "unit_price": "Price",
             "customer_id": "Customer ID", "country": "Country"},
        ),
        (  # Online Retail (UCI, 2010-2011)
            ["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"],
            {"Quantity": "number", "InvoiceDate": "date", "UnitPrice": "number"},
            {"order_id": "InvoiceNo", "product_id": "StockCode", "quantity": "Quantity",
             "timestamp": "InvoiceDate", "unit_price": "UnitPrice", "customer_id": "CustomerID"},
        ),
        (  # CDNOW with a header
            ["customer_id", "date", "number_of_cds", "dollar_value"],
            {"date": "date", "number_of_cds": "number", "dollar_value": "number"},
            {"customer_id": "customer_id", "timestamp": "date", "quantity": "number_of_cds", "amount": "dollar_value"},
        ),
        (  # dunnhumby The Complete Journey (the R package's names)
            ["household_id", "store_id", "basket_id", "product_id", "quantity", "sales_value", "retail_disc",
             "coupon_disc", "coupon_match_disc", "week", "transaction_timestamp"],
            {"quantity": "number", "sales_value": "number", "retail_disc": "number", "coupon_disc": "number",
             "coupon_match_disc": "number", "transaction_timestamp": "date"},
            {"customer_id": "household_id", "order_id": "basket_id", "product_id": "product_id",
             "quantity": "quantity", "amount": "sales_value", "timestamp": "transaction_timestamp"},
        ),
        (  # Superstore: Order Date beside Ship Date, Sales beside Profit, Customer Name beside Customer ID
            ["Row ID", "Order ID", "Order Date", "Ship Date", "Ship Mode", "Customer ID", "Customer Name",
             "Segment", "Country", "City", "State", "Postal Code", "Region", "Product ID", "Category",
             "Sub-Category", "Product Name", "Sales", "Quantity", "Discount", "Profit"],
            {"Order Date": "date", "Ship Date": "date", "Sales": "number", "Quantity": "number",
             "Discount": "number", "Profit": "number"},
            {"order_id": "Order ID", "timestamp": "Order Date", "customer_id": "Customer ID",
             "country": "Country", "product_id": "Product ID", "description": "Product Name",
             "amount": "Sales", "quantity": "Quantity"},
        ),
        (  # a generic export
            ["customer_id", "order_id", "timestamp", "amount"],
            {"timestamp": "date", "amount": "number"},
            {"customer_id": "customer_id", "order_id": "order_id", "timestamp": "timestamp", "amount": "amount"},
        ),
    ],
)
def test_public_dataset_headers(columns, kinds, expected):
    mapping, _ = _detect(columns, kinds)
    assert mapping == expected


def test_token_scores_add_up():
    # 'purchase_dt': the token 'dt' (60) preferred by 'purchase' (+15); 'buyer_ref': 'buyer' alone
    mapping, report = _detect(["buyer_ref", "purchase_dt", "paid"], {"purchase_dt": "date", "paid": "number"})
    assert mapping == {"customer_id": "buyer_ref", "timestamp": "purchase_dt", "amount": "paid"}
    assert report["timestamp"]["score"] == 75 and report["customer_id"]["score"] == 60
    assert report["timestamp"]["evidence"].startswith("words dt, purchase; 40 of 40 sampled values present")


def test_superstore_says_why_order_date_and_not_ship_date():
    names = ["Order ID", "Order Date", "Ship Date", "Customer ID", "Sales"]
    _, report = _detect(names, {"Order Date": "date", "Ship Date": "date", "Sales": "number"})
    assert report["timestamp"]["column"] == "Order Date"
    assert report["timestamp"]["score"] == 100 - 2  # the third known name, 'orderdate'
    assert report["timestamp"]["evidence"].startswith("known name 'orderdate'")
    assert {"column": "Ship Date", "why_not": "the word 'ship' rules it out"} in report["timestamp"]["preferred_to"]


def test_olist_one_customer_id_per_order_loses_to_the_unique_id():
    # Olist's customer_id is made per order; customer_unique_id is the person (here 10 people, 30 orders).
    n = 60
    frame = pd.DataFrame({
        "order_id": [f"o{i // 2}" for i in range(n)],          # 2 items per order
        "customer_id": [f"k{i // 2}" for i in range(n)],       # one per order
        "customer_unique_id": [f"u{(i // 2) % 10}" for i in range(n)],
        "order_purchase_timestamp": _DATES[:40] + _DATES[:20],
        "order_approved_at": _DATES[:40] + _DATES[:20],
        "price": [f"{10 + i}.90" for i in range(n)],
        "freight_value": [f"{i}.10" for i in range(n)],
        "order_item_id": [str(1 + i % 2) for i in range(n)],
    })
    mapping, report = detect_columns(ibis.memtable(frame), {}, "olist.csv")
    assert mapping["customer_id"] == "customer_unique_id"
    assert mapping["timestamp"] == "order_purchase_timestamp" and mapping["unit_price"] == "price"
    assert "amount" not in mapping and "quantity" not in mapping
    assert report["amount"]["evidence"].startswith("no amount or quantity column: each row is one item")
    assert report["customer_id"]["evidence"].endswith("10 customers across 30 orders")
    refused = {r["column"]: r["why_not"] for r in report["customer_id"]["preferred_to"]}
    assert refused["customer_id"] == "one value per order (30 values, 30 orders): an order key, not a customer"
    assert {"column": "freight_value", "why_not": "the word 'freight' rules it out"} in report["amount"][
        "candidates_refused"]


def test_instacart_names_are_found_and_the_missing_date_is_explained():
    names = ["order_id", "user_id", "eval_set", "order_number", "order_dow", "order_hour_of_day",
             "days_since_prior_order"]
    table = _table({n: [str(i % 7) for i in range(40)] for n in names})
    with pytest.raises(SchemaError) as err:
        detect_columns(table, {}, "orders.csv")
    assert "orders.csv: no timestamp column" in str(err.value)


def test_content_refuses_a_date_name_without_dates():
    # dunnhumby's first release: DAY is a day number (1..711), not a date
    table = _table({"household_key": [str(i % 5) for i in range(40)], "DAY": list(range(1, 41)),
                    "SALES_VALUE": [1.5] * 40})
    with pytest.raises(SchemaError) as err:
        detect_columns(table, {}, "hh.csv")
    assert "refused 'DAY': whole numbers 1 to 40 are neither YYYYMMDD dates nor epoch times" in str(err.value)


def test_typed_columns_pass_content_checks():
    table = _table({"client": ["a", "b"] * 10, "when": [dt.datetime(2021, 1, 1 + i) for i in range(20)],
                    "total": [1.0] * 20})
    mapping, report = detect_columns(table, {}, "t")
    assert mapping == {"customer_id": "client", "timestamp": "when", "amount": "total"}
    assert report["timestamp"]["evidence"].startswith("words when")
    assert report["customer_id"]["score"] == 100 - 5  # 'client', the sixth known name


def test_explicit_mapping_wins_and_frees_the_alias():
    m, report = _detect(["Client", "When", "Amount", "customer"], {"When": "date", "Amount": "number"},
                        {"customer_id": "Client", "timestamp": "When"})
    assert m == {"customer_id": "Client", "timestamp": "When", "amount": "Amount"}
    assert report["customer_id"] == {"column": "Client", "evidence": "--map"}


def test_missing_customer_column_lists_the_columns_found():
    with pytest.raises(SchemaError) as err:
        _detect(["Kunde", "date", "amount"], {"date": "date", "amount": "number"})
    msg = str(err.value)
    assert "f.csv" in msg and "customer_id" in msg and "'Kunde'" in msg and "--map customer_id=" in msg


def test_missing_amount_needs_quantity_and_price():
    with pytest.raises(SchemaError, match="quantity \\+ unit_price"):
        _detect(["customer", "date", "qty"], {"date": "date", "qty": "number"})


def test_mapping_to_an_absent_column_is_named():
    with pytest.raises(SchemaError, match="'Kunde'"):
        _detect(["customer", "date", "amount"], explicit={"customer_id": "Kunde"})


def test_unknown_standard_name_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown standard column 'client'"):
        _detect(["customer", "date", "amount"], explicit={"client": "customer"})


def test_a_known_name_keeps_its_claim_below_agreeing_values():
    # 'amount' holds text: still the amount (the reader then names the rows), but 'total', whose
    # values are numbers, wins when there is one
    bad = {"customer": ["a"] * 10, "date": _DATES[:10], "amount": ["n/a"] * 10}
    mapping, report = detect_columns(_table(bad), {}, "x.csv")
    assert mapping["amount"] == "amount" and report["amount"]["score"] == 50
    assert report["amount"]["evidence"] == "known name 'amount' but only 0% of the sampled values are numbers; " \
        "10 of 10 sampled values present, 1 distinct"
    mapping, _ = detect_columns(_table({**bad, "total": ["1.5"] * 10}), {}, "x.csv")
    assert mapping["amount"] == "total"


def test_words_alone_need_agreeing_values():
    table = _table({"customer": ["a"] * 10, "date": _DATES[:10], "sales_amount_text": ["n/a"] * 10})
    with pytest.raises(SchemaError, match="no amount column"):
        detect_columns(table, {}, "x.csv")
