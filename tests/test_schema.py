import pytest

from customersense.errors import ConfigError, SchemaError
from customersense.schema import normalise, parse_mapping_pairs, resolve_mapping


def test_normalise_strips_case_and_punctuation():
    assert normalise("Customer ID") == "customerid"
    assert normalise(" invoice_no ") == "invoiceno"


@pytest.mark.parametrize(
    "columns, expected",
    [
        (
            ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"],
            {"order_id": "Invoice", "product_id": "StockCode", "description": "Description",
             "quantity": "Quantity", "timestamp": "InvoiceDate", "unit_price": "Price",
             "customer_id": "Customer ID", "country": "Country"},
        ),
        (
            ["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"],
            {"order_id": "InvoiceNo", "product_id": "StockCode", "quantity": "Quantity",
             "timestamp": "InvoiceDate", "unit_price": "UnitPrice", "customer_id": "CustomerID"},
        ),
        (
            ["customer_id", "date", "number_of_cds", "dollar_value"],
            {"customer_id": "customer_id", "timestamp": "date", "quantity": "number_of_cds",
             "amount": "dollar_value"},
        ),
        (
            ["customer_id", "order_id", "timestamp", "amount"],
            {"customer_id": "customer_id", "order_id": "order_id", "timestamp": "timestamp", "amount": "amount"},
        ),
    ],
)
def test_detects_common_schemas(columns, expected):
    assert resolve_mapping(columns, {}, "f.csv") == expected


def test_explicit_mapping_wins_and_frees_the_alias():
    m = resolve_mapping(["Client", "When", "Amount", "customer"], {"customer_id": "Client", "timestamp": "When"}, "f")
    assert m == {"customer_id": "Client", "timestamp": "When", "amount": "Amount"}


def test_missing_customer_column_lists_the_columns_found():
    with pytest.raises(SchemaError) as err:
        resolve_mapping(["Kunde", "date", "amount"], {}, "sales.csv")
    msg = str(err.value)
    assert "sales.csv" in msg and "customer_id" in msg and "'Kunde'" in msg and "--map customer_id=" in msg


def test_missing_amount_needs_quantity_and_price():
    with pytest.raises(SchemaError, match="quantity \\+ unit_price"):
        resolve_mapping(["customer", "date", "qty"], {}, "f.csv")


def test_mapping_to_an_absent_column_is_named():
    with pytest.raises(SchemaError, match="'Kunde'"):
        resolve_mapping(["customer", "date", "amount"], {"customer_id": "Kunde"}, "f.csv")


def test_unknown_standard_name_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown standard column 'client'"):
        resolve_mapping(["customer", "date", "amount"], {"client": "customer"}, "f.csv")


def test_parse_mapping_pairs():
    assert parse_mapping_pairs(["customer_id=Client No", "amount = Total"]) == {
        "customer_id": "Client No", "amount": "Total"}
    with pytest.raises(ConfigError):
        parse_mapping_pairs(["customer_id"])
