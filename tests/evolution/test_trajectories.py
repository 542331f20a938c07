"""Trajectory clustering: monthly sequences from the engine, hand-computed features, planted
shapes recovered and named, the estimator's contract, the names file."""

from __future__ import annotations

import datetime as dt
import json
import math
import statistics

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.metrics import adjusted_rand_score

from customersense.cleaning import clean
from customersense.config import CleaningPolicy, EngineConfig
from customersense.engine import connect
from customersense.engine.base import fetch
from customersense.errors import ConfigError
from customersense.evaluation.validation import ValidationSettings
from customersense.evolution.trajectories import (
    TRAJECTORY_FEATURES,
    TrajectoryClusterer,
    learn_trajectories,
    load_trajectory_names,
    monthly_activity,
    monthly_matrix,
    recency_matrix,
    trajectory_features,
    window,
)

from ..conftest import std_table

SHAPES = ("growing", "declining", "seasonal", "steady", "one-off")
AS_OF = dt.date(2021, 1, 1)  # the window: the 12 months of 2020
E = math.e


def planted_spend(n_per_shape: int = 100, months: int = 12, seed: int = 0):
    """(shape per customer, spend[n, m], orders[n, m]) with known shapes and noise: ramps up or
    down from a random start (10% of months missed), a 3-month season around a random peak
    (circular: a December peak spills into January), most months at one level, one month."""
    rng = np.random.default_rng(seed)
    m, t = months, np.arange(months)
    rows, shapes = [], []
    for shape in SHAPES:
        for _ in range(n_per_shape):
            level = rng.lognormal(np.log(80), 0.6)
            noise = rng.lognormal(0, 0.2, m)
            x = np.zeros(m)
            if shape in ("growing", "declining"):
                s = rng.integers(0, 4)
                x = level * np.where(t >= s, (t - s + 1) / (m - s), 0.0) * noise * (rng.random(m) < 0.9)
                x = x if shape == "growing" else x[::-1]
            elif shape == "seasonal":
                p = rng.integers(0, m)
                x[[(p - 1) % m, p, (p + 1) % m]] = level * np.array([0.5, 1.0, 0.5]) * noise[:3]
            elif shape == "steady":
                x = level * noise * (rng.random(m) < 0.9)
            else:
                x[rng.integers(0, m)] = level
            rows.append(x)
            shapes.append(shape)
    spend = np.round(np.maximum(np.array(rows), 0.0), 2)
    orders = (spend > 0) * rng.integers(1, 3, size=spend.shape)
    return np.array(shapes), spend, orders


def planted_rows(spend: np.ndarray, orders: np.ndarray, start: dt.date = dt.date(2020, 1, 1)) -> list[tuple]:
    """Online Retail rows: each month's spend split evenly over its orders, one line each."""
    rows = []
    for i, j in zip(*np.nonzero(orders)):
        month = dt.date(start.year + (start.month - 1 + j) // 12, (start.month - 1 + j) % 12 + 1, 1)
        for o in range(int(orders[i, j])):
            day = dt.datetime.combine(month, dt.time(10)) + dt.timedelta(days=3 + 7 * o)
            price = max(round(spend[i, j] / orders[i, j], 2), 0.01)
            rows.append((f"{i}-{j}-{o}", "P1", "1", day.isoformat(sep=" "), f"{price:.2f}", f"c{i:04d}", "UK"))
    return rows


# -- the monthly sequences and hand-computed features -----------------------------------------
HAND = {  # customer -> spend in Jan..Apr 2020
    "a": [0.0, E - 1, E**2 - 1, E**3 - 1],  # log1p: 0, 1, 2, 3
    "b": [5.0, 5.0, 5.0, 5.0],
    "c": [0.0, 0.0, 8.0, 0.0],
}


def test_monthly_activity_counts_purchases_in_the_window(engine):
    rows = []
    for cust, spend in HAND.items():
        for j, x in enumerate(spend):
            if x:  # two orders of half each, on two days of the month
                for o in (0, 1):
                    rows.append((f"{cust}{j}{o}", "P1", "1", f"2020-{j + 1:02d}-{10 + o} 09:00:00", f"{x / 2:.9f}", cust, "UK"))
    rows += [
        ("Cb1", "P1", "-1", "2020-02-20 09:00:00", "5.00", "b", "UK"),     # a return: not spend
        ("a-old", "P1", "1", "2019-12-31 23:00:00", "99.00", "a", "UK"),   # before the window
        ("a-late", "P1", "1", "2020-05-02 09:00:00", "99.00", "a", "UK"),  # after it
    ]
    cleaned = clean(engine, std_table(rows, engine=engine), CleaningPolicy(as_of=dt.date(2020, 6, 1)))
    frame = fetch(monthly_activity(cleaned.table, dt.date(2020, 1, 1), dt.date(2020, 5, 1)), engine)
    ids, spend, orders = monthly_matrix(frame, 4)
    assert list(ids) == ["a", "b", "c"]
    np.testing.assert_allclose(spend, np.array(list(HAND.values())), atol=1e-5)
    np.testing.assert_array_equal(orders, 2 * (spend > 0))


def test_features_by_hand():
    spend = np.array(list(HAND.values()))
    f = trajectory_features(spend, spend > 0, start_month=1).set_axis(list(HAND))
    assert list(f.columns) == list(TRAJECTORY_FEATURES)
    # trend: slope of log1p(spend) on t (1 for a; 0.1 ln 9 for c) x (m-1) / peak log x active share
    assert f.loc["a", "trend"] == pytest.approx(1 * 3 / 3 * 3 / 4)
    assert f.loc["b", "trend"] == pytest.approx(0.0)
    assert f.loc["c", "trend"] == pytest.approx(0.1 * math.log(9) * 3 / math.log(9) * 1 / 4)
    for cust, x in HAND.items():  # coefficient of variation, population std
        assert f.loc[cust, "volatility"] == pytest.approx(statistics.pstdev(x) / statistics.fmean(x))
    assert f.loc["c", "volatility"] == pytest.approx(math.sqrt(3))
    a = HAND["a"]
    assert f.loc["a", "late_share"] == pytest.approx((a[2] + a[3]) / sum(a))
    assert f["active_share"].tolist() == [0.75, 1.0, 0.25]
    assert f["active_months"].tolist() == [3, 4, 1]
    # seasonality: best 3 calendar months' share, (share - 1/4) / (3/4)
    assert f.loc["b", "seasonality"] == pytest.approx((15 / 20 - 0.25) / 0.75)
    assert f.loc["c", "seasonality"] == pytest.approx(1.0)
    assert f["months_since_last"].tolist() == [0, 0, 1]
    assert f["months_since_first"].tolist() == [2, 3, 1]
    np.testing.assert_array_equal(recency_matrix(spend > 0), [[4, 0, 0, 0], [0, 0, 0, 0], [4, 4, 0, 1]])


def test_season_wraps_around_the_year():
    """Spend in December and January is one season, whatever month the window starts in."""
    spend = np.zeros((1, 12))
    spend[0, [0, 1, 11]] = 10.0  # window Dec..Nov: December, January, November
    assert trajectory_features(spend, spend > 0, start_month=12)["seasonality"].iloc[0] == pytest.approx(1.0)


def test_window_is_complete_months_before_as_of():
    assert window(dt.date(2011, 12, 10), 12) == (dt.date(2010, 12, 1), dt.date(2011, 12, 1))
    assert window(dt.date(2021, 1, 1), 3) == (dt.date(2020, 10, 1), dt.date(2021, 1, 1))


# -- planted shapes ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def planted():
    shapes, spend, orders = planted_spend(100, seed=0)
    engine = connect(EngineConfig())
    try:
        cleaned = clean(engine, std_table(planted_rows(spend, orders), engine=engine), CleaningPolicy(as_of=AS_OF))
        light = ValidationSettings(n_bootstrap=10, n_null=39, gap_references=5, k_max=6, max_customers=500)
        result = learn_trajectories(cleaned.table, AS_OF, engine=engine, validation=light)
    finally:
        engine.close()
    return pd.Series(shapes, index=[f"c{i:04d}" for i in range(len(shapes))]), result


def test_planted_shapes_are_recovered_and_named(planted):
    shapes, result = planted
    cols = result.columns
    assert list(cols.index) == list(shapes.index)
    ari = adjusted_rand_score(shapes, cols["trajectory_cluster"])
    assert ari >= 0.8, f"ARI {ari:.3f}"
    majority = cols["trajectory"].groupby(shapes).agg(lambda s: s.value_counts().idxmax())
    assert majority.to_dict() == {s: s for s in SHAPES}


def test_summary_for_the_run_record(planted):
    _, result = planted
    summary = json.loads(json.dumps(result.summary()))
    assert summary["k"] == result.k and summary["why"].startswith(f"k={result.k}")
    assert summary["window"] == {"start": "2020-01-01", "end": "2021-01-01", "months": 12}
    assert sum(c["customers"] for c in summary["clusters"]) == summary["customers"] == 500
    assert {c["name"] for c in summary["clusters"]} == set(SHAPES)
    assert "significant" in summary["validation"]
    assert result.validation.significant


# -- the estimator -------------------------------------------------------------------------------
def test_estimator_contract():
    shapes, spend, orders = planted_spend(40, seed=1)
    X = trajectory_features(spend, orders)
    model = TrajectoryClusterer(random_state=3)
    assert model.get_params()["k_range"] == (2, 8)
    with pytest.raises(NotFittedError):
        model.predict(X)
    assert model.fit(X) is model
    assert set(model.selection_["k"]) == set(range(2, 9))
    assert model.selection_["chosen"].sum() == 1 and len(model.cluster_centers_) == model.n_clusters_
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    np.testing.assert_array_equal(TrajectoryClusterer(random_state=3).fit(X).labels_, model.labels_)
    fixed = TrajectoryClusterer(n_clusters=4, random_state=3).fit_predict(X)
    assert len(set(fixed)) == 4
    with pytest.raises(ValueError, match="k_range"):
        TrajectoryClusterer(k_range=(1, 3)).fit(X)


# -- the names file ------------------------------------------------------------------------------
def test_names_file_validates(tmp_path):
    scale, rules = load_trajectory_names()
    assert {r.name for r in rules} >= set(SHAPES)
    assert all(set(r.position) == set(scale) for r in rules)
    bad = tmp_path / "names.toml"
    bad.write_text('[scale]\ntrend = 0.3\n\n[[shape]]\nname = "growing"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="needs a number"):
        load_trajectory_names(bad)
    bad.write_text('[scale]\nnot_a_feature = 1\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="scale"):
        load_trajectory_names(bad)
