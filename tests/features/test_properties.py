"""Property tests over random transaction logs, run through the real cleaning and feature stages."""

import datetime as dt

import ibis
import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from customersense.cleaning import clean
from customersense.config import CleaningPolicy
from customersense.engine import connect
from customersense.errors import DataError
from customersense.features import customer_features
from customersense.io.standardise import standardise

START = dt.datetime(2021, 1, 1)

line = st.tuples(
    st.sampled_from(["a", "b", "c", "d", "e"]),       # customer
    st.integers(0, 60 * 24 * 40),                      # minutes after START
    st.integers(1, 5),                                 # quantity
    st.sampled_from([0.5, 1.25, 3.0, 9.99, 20.0]),     # unit price
    st.booleans(),                                     # is a return
)


def _table(lines):
    rows = []
    for i, (cust, minutes, qty, price, ret) in enumerate(lines):
        rows.append({
            "customer_id": cust,
            "order_id": f"{'C' if ret else ''}{i}",
            "timestamp": START + dt.timedelta(minutes=minutes),
            "quantity": float(-qty if ret else qty),
            "unit_price": price,
        })
    frame = pd.DataFrame(rows, columns=["customer_id", "order_id", "timestamp", "quantity", "unit_price"])
    table, _, _ = standardise(ibis.memtable(frame), {}, "test", None)
    return table, frame


def _features(engine, table, as_of):
    cleaned = clean(engine, table, CleaningPolicy(as_of=as_of))
    return customer_features(cleaned.table, as_of).to_pandas().set_index("customer_id")


CON = connect()  # one engine for all examples: each example is a few queries
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.lists(line, min_size=1, max_size=40))
def test_monetary_is_purchases_minus_returns(lines):
    assume(not all(ln[4] for ln in lines))
    engine = CON
    table, frame = _table(lines)
    as_of = dt.date(2021, 2, 15)
    feats = _features(engine, table, as_of)
    frame["value"] = frame.quantity.abs() * frame.unit_price
    purchases = frame[frame.quantity > 0].groupby("customer_id").value.sum()
    returns = frame[frame.quantity < 0].groupby("customer_id").value.sum()
    # only customers with a purchase exist; returns never create a customer
    assert sorted(feats.index) == sorted(purchases.index)
    for cust in feats.index:
        expected = purchases[cust] - returns.get(cust, 0.0)
        assert abs(feats.loc[cust, "monetary"] - expected) < 1e-6
        assert feats.loc[cust, "frequency"] == (frame[(frame.customer_id == cust) & (frame.quantity > 0)]).shape[0]


@SETTINGS
@given(st.lists(line, min_size=1, max_size=40), st.integers(1, 40))
def test_a_past_as_of_ignores_later_rows(lines, day):
    engine = CON
    as_of = (START + dt.timedelta(days=day)).date()
    table, frame = _table(lines)
    cutoff = pd.Timestamp(as_of)
    early_lines = [ln for ln, ts in zip(lines, frame.timestamp) if ts < cutoff]
    try:
        full = _features(engine, table, as_of)
    except DataError as exc:  # nothing left: then no purchase happened before as_of
        assert "no rows left" in str(exc)
        assert all(ln[4] for ln in early_lines)
        return
    early_table, _ = _table(early_lines)
    pd.testing.assert_frame_equal(full, _features(engine, early_table, as_of))
