"""The held-out judge of representations: a planted signal that RFM cannot see is found to help,
noise is not, and the labels are the windows' purchases computed by hand."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from customersense.cleaning import clean
from customersense.config import load_config
from customersense.evolution.holdout import evaluate_representations, window_labels
from customersense.io.readers import read_transactions
from customersense.pipeline.run import session

END = dt.date(2022, 1, 1)
H = dt.timedelta(days=90)


def _plan(n: int = 500, seed: int = 5):
    """Past purchases unrelated to a hidden propensity p; in each 90-day label window a customer
    buys once with probability p."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, n)
    rows = []
    for c in range(n):
        cid = f"c{c:04d}"
        for k, day in enumerate(sorted(rng.integers(0, 200, 3))):
            rows.append((cid, f"{cid}-h{k}", END - 2 * H - dt.timedelta(days=int(day) + 1), float(rng.uniform(5, 50))))
        for w, start in enumerate((END - 2 * H, END - H)):
            if rng.random() < p[c]:
                rows.append((cid, f"{cid}-w{w}", start + dt.timedelta(days=int(rng.integers(0, 90))), 30.0 + 40 * p[c]))
    frame = pd.DataFrame(rows, columns=["customer_id", "order_id", "timestamp", "amount"])
    return frame, pd.Series(p, index=pd.Index([f"c{c:04d}" for c in range(n)], name="customer_id"))


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    root = tmp_path_factory.mktemp("holdout")
    frame, p = _plan()
    frame.to_csv(root / "tx.csv", index=False)
    config = load_config(None, {"input": {"source": str(root / "tx.csv")}, "cleaning": {"as_of": END}})
    rng = np.random.default_rng(0)
    with session(config) as (engine, workdir):
        tx = read_transactions(engine, config.input, workdir)
        kept = clean(engine, tx.table, config.cleaning, tx.info.path).purchases_and_returns
        blocks = {"oracle": lambda as_of: p.to_frame("p"),
                  "noise": lambda as_of: pd.DataFrame({"z": rng.normal(size=len(p))}, index=p.index)}
        table = evaluate_representations(kept, END, blocks, engine=engine)
        labels = window_labels(kept, END - H, END, engine)
    return table.set_index("representation"), labels, frame


def test_labels_are_the_window_purchases(judged):
    _, labels, frame = judged
    ts = pd.to_datetime(frame["timestamp"])
    window = frame[(ts >= pd.Timestamp(END - H)) & (ts < pd.Timestamp(END))]
    expected = window.groupby("customer_id")["amount"].sum()
    assert labels["spend"].sort_index().to_numpy() == pytest.approx(expected.sort_index().to_numpy())
    assert (labels["purchases"] >= 1).all() and len(labels) == len(expected)


def test_a_planted_signal_helps_and_noise_does_not(judged):
    table = judged[0]
    assert list(table.index[:4]) == ["rfm", "rfm+oracle", "rfm+noise", "rfm+oracle+noise"]
    rfm, oracle, noise = table.loc["rfm"], table.loc["rfm+oracle"], table.loc["rfm+noise"]
    assert rfm["churn_auc"] < 0.6  # the past says nothing about the hidden propensity
    assert oracle["churn_auc"] > rfm["churn_auc"] + 0.1 and bool(oracle["helps"])
    assert oracle["spend_mae"] < rfm["spend_mae"]
    assert not bool(noise["helps"])
    assert table.loc["rfm", "customers_test"] == 500 and table.loc["rfm", "test_as_of"] == END - H
    # the baselines: at the test snapshot recency already shows the first window's purchases
    assert 0.5 < table.loc["baseline: recency alone", "churn_auc"] < oracle["churn_auc"]
