"""Per-customer outcomes summed in the engine (hand-computed), and the simulator's planted truth."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from customersense.campaigns import simulate_campaign
from customersense.campaigns.outcomes import outcomes, pre_period_start
from customersense.cleaning import clean
from customersense.config import load_config
from customersense.io.readers import read_transactions
from customersense.pipeline.run import session

START, END = dt.date(2024, 3, 1), dt.date(2024, 3, 11)      # pre-period: 2024-02-20 .. 2024-03-01


def test_outcomes_by_hand(tmp_path):
    rows = [  # customer, order, timestamp, quantity, unit_price
        ("a", "1", "2024-02-19 10:00", 1, 100.0),   # before the pre-period: not counted
        ("a", "2", "2024-02-20 00:00", 2, 5.0),     # pre-period: 10
        ("a", "3", "2024-03-01 00:00", 1, 7.5),     # window: 7.5
        ("a", "C4", "2024-03-05 12:00", -1, 2.5),   # return in the window: -2.5
        ("b", "5", "2024-02-29 23:59", 3, 4.0),     # pre-period: 12
        ("b", "6", "2024-03-11 00:00", 1, 50.0),    # on the end day: after the window
        ("c", "7", "2024-03-10 23:00", 1, 3.0),     # window: 3
    ]
    pd.DataFrame(rows, columns=["customer_id", "order_id", "timestamp", "quantity", "unit_price"]).to_csv(
        tmp_path / "tx.csv", index=False)
    config = load_config(None, {"input": {"source": str(tmp_path / "tx.csv")}, "cleaning": {"as_of": END.isoformat()}})
    with session(config) as (engine, workdir):
        tx = read_transactions(engine, config.input, workdir)
        got = outcomes(engine, clean(engine, tx.table, config.cleaning).table, START, END)
    assert pre_period_start(START, END) == dt.date(2024, 2, 20)
    got = got.set_index("customer_id")
    assert got.loc["a"].tolist() == pytest.approx([5.0, True, 10.0])
    assert got.loc["b"].tolist() == pytest.approx([0.0, False, 12.0])
    assert got.loc["c"].tolist() == pytest.approx([3.0, True, 0.0])
    assert list(got.index) == ["a", "b", "c"]


def test_simulator_plants_its_stated_uplift_and_is_seeded():
    n = 40000
    assignments = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "segment": np.where(np.arange(n) % 2, "x", "y"),
                                "group": np.where((np.arange(n) // 2) % 2, "treatment", "control")})
    table, truth = simulate_campaign(assignments, {"x": 0.4}, START, END, seed=1)
    again, _ = simulate_campaign(assignments, {"x": 0.4}, START, END, seed=1)
    assert table.equals(again)
    tx = table.to_pandas()
    window = tx[tx["timestamp"] >= pd.Timestamp(START)]
    assert tx["timestamp"].min() >= pd.Timestamp(pre_period_start(START, END)) and tx["timestamp"].max() < pd.Timestamp(END)
    spend = window.groupby("customer_id")["unit_price"].sum()
    frame = assignments.assign(y=assignments["customer_id"].map(spend).fillna(0.0))
    means = frame.groupby(["segment", "group"])["y"].mean()
    truth = truth.set_index("segment")["planted_uplift"]
    assert truth["x"] == pytest.approx(0.8 * 0.4 * np.exp(3.0 + (0.25 + 0.09) / 2))
    se = frame.groupby(["segment", "group"])["y"].std() / np.sqrt(n / 4)
    for seg in ("x", "y"):
        diff = means[seg, "treatment"] - means[seg, "control"]
        assert abs(diff - truth[seg]) < 3 * np.sqrt(se[seg, "treatment"] ** 2 + se[seg, "control"] ** 2)
