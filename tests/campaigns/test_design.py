"""Assignment and power analysis: exact shares, seeded, formulas against statsmodels and by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from customersense.campaigns import design as D

pytest.importorskip("statsmodels")
from statsmodels.stats.power import NormalIndPower, TTestIndPower  # noqa: E402


def _customers():
    rng = np.random.default_rng(3)
    sizes = {"A": 101, "B": 50, "C": 7}
    rows = [(f"{s}{i:04d}", s, float(rng.gamma(2.0, 50.0))) for s, n in sizes.items() for i in range(n)]
    return pd.DataFrame(rows, columns=["customer_id", "segment", "monetary"])


def test_assign_exact_share_per_segment_and_seeded():
    customers = _customers()
    a = D.assign(customers, 0.5, seed=42)
    counts = a.groupby(["segment", "group"]).size().unstack()
    # round(n * 0.5) with Python's round-half-even: 101 -> 50 (50.5), 50 -> 25, 7 -> 4 (3.5)
    assert counts.loc["A", "treatment"] == 50 and counts.loc["A", "control"] == 51
    assert counts.loc["B", "treatment"] == 25 and counts.loc["C", "treatment"] == 4
    assert set(a["customer_id"]) == set(customers["customer_id"]) and len(a) == len(customers)
    pd.testing.assert_frame_equal(a, D.assign(customers.sample(frac=1, random_state=1), 0.5, seed=42))
    assert not a["group"].equals(D.assign(customers, 0.5, seed=43)["group"])
    third = D.assign(customers, 0.3, seed=1).groupby("segment")["group"].apply(lambda g: (g == "treatment").sum())
    assert third.to_dict() == {"A": 30, "B": 15, "C": 2}


@pytest.mark.parametrize("p0,p1", [(0.1, 0.11), (0.05, 0.07), (0.3, 0.36)])
def test_conversion_sample_size_matches_statsmodels_and_hand(p0, p1):
    h = D.cohens_h(p1, p0)
    assert h == pytest.approx(2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p0)), rel=1e-12)
    ours = D.n_per_arm_normal(h)
    theirs = NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=1.0)
    assert ours == pytest.approx(theirs, rel=1e-6)
    # hand: one tail only, 2 ((1.959964 + 0.841621) / h)^2; the other tail adds < 1e-6 of power
    hand = 2 * ((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) / h) ** 2
    assert ours == pytest.approx(hand, rel=1e-4)


def test_hand_case_ten_to_eleven_percent():
    # h(0.11, 0.10) = 2 asin(0.331662) - 2 asin(0.316228) = 0.0326294,
    # n = 2 (2.8015852 / 0.0326294)^2 = 14744.1 per arm
    h = D.cohens_h(0.11, 0.10)
    assert h == pytest.approx(0.0326294, abs=1e-6)
    assert D.n_per_arm_normal(h) == pytest.approx(14744.1, abs=0.5)


@pytest.mark.parametrize("d", [0.1, 0.25, 0.5])
def test_revenue_sample_size_matches_statsmodels_ttest(d):
    ours = D.n_per_arm_t(d)
    theirs = TTestIndPower().solve_power(effect_size=d, alpha=0.05, power=0.8, ratio=1.0)
    assert ours == pytest.approx(theirs, rel=1e-6)
    # hand (normal approximation): 2 (z_.975 + z_.8)^2 / d^2; d = 0.5 -> 62.79 (t: 63.77)
    assert ours == pytest.approx(2 * 2.8015852 ** 2 / d ** 2, rel=0.02)


@pytest.mark.parametrize("n1,ratio", [(500, 1.0), (230, 1.2), (40, 0.8)])
def test_mde_matches_statsmodels(n1, ratio):
    assert D.mde_h(n1, ratio) == pytest.approx(
        NormalIndPower().solve_power(nobs1=n1, alpha=0.05, power=0.8, ratio=ratio), rel=1e-6)
    # statsmodels' own solver for a t effect size stops early (at n1=40, ratio 0.8 its answer has
    # power 0.800002, 2.5e-6 relative off); its power function at our MDE is 0.8 to 1e-9.
    d = D.mde_d(n1, ratio)
    assert TTestIndPower().power(d, n1, 0.05, ratio) == pytest.approx(0.8, abs=1e-9)
    assert d == pytest.approx(TTestIndPower().solve_power(nobs1=n1, alpha=0.05, power=0.8, ratio=ratio), rel=1e-5)


@pytest.mark.parametrize("effect,n1,ratio", [(0.05, 3000, 1.0), (0.3, 40, 0.8), (0.8, 12, 1.5)])
def test_power_functions_equal_statsmodels(effect, n1, ratio):
    assert D.normal_power(effect, n1, ratio) == pytest.approx(NormalIndPower().power(effect, n1, 0.05, ratio), rel=1e-12)
    assert D.t_power(effect, n1, ratio) == pytest.approx(TTestIndPower().power(effect, n1, 0.05, ratio), rel=1e-10)


def test_power_table_rows_and_warning():
    customers = _customers()
    table = D.power_table(customers, mde=0.1, baseline_conversion=0.1).set_index("segment")
    assert list(table.index) == ["A", "B", "C"]
    assert (table["n_per_arm_conversion"] == 14745).all()   # ceil(14744.1), the hand case above
    a = customers[customers.segment == "A"]["monetary"]
    d = 0.1 * a.mean() / a.std(ddof=1)
    assert table.loc["A", "n_per_arm_revenue"] == math.ceil(
        TTestIndPower().solve_power(effect_size=d, alpha=0.05, power=0.8))
    n_t, n_c = 50, 51
    mde_rev = TTestIndPower().solve_power(nobs1=n_t, alpha=0.05, power=0.8, ratio=n_c / n_t) * a.std(ddof=1)
    assert table.loc["A", "mde_revenue"] == pytest.approx(mde_rev, rel=1e-5)   # see the MDE test
    h = NormalIndPower().solve_power(nobs1=n_t, alpha=0.05, power=0.8, ratio=n_c / n_t)
    p1 = math.sin(h / 2 + math.asin(math.sqrt(0.1))) ** 2
    assert table.loc["A", "mde_conversion"] == pytest.approx(p1 - 0.1, rel=1e-5)   # statsmodels stops early
    assert table.loc["A", "warning"].startswith("too small to read a 10% lift: 50 per arm")
    big = pd.DataFrame({"customer_id": [str(i) for i in range(40000)], "segment": "X",
                        "monetary": np.random.default_rng(0).gamma(4.0, 25.0, 40000)})
    assert D.power_table(big, mde=0.1, baseline_conversion=0.1)["warning"].iloc[0] == ""
