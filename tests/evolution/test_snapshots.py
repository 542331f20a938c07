"""The features of every snapshot from one query (evolution.snapshots) against the run's feature
query on the rows before each date (customer_frame, via migration.snapshot_features), column by
column, on planted edge cases and on random lines, on each engine; plus hand-computed values.

Tolerance: integers and text exactly; floats to 1e-9 absolute. Both paths round every float
column to 1e-6 with the same operations (round6), so equal sums give equal doubles; the two
paths add the same line amounts in another grouping (pieces per day, then orders), which can
move an unrounded sum by an ulp (1e-13 at these amounts), far below 1e-9 and far below the
1e-6 step a rounding flip would show as (none does here: the amounts are cents).
"""

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest

from customersense.cleaning import IS_RETURN, LINE_AMOUNT, ORDER_KEY, PURCHASE_DATE
from customersense.engine import connect
from customersense.evolution.migration import snapshot_features
from customersense.evolution.snapshots import snapshots_features

D = dt.date
DATES = [D(2020, 12, 1), D(2021, 1, 1), D(2021, 2, 1), D(2021, 3, 1), D(2021, 4, 1)]

# customer, order, timestamp, amount (negative: a return line)
PLANTED = [
    # spans midnight at the 2021-02-01 boundary: 5.00 as of 02-01, 12.50 from 03-01 on
    ("span", "s1", "2021-01-31 23:50", 5.0),
    ("span", "s1", "2021-02-01 00:10", 7.5),
    ("span", "s2", "2021-01-10 09:00", 3.0),
    # spans midnight inside a period: one order of day 01-14, 30.25
    ("mid", "m1", "2021-01-14 23:59", 10.0),
    ("mid", "m1", "2021-01-15 00:01", 20.25),
    ("mid", "m2", "2021-02-20 12:00", 40.0),
    ("mid", "r1", "2021-02-21 12:00", -15.0),  # a return
    # only a return before 02-01 (not a customer then), first purchase on 02-10
    ("retfirst", "r2", "2021-01-20 10:00", -8.0),
    ("retfirst", "q1", "2021-02-10 10:00", 30.0),
    # one purchase day, two orders: mean_interpurchase_days NaN, std of (10, 30)
    ("oneday", "d1", "2021-01-05 08:00", 10.0),
    ("oneday", "d2", "2021-01-05 18:00", 30.0),
    # identical histories: ties in every percent rank
    ("tie_a", "ta", "2021-01-07 10:00", 20.0),
    ("tie_b", "tb", "2021-01-07 11:00", 20.0),
    # purchase and return lines in one order
    ("mixed", "x1", "2021-02-03 10:00", 50.0),
    ("mixed", "x1", "2021-02-03 10:05", -20.0),
    ("mixed", "x2", "2021-03-15 10:00", 25.0),
]


def _lines(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "order_id", "timestamp", "amount"])
    ts = pd.to_datetime(frame["timestamp"])
    return pd.DataFrame({
        "customer_id": frame["customer_id"], "timestamp": ts, IS_RETURN: frame["amount"] < 0,
        LINE_AMOUNT: frame["amount"], PURCHASE_DATE: ts.dt.date, ORDER_KEY: frame["order_id"],
    })


def _random_lines(seed: int = 5, n: int = 4000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    order = rng.integers(0, 1500, n)
    customer = order % 300  # an order belongs to one customer
    start = pd.Timestamp("2020-11-15") + pd.to_timedelta(rng.integers(0, 150, 1500), unit="D") \
        + pd.to_timedelta(rng.integers(0, 24 * 60, 1500), unit="min")
    ts = start[order] + pd.to_timedelta(rng.integers(0, 90, n), unit="min")  # lines of an order span midnight
    amount = np.round(rng.lognormal(2, 1, n), 2) * np.where(rng.random(n) < 0.1, -1, 1)
    rows = [(f"c{c:03d}", f"o{o}", t, a) for c, o, t, a in zip(customer, order, ts, amount)]
    return _lines(rows)


def assert_same(got: pd.DataFrame, want: pd.DataFrame, label: str) -> None:
    assert list(got.columns) == list(want.columns), label
    assert got["customer_id"].tolist() == want["customer_id"].tolist(), label
    for col in want.columns:
        x, y = got[col], want[col]
        if want[col].dtype.kind == "f":
            np.testing.assert_allclose(x.to_numpy(float), y.to_numpy(float), rtol=0, atol=1e-9, equal_nan=True,
                                       err_msg=f"{label} {col}")
        else:
            assert x.astype(str).tolist() == y.astype(str).tolist(), f"{label} {col}"


def _compare(engine, lines: pd.DataFrame) -> dict:
    kept = engine.upload(lines, "lines")
    got = snapshots_features(kept, DATES, engine)
    assert list(got) == DATES
    for day in DATES:
        assert_same(got[day], snapshot_features(kept, day, engine), str(day))
    return got


def test_planted_snapshots_equal_the_run_query_and_hand_values(engine):
    got = _compare(engine, _lines(PLANTED))
    assert len(got[D(2020, 12, 1)]) == 0  # before every line: an empty snapshot
    feb = got[D(2021, 2, 1)].set_index("customer_id")
    assert "retfirst" not in feb.index  # only a return before 02-01
    assert feb.loc["span", "frequency"] == 2 and feb.loc["span", "gross_revenue"] == 8.0  # 5.00 of s1 + 3.00
    assert feb.loc["span", "order_value_std"] == round(np.std([5.0, 3.0], ddof=1), 6)
    assert feb.loc["mid", "gross_revenue"] == 30.25 and feb.loc["mid", "recency_days"] == 18
    assert np.isnan(feb.loc["oneday", "mean_interpurchase_days"]) and feb.loc["oneday", "frequency"] == 2
    assert feb.loc["oneday", "order_value_std"] == round(np.std([10.0, 30.0], ddof=1), 6)
    assert feb.loc["tie_a", "engagement_score"] == feb.loc["tie_b", "engagement_score"]
    mar = got[D(2021, 3, 1)].set_index("customer_id")
    assert mar.loc["span", "gross_revenue"] == 15.5 and mar.loc["span", "frequency"] == 2  # s1 whole: 12.50
    assert mar.loc["span", "mean_interpurchase_days"] == 21.0  # days 01-10 and 01-31
    assert mar.loc["mid", "returns_value"] == 15.0 and mar.loc["mid", "monetary"] == 55.25
    assert mar.loc["retfirst", "returns_value"] == 8.0 and mar.loc["retfirst", "monetary"] == 22.0
    assert mar.loc["mixed", "gross_revenue"] == 50.0 and mar.loc["mixed", "returns_value"] == 20.0


def test_random_lines_spanning_midnight_equal_the_run_query():
    """DuckDB only (the planted test runs on Spark too: this one would add a minute there)."""
    engine = connect()
    lines = _random_lines()
    days = pd.to_datetime(lines["timestamp"]).dt.date
    per_order = lines[~lines[IS_RETURN]].assign(day=days).groupby(ORDER_KEY)["day"].nunique()
    assert (per_order > 1).sum() > 20  # many orders span midnight
    bounds = lines[~lines[IS_RETURN]].assign(day=days).groupby(ORDER_KEY)["day"].agg(["min", "max"])
    assert sum(((bounds["min"] < d) & (bounds["max"] >= d)).sum() for d in DATES) == 3  # at a snapshot date
    try:
        got = _compare(engine, lines)
    finally:
        engine.close()
    assert [len(got[d]) for d in DATES[1:]] == sorted(len(got[d]) for d in DATES[1:]) and len(got[DATES[-1]]) > 250


def test_without_engagement_the_column_is_left_out():
    con = ibis.duckdb.connect()
    kept = con.create_table("lines", _lines(PLANTED))
    got = snapshots_features(kept, DATES[2:3], engine=None, engagement=False)[DATES[2]]
    want = snapshot_features(kept, DATES[2]).drop(columns="engagement_score")
    assert_same(got, want, "no engagement")
