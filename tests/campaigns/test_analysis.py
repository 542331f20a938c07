"""Uplift statistics on planted experiments: coverage, error rate after Holm, CUPED, the ratio check.

The 400 repetitions run at once: the statistics work along the last axis of (reps x customers).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from customersense.campaigns import analysis as A

REPS = 400


def _planted(rng, reps, n_t, n_c, uplift, rho_weight=1.0):
    """Pre-period spend x (gamma) and window revenue y = w x + noise (+ uplift when treated)."""
    x_t, x_c = rng.gamma(2.0, 30.0, (reps, n_t)), rng.gamma(2.0, 30.0, (reps, n_c))
    y_t = rho_weight * x_t + rng.gamma(2.0, 15.0, (reps, n_t)) + uplift
    y_c = rho_weight * x_c + rng.gamma(2.0, 15.0, (reps, n_c))
    return y_t, y_c, x_t, x_c


def test_welch_matches_scipy_on_one_sample():
    rng = np.random.default_rng(1)
    y_t, y_c = rng.normal(10, 3, 40), rng.normal(9, 5, 55)
    got = A.welch(y_t, y_c)
    ref = stats.ttest_ind(y_t, y_c, equal_var=False)
    assert got["p_value"] == pytest.approx(ref.pvalue, rel=1e-10)
    ci = ref.confidence_interval(0.95)
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_cuped_theta_by_hand():
    y = np.array([1.0, 3.0, 5.0, 7.0])
    x = np.array([0.0, 1.0, 2.0, 4.0])
    # x mean 1.75; cov sum = (-1.75)(-3) + (-0.75)(-1) + (0.25)(1) + (2.25)(3) = 13; var sum = 8.75
    assert A.cuped_theta(y, x) == pytest.approx(13 / 8.75)
    assert A.cuped_theta(y, np.ones(4)) == 0.0


@pytest.mark.parametrize("method", ["raw", "cuped"])
def test_95_percent_intervals_cover_the_planted_uplift(method):
    rng = np.random.default_rng(2024)
    y_t, y_c, x_t, x_c = _planted(rng, REPS, 300, 300, uplift=4.0)
    out = A.welch(y_t, y_c) if method == "raw" else A.cuped(y_t, y_c, x_t, x_c)
    covered = ((out["ci_low"] <= 4.0) & (4.0 <= out["ci_high"])).mean()
    assert 0.93 <= covered <= 0.97, covered


def test_cuped_shrinks_the_interval_when_pre_period_predicts():
    rng = np.random.default_rng(5)
    y_t, y_c, x_t, x_c = _planted(rng, REPS, 300, 300, uplift=4.0)
    raw, adj = A.welch(y_t, y_c), A.cuped(y_t, y_c, x_t, x_c)
    width_raw = (raw["ci_high"] - raw["ci_low"]).mean()
    width_adj = (adj["ci_high"] - adj["ci_low"]).mean()
    # var(y) = 1800 + 450, residual var 450: the width shrinks by sqrt(450 / 2250) = 0.447
    assert width_adj / width_raw == pytest.approx(np.sqrt(450 / 2250), abs=0.03)
    assert adj["theta"].mean() == pytest.approx(1.0, abs=0.02)


def test_holm_by_hand_and_null_segments_at_most_the_nominal_rate():
    assert A.holm(np.array([0.01, 0.04, 0.03, 0.005])) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert np.isnan(A.holm(np.array([0.01, np.nan]))[1]) and A.holm(np.array([0.01, np.nan]))[0] == 0.01
    rng = np.random.default_rng(11)
    uplifts = [0.0, 0.0, 0.0, 0.0, 8.0, 12.0]           # four null segments, two with an effect
    p = np.column_stack([A.cuped(*_planted(rng, REPS, 250, 250, u))["p_value"] for u in uplifts])
    adjusted = A.holm(p)
    family_wise = (adjusted[:, :4] < 0.05).any(axis=1).mean()
    assert family_wise <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / REPS), family_wise
    assert (adjusted[:, 4:] < 0.05).mean() > 0.9           # the real effects are still found


def test_sample_ratio_mismatch():
    chi, p = A.srm(5500, 4500, 0.5)
    assert chi == pytest.approx(2 * 500 ** 2 / 5000) and p < 1e-20
    assert A.srm(5000, 5000, 0.5) == (0.0, 1.0)
    assert A.srm(5040, 4960, 0.5)[1] > A.SRM_ALPHA        # chi 0.64, p 0.42
    assert A.srm(3000, 7000, 0.3) == (0.0, 1.0)


def test_analyse_table_by_hand():
    frame = pd.DataFrame({
        "segment": ["a"] * 6 + ["b"] * 4,
        "group": ["treatment", "treatment", "treatment", "control", "control", "control",
                  "treatment", "treatment", "control", "control"],
        "revenue": [10.0, 0.0, 20.0, 0.0, 5.0, 1.0, 4.0, 6.0, 2.0, 2.0 + 1e-9],
        "converted": [True, False, True, False, True, True, True, True, True, True],
        "pre_revenue": [0.0] * 10,
    })
    out = A.analyse(frame, 0.5, cost_per_contact=1.0, margin=0.5, has_pre_period=True).set_index("segment")
    assert list(out.index) == ["a", "b", "all"]
    assert out.loc["a", "uplift"] == pytest.approx(10.0 - 2.0)          # pre-period constant: theta 0
    assert out.loc["a", "conversion_uplift"] == pytest.approx(2 / 3 - 2 / 3)
    assert out.loc["b", "conversion_uplift"] == 0.0 and out.loc["a", "conversion_treatment"] == pytest.approx(2 / 3)
    assert out.loc["a", "incremental_revenue"] == pytest.approx(8.0 * 3)
    assert out.loc["a", "roi"] == pytest.approx((24 * 0.5 - 3) / 3)
    assert out.loc["all", "uplift"] == pytest.approx(0.6 * 8.0 + 0.4 * (5.0 - 2.0 - 0.5e-9))
    assert out.loc["all", "n_treatment"] == 5 and out.loc["all", "n_control"] == 5
    ref = stats.ttest_ind([10.0, 0.0, 20.0], [0.0, 5.0, 1.0], equal_var=False).pvalue
    assert out.loc["a", "p_value"] == pytest.approx(ref)
    p_a, p_b = out.loc["a", "p_value"], out.loc["b", "p_value"]
    lo, hi = sorted([p_a, p_b])
    holm = {min(p_a, p_b): min(1, 2 * lo), max(p_a, p_b): min(1, max(2 * lo, hi))}
    assert out.loc["a", "p_value_holm"] == pytest.approx(holm[p_a])
    assert out.loc["b", "p_value_holm"] == pytest.approx(holm[p_b])
    assert not out["srm_mismatch"].any()


def test_analyse_flags_an_unbalanced_assignment_only():
    rng = np.random.default_rng(4)

    def frame(n_t, n_c):
        n = n_t + n_c
        return pd.DataFrame({"segment": "s", "group": ["treatment"] * n_t + ["control"] * n_c,
                             "revenue": rng.gamma(2.0, 10.0, n), "converted": rng.random(n) < 0.2,
                             "pre_revenue": rng.gamma(2.0, 10.0, n)})

    unbalanced = A.analyse(frame(5500, 4500)).set_index("segment")
    balanced = A.analyse(frame(5000, 5000)).set_index("segment")
    assert unbalanced.loc["s", "srm_mismatch"] and unbalanced.loc["all", "srm_mismatch"]
    assert unbalanced.loc["s", "srm_chi2"] == pytest.approx(100.0)
    assert not balanced["srm_mismatch"].any()


@pytest.mark.parametrize("method", ["raw", "cuped"])
def test_relative_intervals_cover_the_planted_relative_uplift(method):
    # E[y_c] = E[x] + E[noise] = 60 + 30 = 90: the planted relative uplift is 4 / 90 (CUPED's
    # adjusted control mean has the same expectation)
    rng = np.random.default_rng(77)
    y_t, y_c, x_t, x_c = _planted(rng, REPS, 300, 300, uplift=4.0)
    rel = A.relative(A.welch(y_t, y_c) if method == "raw" else A.cuped(y_t, y_c, x_t, x_c))
    covered = ((rel["ci_low"] <= 4 / 90) & (4 / 90 <= rel["ci_high"])).mean()
    assert 0.93 <= covered <= 0.97, covered


def test_relative_by_hand():
    rel = A.relative(A.welch(np.array([12.0, 8.0, 10.0]), np.array([4.0, 6.0])))
    # m_t 10, m_c 5: r = 1; var_t/n = 4/3, var_c/n = 2/2 = 1; var r = (4/3)/25 + 100 * 1 / 625 = 0.21333
    assert rel["relative"] == pytest.approx(1.0)
    assert rel["ci_high"] - rel["relative"] == pytest.approx(1.959964 * np.sqrt(4 / 75 + 0.16), rel=1e-6)


def test_a_segment_with_one_customer_in_an_arm_is_reported_empty_and_left_out_of_all():
    frame = pd.DataFrame({
        "segment": ["big"] * 6 + ["tiny"],
        "group": ["treatment"] * 3 + ["control"] * 3 + ["treatment"],
        "revenue": [3.0, 5.0, 7.0, 1.0, 2.0, 3.0, 100.0],
        "converted": [True] * 7, "pre_revenue": [0.0] * 7,
    })
    out = A.analyse(frame).set_index("segment")
    assert np.isnan(out.loc["tiny", "uplift"]) and out.loc["tiny", "n_treatment"] == 1
    assert out.loc["all", "uplift"] == pytest.approx(5.0 - 2.0)       # "big" alone, weight 1
    assert out.loc["all", "n_treatment"] == 4 and out.loc["big", "p_value_holm"] == pytest.approx(out.loc["big", "p_value"])
