"""The speed paths of the CLV models give the very numbers of the plain paths: standard errors
added after a fit made without them (the penalty search's discarded fits skip their Hessian),
expected purchases computed once per distinct (x, T) row; and the penalty search on a seeded
sample above SEARCH_SAMPLE customers (within a stated tolerance of the search on every customer)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import hyp2f1

from customersense.clv import BetaGeoFitter, ParetoNBDFitter
from customersense.clv import candidates
from customersense.clv.candidates import fit_spend
from customersense.clv.mbgnbd import ModifiedBetaGeoFitter

from ._simulate import simulate_beta_geo


def _bgnbd_customers(n=3000, seed=11):
    """BG/NBD customers (CDNOW-like parameters, weeks): x, t_x, T."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(10, 78, n)
    x, tx, _ = simulate_beta_geo(rng, {"r": 0.25, "alpha": 4.4, "a": 0.8, "b": 2.4}, T, 13.0, modified=False)
    return x, tx, T


@pytest.mark.parametrize("cls", [BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter])
@pytest.mark.parametrize("penalizer", [0.0, 0.01])
def test_standard_errors_added_later_equal_those_of_the_fit(cls, penalizer):
    x, tx, T = _bgnbd_customers()
    plain = cls(penalizer_coef=penalizer).fit(x, tx, T)
    later = cls(penalizer_coef=penalizer).fit(x, tx, T, standard_errors=False)
    assert all(np.isnan(v) for v in later.standard_errors_.values())
    assert set(later.identifiability_.values()) == {"not computed"}
    assert later.params_ == plain.params_ and later.log_likelihood_ == plain.log_likelihood_
    later.add_standard_errors(x, tx, T)
    assert later.standard_errors_ == plain.standard_errors_
    assert later.identifiability_ == plain.identifiability_
    assert all(np.isfinite(v) and v > 0 for v in plain.standard_errors_.values())


@pytest.mark.parametrize("cls", [BetaGeoFitter, ModifiedBetaGeoFitter])
def test_expected_purchases_per_distinct_row_equal_the_formula_on_every_row(cls):
    """Customers on a day grid (many share (x, T)); horizons: a scalar, a column of period ends,
    one per customer. Reference: the closed form (Euler-transformed 2F1) evaluated on every row."""
    x, tx, T = _bgnbd_customers()
    tx, T = np.round(tx * 7) / 7, np.round(T * 7) / 7
    tx = np.minimum(tx, T)
    model = cls().fit(x, tx, T)
    r, alpha, a, b = (model.params_[k] for k in ("r", "alpha", "a", "b"))
    shift = -1.0 if cls is BetaGeoFitter else 0.0   # BG/NBD: a+b+x-1; MBG/NBD: a+b+x
    pa = model.probability_alive(x, tx, T)
    rng = np.random.default_rng(2)
    for t in (13.0, np.array([[4.3], [8.6], [12.9]]), rng.uniform(1, 20, x.size)):
        z = t / (alpha + T + t)
        f = (1 - z) ** (a - 1) * hyp2f1(a + b + shift - r, a - 1, a + b + x + shift, z)
        ref = (a + b + x + shift) / (a - 1) * (1 - f) * pa
        got = model.expected_purchases(t, x, tx, T)
        assert got.shape == ref.shape
        assert np.allclose(got, ref, rtol=1e-13, atol=0)


def _candidate_inputs(n=12_000, seed=21):
    rng = np.random.default_rng(seed)
    T = rng.integers(10, 78, n).astype(float)
    x, tx, churned = simulate_beta_geo(rng, {"r": 0.25, "alpha": 4.4, "a": 0.8, "b": 2.4}, T, 13.0, modified=False)
    m = np.where(x > 0, rng.gamma(6.0, 5.0, n), 0.0)
    summary = pd.DataFrame({"customer_id": np.arange(n).astype(str), "frequency": x, "recency": tx, "T": T,
                            "monetary_value": m})
    return summary, fit_spend(summary), churned.astype(float)


def test_penalty_search_on_a_sample_above_the_limit(monkeypatch):
    """Above SEARCH_SAMPLE customers the penalties are tried on a seeded sample: the record says
    so, the kept penalty is fitted on every customer (the very fit of the plain path with that
    penalty), and its Brier score on every customer is within 0.001 of the best penalty's."""
    summary, spend, churned = _candidate_inputs()
    exact = candidates.btyd_candidate("bgnbd", summary, spend, 13.0, churned, candidates.PENALIZERS)
    assert "search_sample" not in exact.fit                     # 12,000 customers: below the limit
    monkeypatch.setattr(candidates, "SEARCH_SAMPLE", 4_000)
    fast = candidates.btyd_candidate("bgnbd", summary, spend, 13.0, churned, candidates.PENALIZERS, random_state=7)
    assert fast.fit["search_sample"]["customers"] == 4_000 and fast.fit["search_sample"]["of"] == 12_000
    pen = fast.fit["penalizer"]
    plain = candidates.fit_btyd("bgnbd", summary, pen)
    assert fast.models[0].params_ == plain.params_ and fast.models[0].standard_errors_ == plain.standard_errors_
    ref = candidates.btyd_predict(plain, spend, summary, 13.0)
    assert np.array_equal(fast.prediction.churn, ref["churn"])
    full_brier = {s["penalizer"]: s["brier"] for s in exact.fit["penalizer_search"]}
    assert full_brier[pen] <= min(full_brier.values()) + 1e-3
    again = candidates.btyd_candidate("bgnbd", summary, spend, 13.0, churned, candidates.PENALIZERS, random_state=7)
    assert again.fit == fast.fit                                   # seeded: the same sample, the same record


@pytest.mark.parametrize("cls", [BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter])
def test_lifetime_values_per_distinct_cell_equal_the_per_customer_sum(cls):
    """lifetime_values computes the discounted purchases once per distinct (x, t_x, T) cell: the
    very numbers of the formula summed customer by customer (customers on a day grid share cells)."""
    from customersense.clv.models import lifetime_values

    x, tx, T = _bgnbd_customers()
    tx, T = np.round(tx * 7) / 7, np.round(T * 7) / 7
    tx = np.minimum(tx, T)
    m = np.where(x > 0, np.random.default_rng(4).gamma(6.0, 5.0, x.size), 0.0)
    spend = fit_spend(pd.DataFrame({"frequency": x, "recency": tx, "T": T, "monetary_value": m}))
    model = cls().fit(x, tx, T)
    pa = model.probability_alive(x, tx, T)
    ends = np.array([i * (30.0 / 7.0) for i in range(1, 13)])
    cums = model.expected_purchases(ends[:, None], x, tx, T, p_alive=pa)   # every customer, every month end
    total, prev = np.zeros(x.size), np.zeros(x.size)
    for i, cum in enumerate(cums, start=1):
        total += (cum - prev) / 1.01**i
        prev = cum
    reference = 0.5 * spend.expected_average_spend(x, m) * total
    got = lifetime_values(model, spend, x, tx, T, m, horizon=12, discount_rate=0.01, margin=0.5, p_alive=pa)
    # Two computation paths (a cell's values, or each customer's): the same elementwise formulas,
    # so equal to rounding; stated tolerance 1e-12 relative, for any machine's vector math.
    np.testing.assert_allclose(got, reference, rtol=1e-12, atol=0)
    np.testing.assert_allclose(lifetime_values(model, spend, x, tx, T, m, margin=0.5), reference, rtol=1e-12, atol=0)
    assert np.unique(np.stack([x, tx, T]), axis=1).shape[1] < x.size  # cells shared: the grouped path ran


@pytest.mark.parametrize("cls", [BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter])
def test_predictions_per_distinct_cell_equal_those_of_every_customer(cls):
    """btyd_predict computes P(alive), churn and purchases once per distinct (x, t_x, T) cell:
    the very numbers of the model's methods called on every customer."""
    x, tx, T = _bgnbd_customers()
    tx, T = np.round(tx * 7) / 7, np.round(T * 7) / 7
    tx = np.minimum(tx, T)
    m = np.where(x > 0, np.random.default_rng(5).gamma(6.0, 5.0, x.size), 0.0)
    summary = pd.DataFrame({"frequency": x, "recency": tx, "T": T, "monetary_value": m})
    spend = fit_spend(summary)
    model = cls().fit(x, tx, T)
    got = candidates.btyd_predict(model, spend, summary, 13.0)
    pa = model.probability_alive(x, tx, T)
    purchases = model.expected_purchases(13.0, x, tx, T, p_alive=pa)
    close = {"rtol": 1e-12, "atol": 0}  # two computation paths: equal to rounding, on any machine
    np.testing.assert_allclose(got["p_alive"], pa, **close)
    np.testing.assert_allclose(got["churn"], model.probability_no_purchase(13.0, x, tx, T, p_alive=pa), **close)
    np.testing.assert_allclose(got["purchases"], purchases, **close)
    np.testing.assert_allclose(got["spend"], purchases * spend.expected_average_spend(x, m), **close)
