"""Customer features as of a date and the labels after it (clv.windows): hand-computed values
and an independent pandas computation from the transactions."""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest

from customersense.clv.summary import purchase_days
from customersense.clv.windows import FEATURES, LABELS, RECENT_WINDOWS, VALUE_WINDOWS, window_features
from customersense.errors import DataError

from .simulate import simulate_seasonal

CUT = dt.date(2024, 3, 31)
D = dt.timedelta


def _clean(rows, engine=None) -> ibis.Table:
    frame = pd.DataFrame(rows, columns=["customer_id", "purchase_date", "line_amount", "is_return"])
    table = ibis.memtable(frame)
    return engine.materialize(table, "windows_rows") if engine is not None else table


HAND_ROWS = [
    # a: two lines on Jan 1 are one purchase day of 15; Apr 10 falls in the 30-day label window
    ("a", dt.date(2024, 1, 1), 10.0, False), ("a", dt.date(2024, 1, 1), 5.0, False),
    ("a", dt.date(2024, 3, 1), 20.0, False), ("a", dt.date(2024, 4, 10), 8.0, False),
    # b: a return line is no purchase; one purchase day before the cut
    ("b", dt.date(2024, 2, 1), 7.0, False), ("b", dt.date(2024, 2, 1), -7.0, True),
    ("b", dt.date(2024, 4, 15), 3.0, False),
    # c: first purchase after the cut: not a row
    ("c", dt.date(2024, 5, 1), 1.0, False),
    # d: the window edges: cut - 365 is outside (cut - 365, ...], cut - 275 is inside (..., cut - 275]
    ("d", CUT - D(365), 100.0, False), ("d", CUT - D(364), 12.0, False),
    ("d", CUT - D(275), 4.0, False), ("d", CUT, 5.0, False), ("d", CUT + D(31), 9.0, False),
]

NAN = float("nan")
# Computed by hand (2024 is a leap year: Jan 1 -> Mar 31 is 90 days, Feb 1 -> Mar 31 is 59).
EXPECTED = {
    "a": dict(purchase_days=2, days_since_last=30, tenure_days=90, total_value=35, mean_day_value=17.5,
              last_day_value=20, purchase_days_30d=0, purchase_days_90d=1, purchase_days_180d=2,
              purchase_days_365d=2, value_90d=20, value_365d=35,
              mean_gap_days=60, gap_ratio=0.5, purchase_days_ly_next_90=0, value_ly_next_90=0,
              label_purchases=1, label_spend=8, label_churn=False),
    "b": dict(purchase_days=1, days_since_last=59, tenure_days=59, total_value=7, mean_day_value=7,
              last_day_value=7, purchase_days_30d=0, purchase_days_90d=1, purchase_days_180d=1,
              purchase_days_365d=1, value_90d=7, value_365d=7,
              mean_gap_days=NAN, gap_ratio=NAN, purchase_days_ly_next_90=0, value_ly_next_90=0,
              label_purchases=1, label_spend=3, label_churn=False),
    "d": dict(purchase_days=4, days_since_last=0, tenure_days=365, total_value=121, mean_day_value=30.25,
              last_day_value=5, purchase_days_30d=1, purchase_days_90d=1, purchase_days_180d=1,
              purchase_days_365d=3, value_90d=5, value_365d=21,
              mean_gap_days=365 / 3, gap_ratio=0.0, purchase_days_ly_next_90=2, value_ly_next_90=16,
              label_purchases=0, label_spend=0, label_churn=True),
}


def test_features_and_labels_by_hand(engine):
    days = purchase_days(_clean(HAND_ROWS, engine))
    df = window_features(days, CUT, horizon_days=30, engine=engine)
    assert list(df.columns) == ["customer_id", *FEATURES, *LABELS]
    assert list(df["customer_id"]) == ["a", "b", "d"]
    for row in df.to_dict("records"):
        want = EXPECTED[row["customer_id"]]
        for name, value in want.items():
            if isinstance(value, float) and np.isnan(value):
                assert np.isnan(row[name]), (row["customer_id"], name)
            else:
                assert row[name] == pytest.approx(value, rel=1e-12, abs=1e-12), (row["customer_id"], name)
    assert df["label_churn"].dtype == bool and df["label_purchases"].dtype == np.int64


def test_without_horizon_there_are_no_labels_and_bad_arguments_are_refused():
    days = purchase_days(_clean(HAND_ROWS))
    df = window_features(days, CUT)
    assert list(df.columns) == ["customer_id", *FEATURES]
    assert all(df[c].dtype == np.float64 for c in FEATURES)
    # d's purchase at cut + 31 is outside a 30-day horizon and inside a 31-day one
    longer = window_features(days, CUT, horizon_days=31).set_index("customer_id")
    assert longer.loc["d", "label_purchases"] == 1 and longer.loc["d", "label_spend"] == 9.0
    with pytest.raises(DataError, match="cut must be a date"):
        window_features(days, dt.datetime(2024, 3, 31))
    with pytest.raises(DataError, match="horizon_days=0"):
        window_features(days, CUT, horizon_days=0)


# --- an independent computation in pandas, from the transactions ------------------------------

def reference(tx: pd.DataFrame, cut: dt.date, horizon: int) -> pd.DataFrame:
    """Every feature and label, customer by customer, with plain pandas and datetime."""
    by_day = tx.groupby(["customer_id", "purchase_date"], as_index=False)["amount"].sum()
    rows = []
    for cid, g in by_day.groupby("customer_id", sort=True):
        dates, values = list(g["purchase_date"]), list(g["amount"])
        if min(dates) > cut:
            continue
        past = [(d, v) for d, v in zip(dates, values) if d <= cut]
        ds = sorted(d for d, _ in past)
        n, first, last = len(ds), ds[0], ds[-1]
        row = {"customer_id": cid, "purchase_days": n, "days_since_last": (cut - last).days,
               "tenure_days": (cut - first).days, "total_value": sum(v for _, v in past)}
        row["mean_day_value"] = row["total_value"] / n
        row["last_day_value"] = dict(past)[last]
        for w in RECENT_WINDOWS:
            recent = [v for d, v in past if d > cut - D(w)]
            row[f"purchase_days_{w}d"] = len(recent)
            if w in VALUE_WINDOWS:
                row[f"value_{w}d"] = sum(recent)
        gaps = np.diff([d.toordinal() for d in ds])
        row["mean_gap_days"] = gaps.mean() if n > 1 else NAN
        row["gap_ratio"] = row["days_since_last"] / row["mean_gap_days"] if n > 1 else NAN
        ly = [v for d, v in past if cut - D(365) < d <= cut - D(275)]
        row["purchase_days_ly_next_90"], row["value_ly_next_90"] = len(ly), sum(ly)
        ahead = [v for d, v in zip(dates, values) if cut < d <= cut + D(horizon)]
        row.update(label_purchases=len(ahead), label_spend=sum(ahead), label_churn=not ahead)
        rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.parametrize("cut_back, horizon", [(90, 90), (200, 90), (500, 45)])
def test_features_equal_an_independent_pandas_computation(cut_back, horizon):
    tx, _ = simulate_seasonal(400, n_days=900, first_window=600, seed=3)
    tx["amount"] = tx["amount"].round(2)  # cents: the engine's decimal sums are then exact
    last = tx["purchase_date"].max()
    cut = last - D(cut_back)
    clean = _clean(list(zip(tx["customer_id"], tx["purchase_date"], tx["amount"], [False] * len(tx))))
    got = window_features(purchase_days(clean), cut, horizon_days=horizon)
    want = reference(tx, cut, horizon)
    assert list(got["customer_id"]) == list(want["customer_id"]) and len(got) > 250
    for c in (*FEATURES, "label_purchases", "label_spend"):
        np.testing.assert_allclose(got[c].to_numpy(float), want[c].to_numpy(float), rtol=1e-12, atol=1e-9,
                                   err_msg=c)
    np.testing.assert_array_equal(got["label_churn"].to_numpy(), want["label_churn"].to_numpy(bool))
    assert 0.1 < got["label_churn"].mean() < 0.9  # both outcomes present: the labels are exercised

