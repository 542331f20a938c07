"""The HTML report's tables, on cases worked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from customersense.profiles.report_views import axis_window, count_not_positive, histograms_by, segment_counts


def test_segment_counts_by_hand():
    c = pd.DataFrame({"segment": ["A", "B", "A", "A", "B"], "rfm_segment": ["x", "x", "y", "x", "x"],
                      "monetary": [10.0, 1.0, -2.0, 5.0, 4.0]})
    out = segment_counts(c, ["segment", "rfm_segment"])
    assert out.values.tolist() == [["A", "x", 2, 15.0], ["A", "y", 1, -2.0], ["B", "x", 2, 5.0]]
    one = segment_counts(c, ["rfm_segment"])
    assert one.values.tolist() == [["x", 4, 20.0], ["y", 1, -2.0]]


def test_histograms_by_hand():
    c = pd.DataFrame({"segment": ["A", "A", "B", "A", "B"], "p": [0.1, 0.9, 0.5, 1.0, np.nan]})
    h = histograms_by(c, "p", "segment", ["B", "Z", "A"], bins=2, lo=0.0, hi=1.0)
    assert h["segment"].tolist() == ["B", "B", "A", "A"]  # order kept, the empty "Z" left out
    assert h["count"].tolist() == [0, 1, 1, 2]  # 0.5 and 1.0 fall in the last bin
    assert h["left"].tolist() == [0.0, 0.5, 0.0, 0.5]


def test_axis_window_by_hand():
    v = np.arange(101, dtype=float)  # 0..100: the p-th percentile is p
    assert axis_window(v, 1.0, 99.0) == (1.0, 99.0, 2)
    assert axis_window(np.array([3.0, 3.0, np.nan])) == (2.5, 3.5, 0)
    assert axis_window(np.array([np.nan])) == (0.0, 1.0, 0)
    lo, hi, out = axis_window(np.array([-1000.0, *range(1, 100)]), 1.0, 100.0)
    # position 0.01 * 99 = 0.99 between -1000 and 1: -1000 + 0.99 * 1001 = -9.01; only -1000 below
    assert lo == pytest.approx(-9.01) and hi == 99.0 and out == 1


def test_count_not_positive():
    f = pd.DataFrame({"a": [1.0, 0.0, 2.0, np.nan], "b": [1.0, 1.0, -1.0, 1.0]})
    assert count_not_positive(f, ["a", "b"]) == 3 and count_not_positive(f, ["b"]) == 1
