"""The run's headline totals, by hand."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from customersense.profiles.totals import customer_totals


def test_totals_of_a_frame_by_hand():
    customers = pd.DataFrame({"monetary": [10.5, -2.25, 100.0], "frequency": [1, 0, 4]})
    assert customer_totals(customers) == {"customers": 3, "net_revenue": 108.25, "orders": 5}


def test_totals_of_no_customers_are_zero():
    empty = pd.DataFrame({"monetary": pd.Series([], dtype=float), "frequency": pd.Series([], dtype=np.int64)})
    assert customer_totals(empty) == {"customers": 0, "net_revenue": 0.0, "orders": 0}


def test_totals_summed_by_the_engine_over_every_customer():
    every = pd.DataFrame({"monetary": [1.0, 2.0, 3.5, 4.0], "frequency": [1, 2, 3, 4]})
    sample = every.iloc[:1]  # at scale the frame is the models' sample: the table wins
    totals = customer_totals(sample, ibis.memtable(every))
    assert totals == {"customers": 4, "net_revenue": 10.5, "orders": 10}
