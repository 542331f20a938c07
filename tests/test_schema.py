import pytest

from customersense.errors import ConfigError

from customersense.schema import normalise, parse_mapping_pairs


def test_normalise_strips_case_and_punctuation():
    assert normalise("Customer ID") == "customerid"
    assert normalise(" invoice_no ") == "invoiceno"


def test_parse_mapping_pairs():
    assert parse_mapping_pairs(["customer_id=Client No", "amount = Total"]) == {
        "customer_id": "Client No", "amount": "Total"}
    with pytest.raises(ConfigError):
        parse_mapping_pairs(["customer_id"])
