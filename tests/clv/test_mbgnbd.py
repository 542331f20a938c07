"""MBG/NBD and the penalised fits against lifetimes 0.11.3 (an independent implementation: autograd
gradients, BFGS on time scaled to max T = 1), on the CDNOW summary (weeks, calibration to
1997-09-30; fixtures in conftest.py).

lifetimes is a test-only dependency (pyproject dev extras). Its fits stop at a gradient
tolerance of 1e-7, so the parameters are compared at 1e-3 relative (the brief's tolerance; they
agree to about 1e-5); formulas evaluated at the same parameters are compared at 1e-9.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from customersense.clv import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter, ParetoNBDFitter
from customersense.clv._base import central_gradient, group_rows

lifetimes = pytest.importorskip("lifetimes", reason="lifetimes is a dev extra (pip install -e '.[dev]')")

REL = 1e-3


def _lt_fit(cls, *args, penalizer_coef=0.0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(penalizer_coef=penalizer_coef).fit(*args)


def _frt(summary):
    return summary["frequency"], summary["recency"], summary["T"]


@pytest.fixture(scope="module")
def mbg(summary):
    return ModifiedBetaGeoFitter().fit(*_frt(summary))


def _assert_params_close(ours: dict, theirs: pd.Series, rename=None):
    for name, value in ours.items():
        ref = float(theirs[(rename or {}).get(name, name)])
        assert value == pytest.approx(ref, rel=REL), (name, value, ref)


def test_mbgnbd_parameters_match_lifetimes(summary, mbg):
    ref = _lt_fit(lifetimes.ModifiedBetaGeoFitter, *_frt(summary))
    _assert_params_close(mbg.params_, ref.params_)
    # lifetimes 0.11.3 on this summary: r 0.52484, alpha 6.1831, a 0.89136, b 1.6140.
    assert mbg.params_["r"] == pytest.approx(0.52484, rel=1e-4)
    assert mbg.converged_ and set(mbg.identifiability_.values()) == {"identified"}
    assert all(np.isfinite(v) and v > 0 for v in mbg.standard_errors_.values())


def test_mbgnbd_log_likelihood_equals_lifetimes_formula(summary, mbg):
    """lifetimes' own negative log-likelihood (per customer) at our estimate, on unscaled time."""
    f, r, T = (np.asarray(c, dtype=float) for c in _frt(summary))
    theta = np.log([mbg.params_[k] for k in ("r", "alpha", "a", "b")])
    nll = lifetimes.ModifiedBetaGeoFitter._negative_log_likelihood(theta, f, r, T, np.ones(f.size), 0.0)
    assert mbg.log_likelihood_ == pytest.approx(-nll * f.size, rel=1e-10)


def test_mbgnbd_predictions_equal_lifetimes_formulas(summary, mbg):
    ref = lifetimes.ModifiedBetaGeoFitter()
    ref.params_ = pd.Series(mbg.params_)
    cols = _frt(summary)
    pa = mbg.probability_alive(*cols)
    assert pa == pytest.approx(ref.conditional_probability_alive(*cols), rel=1e-10)
    for t in (1.0, 13.0, 39.0, 104.0):
        ours = mbg.expected_purchases(t, *cols, p_alive=pa)
        theirs = ref.conditional_expected_number_of_purchases_up_to_time(t, *cols)
        assert ours == pytest.approx(np.asarray(theirs), rel=1e-9, abs=1e-12), t
    ts = np.array([0.5, 10.0, 39.0, 78.0])
    assert mbg.expected_purchases_population(ts) == pytest.approx(ref.expected_number_of_purchases_up_to_time(ts),
                                                                  rel=1e-10)
    # one-time buyers are not all alive in MBG/NBD (they are in BG/NBD)
    assert np.all(pa[summary["frequency"].to_numpy() == 0] < 1)


def test_mbgnbd_analytic_gradient_matches_central_differences(summary, mbg):
    (x, tx, t), w = group_rows(*(np.asarray(c, dtype=float) for c in _frt(summary)))
    data = mbg._prepare(x, tx, t)
    for params in (np.array([0.52, 6.2, 0.89, 1.6]), np.array([2.0, 0.5, 3.0, 0.3]), np.array([0.1, 40.0, 0.2, 9.0])):
        _, grad = mbg._loglik_grad(params, data, w)
        num = central_gradient(lambda p: mbg._loglik(p, data, w), params, h=1e-6 * params.min())
        assert grad == pytest.approx(num, rel=1e-5, abs=1e-4), params


def test_penalised_bgnbd_and_mbgnbd_match_lifetimes(summary):
    for ours_cls, their_cls in ((BetaGeoFitter, lifetimes.BetaGeoFitter),
                                (ModifiedBetaGeoFitter, lifetimes.ModifiedBetaGeoFitter)):
        ours = ours_cls(penalizer_coef=0.1).fit(*_frt(summary))
        ref = _lt_fit(their_cls, *_frt(summary), penalizer_coef=0.1)
        _assert_params_close(ours.params_, ref.params_)
    # the penalty shrinks: lifetimes' penalised BG/NBD on CDNOW, a 0.1287 and b 0.2671 (unpenalised 0.793, 2.426)
    assert ours_cls is ModifiedBetaGeoFitter
    bg = BetaGeoFitter(penalizer_coef=0.1).fit(*_frt(summary))
    assert bg.params_["a"] == pytest.approx(0.12866, rel=1e-3) and bg.params_["b"] == pytest.approx(0.26713, rel=1e-3)


def test_penalised_gamma_gamma_matches_lifetimes(summary):
    repeat = summary["frequency"] > 0
    f, m = summary["frequency"][repeat], summary["monetary_value"][repeat]
    ours = GammaGammaFitter(penalizer_coef=0.1).fit(f, m)
    ref = _lt_fit(lifetimes.GammaGammaFitter, f, m, penalizer_coef=0.1)
    _assert_params_close(ours.params_, ref.params_, rename={"gamma": "v"})


def test_penalised_pareto_nbd_matches_lifetimes(summary):
    """lifetimes' Pareto/NBD objective is the *total* negative log-likelihood plus the penalty
    (it divides by the mean weight, 1, not the number of customers), so its penalizer c equals
    ours at c / n. Its Nelder-Mead search is run here to a tight tolerance."""
    n = len(summary)
    ours = ParetoNBDFitter(penalizer_coef=0.1 / n).fit(*_frt(summary))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lifetimes.ParetoNBDFitter(penalizer_coef=0.1).fit(*_frt(summary), maxiter=20000, xtol=1e-10, ftol=1e-12)
    _assert_params_close(ours.params_, ref.params_)


def test_mbgnbd_recovers_planted_parameters():
    """100,000 customers simulated from MBG/NBD (ages in whole days, weeks as the unit): the
    estimates lie within 4 standard errors of the planted truth, and BG/NBD, which cannot let
    one-time buyers drop out, fits this data worse."""
    from ._simulate import simulate_beta_geo

    truth = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}
    rng = np.random.default_rng(7)
    T = rng.integers(7, 1096, 100_000) / 7.0
    x, tx, _ = simulate_beta_geo(rng, truth, T, 13.0, modified=True)
    tx = np.floor(tx * 7) / 7
    m = ModifiedBetaGeoFitter().fit(x, tx, T)
    assert m.converged_ and set(m.identifiability_.values()) == {"identified"}
    for name, value in truth.items():
        assert abs(m.params_[name] - value) < 4 * m.standard_errors_[name], (name, m.params_[name], value)
    assert BetaGeoFitter().fit(x, tx, T).log_likelihood_ < m.log_likelihood_ - 10


def test_mbgnbd_lifetime_value_equals_period_by_period_sum(summary, mbg):
    """customer_lifetime_value evaluates all period ends in one (k, 1)-shaped call; here each
    period's purchases are computed on their own and discounted by hand."""
    from customersense.clv import customer_lifetime_value

    spend = GammaGammaFitter().fit(summary["frequency"][summary["frequency"] > 0],
                                   summary["monetary_value"][summary["frequency"] > 0])
    clv = customer_lifetime_value(mbg, spend, summary, horizon=6, discount_rate=0.02)
    cols = _frt(summary)
    step = 30.0 / 7.0
    cum = [mbg.expected_purchases(i * step, *cols) for i in range(7)]
    by_hand = sum((cum[i] - cum[i - 1]) / 1.02**i for i in range(1, 7))
    by_hand = by_hand * spend.expected_average_spend(summary["frequency"], summary["monetary_value"])
    assert clv.to_numpy() == pytest.approx(by_hand, rel=1e-12)
