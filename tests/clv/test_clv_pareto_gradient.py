"""Pareto/NBD: the compiled 2F1(1, b; c; z) with derivatives, and the analytic gradient of the
log-likelihood, against scipy's hyp2f1 and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import hyp2f1

from customersense.clv import ParetoNBDFitter, _hyp2f1, _pareto
from customersense.clv._base import central_gradient


def _grid():
    rng = np.random.default_rng(3)
    b = rng.uniform(0.2, 6.0, 300)
    c = b + rng.choice([0.05, 0.4, 1.3, 3.7, 25.0], 300) * rng.uniform(0.5, 1.5, 300)
    z = np.concatenate([rng.uniform(0, 0.9, 100), 1 - 10 ** rng.uniform(-6, -1, 200)])
    return b, c, z


def test_log_series_equals_scipy_hyp2f1():
    b, c, z = _grid()
    ref = np.log(hyp2f1(1.0, b, c, z))
    got = _pareto.log_series(b, c, z)
    assert np.allclose(got, ref, rtol=1e-12, atol=1e-12)


def test_log_series_derivatives_match_central_differences():
    b, c, z = _grid()
    out = _pareto.log_series_grad(b, c, z)
    f = lambda bb, cc, zz: np.log(hyp2f1(1.0, bb, cc, zz))  # noqa: E731
    hb, hc = 1e-6 * b, 1e-6 * c
    num = [
        (f(b + hb, c, z) - f(b - hb, c, z)) / (2 * hb),
        (f(b, c + hc, z) - f(b, c - hc, z)) / (2 * hc),
        b / c * hyp2f1(2.0, b + 1, c + 1, z) / hyp2f1(1.0, b, c, z),  # d/dz, exact
    ]
    for j, ref in enumerate(num, start=1):
        assert np.allclose(out[:, j], ref, rtol=1e-5, atol=1e-7), j


def test_log_series_grouped_gamma_terms_equal_per_row_ones():
    """The gamma terms computed once per (b, c) group (as the likelihood does, per x) give the
    very same values as computing them for every row: rows share 6 (b, c) pairs, z on both
    sides of the series limit."""
    rng = np.random.default_rng(8)
    b_u = rng.uniform(0.3, 4.0, 6)
    c_u = b_u + np.array([0.05, 0.4, 1.3, 3.7, 25.0, 2.0])
    codes = rng.integers(0, 6, 500)
    rep = np.array([np.flatnonzero(codes == k)[0] for k in range(6)])
    z = np.concatenate([rng.uniform(0, 0.9, 200), 1 - 10 ** rng.uniform(-6, -1, 300)])
    b, c = b_u[codes], c_u[codes]
    grouped = _pareto.log_series_grad(b, c, z, groups=(codes, rep))
    from customersense.clv._hyp2f1 import gamma_terms, log_s_grad
    every_row = log_s_grad(b, c, z, _pareto.SERIES_MAX_Z, *gamma_terms(b, c), np.empty((z.size, 4)))
    assert np.array_equal(grouped, every_row)
    assert np.array_equal(_pareto.log_series_grad(b, c, z), every_row)


def test_three_evaluations_agree_where_they_overlap():
    """Series, connection formula at z = 1 and continued fraction give the same values."""
    rng = np.random.default_rng(4)
    for _ in range(40):
        b = rng.uniform(0.3, 4.0)
        c = b + rng.uniform(0.1, 8.0)
        z = rng.uniform(0.9, 0.97)
        series = np.array(_hyp2f1._series(b, c, z))
        fraction = np.array(_hyp2f1._continued_fraction(b, c, z))
        assert np.allclose(fraction, series, rtol=1e-11, atol=1e-12)
        if _hyp2f1.use_connection(b, c, z):
            terms = [float(t[0]) for t in _hyp2f1.gamma_terms(np.array([b]), np.array([c]))]
            near_one = np.array(_hyp2f1._near_one(b, c, z, *terms))
            assert np.allclose(near_one, series, rtol=1e-11, atol=1e-12)


def _customers(n=400, seed=5):
    rng = np.random.default_rng(seed)
    T = rng.uniform(2, 60, n).round(1)
    x = rng.poisson(rng.gamma(0.6, 0.5, n) * T * rng.uniform(0.2, 1, n)).astype(float)
    tx = np.where(x > 0, np.minimum(T, rng.uniform(0.1, 1.0, n) * T).round(1), 0.0)
    tx[:5] = T[:5] * (x[:5] > 0)  # last purchase on the last day
    return x, tx, T


@pytest.mark.parametrize("params", [
    (0.55, 10.6, 0.6, 11.7),        # alpha < beta, small z (series)
    (0.55, 20.0, 0.6, 3.0),         # alpha > beta (Euler)
    (0.5, 1.0, 3.0, 200.0),         # z close to 1 (connection formula)
    (0.3, 100.0, 2.0, 1.5),         # alpha >> beta, z close to 1
    (0.5, 30.0, 1.0, 300.0),        # z just below 0.9 at tau = 0
    (0.5, 30.0, 1.0, 330.0),        # z just above 0.9
    (1.0, 40.0, 1e-5, 4e5),         # r = 1 (m whole for x = 0: continued fraction), s -> 0
    (2.5, 5.0, 7.0, 5.0),           # alpha == beta
])
def test_loglik_gradient_matches_central_differences(params):
    x, tx, T = _customers()
    data = _pareto.ParetoData(x, tx, T)
    w = np.random.default_rng(6).uniform(0.5, 2.0, x.size)
    p = np.array(params)
    value, grad = _pareto.loglik_grad(p, data, w)
    # The per-row value is computed by the same expressions whether the gradient is asked or not;
    # rel=1e-14 (about 45 ulps of the total) is a margin in case a branch of log G takes another
    # route to its value when derivatives are requested.
    assert value == pytest.approx(_pareto.loglik(p, data, w), rel=1e-14)
    num = central_gradient(lambda th: _pareto.loglik(np.exp(th), data, w), np.log(p), h=1e-5)
    assert np.allclose(grad * p, num, rtol=1e-6, atol=1e-5 * max(1.0, np.abs(num).max()))


class _NumericalGradientPareto(ParetoNBDFitter):
    _loglik_grad = None


def test_fit_with_analytic_gradient_equals_numerical_gradient_fit():
    rng = np.random.default_rng(7)
    n = 3000
    lam, mu = rng.gamma(0.55, 1 / 10.6, n), rng.gamma(0.6, 1 / 11.7, n)
    T = rng.uniform(27, 39, n).round(1)
    alive_until = np.minimum(rng.exponential(1 / mu), T)
    x = rng.poisson(lam * alive_until).astype(float)
    tx = np.where(x > 0, alive_until * rng.beta(np.maximum(x, 1), 1), 0.0).round(1)
    fast = ParetoNBDFitter().fit(x, tx, T)
    slow = _NumericalGradientPareto().fit(x, tx, T)
    assert fast.log_likelihood_ == pytest.approx(slow.log_likelihood_, abs=1e-6)
    for k, v in slow.params_.items():
        assert fast.params_[k] == pytest.approx(v, rel=1e-4), k
        assert fast.standard_errors_[k] == pytest.approx(slow.standard_errors_[k], rel=1e-3), k
