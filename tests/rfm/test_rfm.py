"""RFM scores: hand-computed edges, the tie policy, skewed data, and the 125-cell segment map."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from customersense.errors import ConfigError
from customersense.rfm import load_segment_map, score_rfm
from customersense.rfm.scoring import quantile_scores
from customersense.rfm.segments import default_map_path

CLASSIC = {
    "Champions", "Loyal Customers", "Potential Loyalists", "New Customers", "Promising",
    "Need Attention", "About to Sleep", "At Risk", "Can't Lose Them", "Hibernating", "Lost",
}


def test_quantile_scores_on_ten_distinct_values():
    scores, edges = quantile_scores(np.arange(1, 11))
    np.testing.assert_allclose(edges, [2.8, 4.6, 6.4, 8.2])
    assert scores.tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_skewed_values_merge_bins_and_say_so():
    # 6 of 10 customers bought once: the 20% and 40% quantiles are both 1, the 60% is 1.4.
    values = [1, 1, 1, 1, 1, 1, 2, 2, 3, 5]
    frame = pd.DataFrame({"recency_days": np.arange(10), "frequency": values, "monetary": np.arange(10.0)})
    rfm = score_rfm(frame)
    f = rfm.bins[1]
    assert f.edges == pytest.approx((1.0, 1.0, 1.4, 2.2))
    assert f.empty_scores == (2, 3)
    assert rfm.scores["f_score"].tolist() == [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]
    assert f.customers_per_score == {1: 6, 2: 0, 3: 0, 4: 2, 5: 2}
    assert "scores 2, 3 have no customers" in f.note()


def test_recency_is_reversed():
    frame = pd.DataFrame({"recency_days": np.arange(1, 11), "frequency": 1, "monetary": 1.0})
    rfm = score_rfm(frame)
    assert rfm.scores["r_score"].tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert rfm.bins[0].edges == pytest.approx((8.2, 6.4, 4.6, 2.8))


customer_values = st.lists(
    st.tuples(st.integers(1, 400), st.integers(1, 30), st.floats(-50, 1e5, allow_nan=False)),
    min_size=2,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(customer_values, st.data())
def test_identical_customers_get_identical_scores(values, data):
    # duplicate some customers, shuffle, and compare the scores of equal rows
    dup = data.draw(st.lists(st.sampled_from(values), max_size=20))
    rows = values + dup
    frame = pd.DataFrame(rows, columns=["recency_days", "frequency", "monetary"])
    scores = score_rfm(frame).scores
    joined = pd.concat([frame, scores], axis=1)
    per_value = joined.groupby(["recency_days", "frequency", "monetary"])[["r_score", "f_score", "m_score"]].nunique()
    assert (per_value == 1).all().all()
    assert scores.isin([1, 2, 3, 4, 5]).all().all()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=80))
def test_scores_are_monotone_in_the_value(values):
    scores, _ = quantile_scores(np.array(values))
    order = np.argsort(values, kind="stable")
    assert np.all(np.diff(scores[order]) >= 0)


def test_default_map_covers_125_cells_with_the_classic_11_segments():
    seg = load_segment_map()
    assert len(seg.cells) == 125
    assert set(seg.cells) == CLASSIC
    assert seg.lookup(5, 5, 5) == "Champions"
    assert seg.lookup(1, 1, 1) == "Lost"
    assert seg.lookup(5, 1, 1) == "New Customers"
    assert seg.lookup(1, 5, 5) == "Can't Lose Them"


@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5))
def test_every_score_cell_maps_to_exactly_one_segment(r, f, m):
    seg = load_segment_map()
    frame = pd.DataFrame({"r_score": [r], "f_score": [f], "m_score": [m]})
    assert seg.assign(frame).tolist() == [seg.lookup(r, f, m)]
    assert seg.lookup(r, f, m) in CLASSIC


def _write_map(tmp_path, lines):
    p = tmp_path / "map.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_user_map_is_validated(tmp_path):
    cells = [f"{r},{f},{m},Seg{r}" for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)]
    ok = load_segment_map(_write_map(tmp_path, ["r_score,f_score,m_score,segment", *cells]))
    assert ok.segments == ("Seg1", "Seg2", "Seg3", "Seg4", "Seg5")
    with pytest.raises(ConfigError, match="1 of the 125"):
        load_segment_map(_write_map(tmp_path, ["r_score,f_score,m_score,segment", *cells[:-1]]))
    with pytest.raises(ConfigError, match="line 3: cell \\(1, 1, 1\\) appears twice"):
        load_segment_map(_write_map(tmp_path, ["r_score,f_score,m_score,segment", cells[0], cells[0]]))
    with pytest.raises(ConfigError, match="line 2: m_score=6 is outside 1..5"):
        load_segment_map(_write_map(tmp_path, ["r_score,f_score,m_score,segment", "1,1,6,X"]))
    with pytest.raises(ConfigError, match="line 2: empty segment name"):
        load_segment_map(_write_map(tmp_path, ["r_score,f_score,m_score,segment", "1,1,1,"]))
    with pytest.raises(ConfigError, match="header must be"):
        load_segment_map(_write_map(tmp_path, ["r,f,m,segment", "1,1,1,X"]))


def test_default_map_file_is_shipped():
    assert default_map_path().is_file()
