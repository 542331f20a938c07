"""Pricing signals from per-customer pieces (the features query) equal the former engine
aggregate over the transactions joined with the segments, on each backend."""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest

from customersense import schema as S
from customersense.cleaning import clean
from customersense.config import CleaningPolicy
from customersense.features import FEATURE_COLUMNS, customer_features
from customersense.features.pricing import PRICING_PIECES, pricing_signals, segment_pricing

from ..conftest import OR_COLUMNS, std_table

AS_OF = dt.date(2021, 1, 1)


def random_rows(n: int = 600, seed: int = 0) -> list[tuple]:
    """Orders of several lines, cancellations (returns), repeated products, orphan returns."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        customer = f"c{rng.integers(0, 40)}"
        order = f"{rng.integers(0, 150)}"
        returned = rng.random() < 0.15
        quantity = int(rng.integers(1, 12))
        day = dt.datetime(2020, 1, 1) + dt.timedelta(days=int(rng.integers(0, 300)), hours=int(rng.integers(0, 24)))
        rows.append((("C" if returned else "") + order, f"P{rng.integers(0, 30)}",
                     str(-quantity if returned else quantity), day.isoformat(sep=" "),
                     f"{rng.uniform(0.5, 40):.2f}", customer, "UK"))
    rows.append(("C9999", "P1", "-1", "2020-03-01 10:00:00", "3.00", "orphan", "UK"))
    return rows


def _old_and_new(engine, rows, columns=OR_COLUMNS, segments_of=None):
    cleaned = clean(engine, std_table(rows, columns, engine=engine), CleaningPolicy(as_of=AS_OF))
    frame = customer_features(cleaned.purchases_and_returns, AS_OF, pricing=True).to_pandas()
    frame = frame.astype({S.CUSTOMER_ID: "string"})
    plain = customer_features(cleaned.purchases_and_returns, AS_OF).to_pandas()
    assert list(plain.columns) == [S.CUSTOMER_ID, *FEATURE_COLUMNS]
    features = frame[list(plain.columns)].astype({S.CUSTOMER_ID: object})
    pd.testing.assert_frame_equal(features, plain.astype({S.CUSTOMER_ID: object}))  # features unchanged
    assert (frame["pricing_orders"] == frame["frequency"]).all()
    labels = pd.Series([segments_of(i) for i in range(len(frame))], index=frame[S.CUSTOMER_ID], name="seg")
    seg_table = ibis.memtable(pd.DataFrame({S.CUSTOMER_ID: labels.index.astype(str), "seg": labels.to_numpy()}))
    old = pricing_signals(cleaned.table.inner_join(seg_table, S.CUSTOMER_ID), "seg").sort_index()
    new = segment_pricing(frame[list(PRICING_PIECES)].set_axis(frame[S.CUSTOMER_ID]), labels)
    return old, new


@pytest.mark.parametrize("segments_of", [lambda i: f"s{i % 3}", lambda i: "all", lambda i: f"one{i}"])
def test_segment_pricing_equals_the_engine_aggregate(engine, segments_of):
    old, new = _old_and_new(engine, random_rows(), segments_of=segments_of)
    assert len(new) > 0 and (old["return_order_share"] > 0).any()
    pd.testing.assert_frame_equal(new, old, check_dtype=False, check_index_type=False)


def test_segment_pricing_without_order_ids(engine):
    """Without order ids an order is a purchase day, a return order a day with returns."""
    rows = [r[1:] for r in random_rows(seed=1)]
    columns = [c for c in OR_COLUMNS if c != "Invoice"]
    old, new = _old_and_new(engine, rows, columns, segments_of=lambda i: f"s{i % 4}")
    pd.testing.assert_frame_equal(new, old, check_dtype=False, check_index_type=False)


def test_no_quantity_no_pieces(engine):
    rows = [(r[0], r[1], r[3], str(int(r[2]) * float(r[4])), r[5], r[6]) for r in random_rows(80)]
    columns = ["Invoice", "StockCode", "InvoiceDate", "Amount", "Customer ID", "Country"]
    cleaned = clean(engine, std_table(rows, columns, engine=engine), CleaningPolicy(as_of=AS_OF))
    frame = customer_features(cleaned.purchases_and_returns, AS_OF, pricing=True).to_pandas()
    assert list(frame.columns) == [S.CUSTOMER_ID, *FEATURE_COLUMNS]
    assert list(segment_pricing(None, pd.Series(dtype=str)).columns) == list(pricing_signals(cleaned.table, "x").columns)
