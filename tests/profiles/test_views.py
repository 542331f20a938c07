"""The dashboards' tables, on cases worked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from customersense.profiles.views import box_stats, figure_sample, histogram, normalised_profiles, rfm_grid


def test_rfm_grid_by_hand():
    c = pd.DataFrame({
        "r_score": [5, 5, 5, 1, 1], "f_score": [5, 5, 5, 1, 2],
        "rfm_segment": ["Champions", "Loyal", "Champions", "Lost", "Lost"],
        "monetary": [100.0, 50.0, 25.0, -5.0, 10.0],
    })
    g = rfm_grid(c).set_index(["r_score", "f_score"])
    assert list(g.index) == [(1, 1), (1, 2), (5, 5)]
    assert g.loc[(5, 5), "customers"] == 3 and g.loc[(5, 5), "revenue"] == pytest.approx(175.0)
    assert g.loc[(5, 5), "segment"] == "Champions" and g.loc[(5, 5), "segments_in_cell"] == 2
    assert g.loc[(1, 1), "revenue"] == pytest.approx(-5.0) and g.loc[(1, 1), "share"] == pytest.approx(0.2)
    assert g["customers"].sum() == 5


def test_rfm_grid_tie_takes_first_name():
    c = pd.DataFrame({"r_score": [3, 3], "f_score": [3, 3], "rfm_segment": ["Zeta", "Alpha"], "monetary": [1.0, 2.0]})
    assert rfm_grid(c)["segment"].tolist() == ["Alpha"]


def test_normalised_profiles_min_max_and_constant():
    p = pd.DataFrame({"segment": ["a", "b", "c"], "mean_frequency": [1.0, 3.0, 2.0],
                      "mean_monetary": [7.0, 7.0, 7.0], "mean_tenure_days": [np.nan, 10.0, 20.0]})
    raw, norm = normalised_profiles(p, ["c", "a", "b"])
    assert list(norm.index) == ["c", "a", "b"]
    assert norm["frequency"].tolist() == [0.5, 0.0, 1.0]
    assert norm["monetary"].tolist() == [0.5, 0.5, 0.5]
    assert np.isnan(norm.loc["a", "tenure_days"]) and norm.loc["b", "tenure_days"] == 0.0
    assert raw.loc["c", "frequency"] == 2.0


def test_box_stats_by_hand():
    c = pd.DataFrame({"segment": ["a"] * 5 + ["b"], "x": [1.0, 2.0, 3.0, 4.0, 100.0, 7.0]})
    s = box_stats(c, "x", "segment", ["b", "a", "missing"]).set_index("segment")
    assert list(s.index) == ["b", "a"]
    # a: q1 2, median 3, q3 4, IQR 2: 100 lies beyond 4 + 3, so the upper whisker is 4
    assert s.loc["a", ["q1", "median", "q3", "lower", "upper"]].tolist() == [2.0, 3.0, 4.0, 1.0, 4.0]
    assert s.loc["a", "mean"] == pytest.approx(22.0) and s.loc["b", "n"] == 1


def test_histogram_counts_every_finite_value():
    h = histogram(pd.Series([0.0, 0.5, 1.0, np.nan, 1.0]), bins=2)
    assert h["count"].tolist() == [1, 3] and h["left"].tolist() == [0.0, 0.5]


def test_figure_sample_is_seeded_and_ordered():
    c = pd.DataFrame({"i": range(100)})
    s1, note = figure_sample(c, cap=10)
    s2, _ = figure_sample(c, cap=10)
    assert s1["i"].tolist() == s2["i"].tolist() == sorted(s1["i"]) and len(s1) == 10
    assert note == "sample of 10 of 100 customers"
    assert figure_sample(c, cap=100)[1] == "all 100 customers"
