"""probability_no_purchase = P(no purchase in (T, T+t] | x, t_x, T) of BG/NBD, MBG/NBD and
Pareto/NBD: hand-computed cases, the Pareto/NBD quadrature against scipy's adaptive quadrature,
and Monte Carlo simulation from each model (seeded; tolerances from the simulation's standard
error)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from customersense.clv import BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter, _pareto
from customersense.errors import DataError

from ._simulate import simulate_beta_geo, simulate_pareto

BG_PARAMS = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}       # CDNOW, weeks
MBG_PARAMS = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}
PARETO_PARAMS = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}


def fitted(cls, params):
    """A model with given parameters (as if fitted)."""
    model = cls()
    model.params_ = dict(params)
    return model


# --- hand-computed cases -------------------------------------------------------------------------

def test_hand_cases():
    # BG/NBD, x = 0 (alive for sure): ((α+T)/(α+T+t))^r = (2/4)^1.
    bg = fitted(BetaGeoFitter, {"r": 1.0, "alpha": 1.0, "a": 1.5, "b": 2.0})
    assert bg.probability_no_purchase(2.0, [0], [0.0], [1.0])[0] == pytest.approx(0.5, rel=1e-14)
    # BG/NBD, x = 1, t_x = 1, T = 3, r = α = 1, a = 1, b = 2: P(alive) = 1/(1 + 1/2 (4/2)^2) = 1/3;
    # P(none | alive) = (4/6)^2 = 4/9, so P(none) = 1 - 1/3 (1 - 4/9) = 22/27.
    bg.params_ = {"r": 1.0, "alpha": 1.0, "a": 1.0, "b": 2.0}
    assert bg.probability_no_purchase(2.0, [1], [1.0], [3.0])[0] == pytest.approx(22 / 27, rel=1e-14)
    # MBG/NBD, x = 0, T = 1, r = α = a = b = 1: P(alive) = 1/(1 + 1 (2/1)^1) = 1/3, so 1 - 1/3 (1 - 1/2) = 5/6.
    mbg = fitted(ModifiedBetaGeoFitter, {"r": 1.0, "alpha": 1.0, "a": 1.0, "b": 1.0})
    assert mbg.probability_no_purchase(2.0, [0], [0.0], [1.0])[0] == pytest.approx(5 / 6, rel=1e-14)
    # Pareto/NBD, α = β = 1, s = 1, r = 1, x = 0, T = 1, t = 2: P(some | alive)
    # = ∫_0^2 1/2 (2/(2+u))^3 du = (1/2)(1 - (2/4)^2) = 3/8; with P(alive) 0.4: 1 - 0.4 · 3/8 = 0.85.
    par = fitted(ParetoNBDFitter, {"r": 1.0, "alpha": 1.0, "s": 1.0, "beta": 1.0})
    assert par.probability_no_purchase(2.0, [0], [0.0], [1.0], p_alive=np.array([1.0]))[0] == pytest.approx(0.625,
                                                                                                          rel=1e-12)
    assert par.probability_no_purchase(2.0, [0], [0.0], [1.0], p_alive=np.array([0.4]))[0] == pytest.approx(0.85,
                                                                                                          rel=1e-12)
    # t = 0: no purchase for certain, for every model.
    for model in (bg, mbg, par):
        assert model.probability_no_purchase(0.0, [0, 3], [0.0, 2.0], [1.0, 5.0]) == pytest.approx([1.0, 1.0],
                                                                                                  abs=1e-15)


def test_pareto_with_no_dropout_is_the_poisson_gamma_closed_form():
    # s -> 0: nobody drops out after T, P(some | alive) = 1 - ((α+T)/(α+T+t))^(r+x) exactly.
    x, T, t = np.array([0.0, 1.0, 7.0, 30.0]), np.array([5.0, 20.0, 39.0, 39.0]), 13.0
    got = _pareto.purchase_probability_alive(np.array([0.5, 10.0, 1e-12, 12.0]), x, T, t)
    assert got == pytest.approx(1 - ((10 + T) / (10 + T + t)) ** (0.5 + x), rel=1e-10)


def test_pareto_quadrature_matches_adaptive_quadrature():
    rng = np.random.default_rng(11)
    cases = ((0.553, 10.578, 0.606, 11.669), (0.3, 100.0, 2.0, 1.5), (2.0, 1.0, 5.0, 200.0),
             (0.5, 1.0, 0.01, 1000.0), (5.0, 0.1, 3.0, 0.1), (0.1, 50.0, 0.3, 0.5))
    for r, alpha, s, beta in cases:
        x = rng.integers(0, 60, 15).astype(float)
        T = rng.uniform(0.5, 300.0, 15)
        t = rng.choice([0.5, 5.0, 13.0, 39.0, 90.0, 1000.0], 15)
        got = _pareto.purchase_probability_alive(np.array([r, alpha, s, beta]), x, T, t)
        for i in range(x.size):
            a_t, b_t, n = alpha + T[i], beta + T[i], r + x[i]
            f = lambda u: n / a_t * (a_t / (a_t + u)) ** (n + 1) * (b_t / (b_t + u)) ** s  # noqa: E731
            ref = integrate.quad(f, 0, t[i], epsabs=1e-14, epsrel=1e-12, limit=500, points=[min(a_t, t[i] / 2)])[0]
            assert got[i] == pytest.approx(ref, abs=1e-8), (r, alpha, s, beta, x[i], T[i], t[i])


def test_horizons_as_a_column_and_given_p_alive():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 8, 50).astype(float)
    T = rng.uniform(5, 39, 50)
    tx = np.where(x > 0, rng.uniform(0, 1, 50) * T, 0.0)
    ts = np.array([1.0, 13.0, 52.0])
    for cls, params in ((BetaGeoFitter, BG_PARAMS), (ModifiedBetaGeoFitter, MBG_PARAMS),
                        (ParetoNBDFitter, PARETO_PARAMS)):
        model = fitted(cls, params)
        rows = model.probability_no_purchase(ts[:, None], x, tx, T)
        assert rows.shape == (3, 50)
        pa = model.probability_alive(x, tx, T)
        for k, t in enumerate(ts):
            assert np.array_equal(rows[k], model.probability_no_purchase(t, x, tx, T, p_alive=pa))
        assert np.all(np.diff(rows, axis=0) <= 0)  # longer horizon, less likely to stay silent
        assert np.all((rows >= 1 - pa) & (rows <= 1))
        with pytest.raises(DataError, match="horizon"):
            model.probability_no_purchase(-1.0, x, tx, T)


# --- Monte Carlo --------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls, params", [(BetaGeoFitter, BG_PARAMS), (ModifiedBetaGeoFitter, MBG_PARAMS),
                                         (ParetoNBDFitter, PARETO_PARAMS)])
def test_probability_no_purchase_matches_simulation(cls, params):
    """Simulated from the model with known parameters, the customers' predicted P(no purchase) must
    average to the simulated share without a purchase in every group of history (by x) and every
    decile of the prediction: E[1{none} | history] is the prediction, whatever the grouping."""
    rng = np.random.default_rng(15)
    n, horizon = 200_000, 13.0
    T = rng.integers(7, 273, n) / 7.0  # CDNOW-like ages in weeks
    if cls is ParetoNBDFitter:
        x, tx, none = simulate_pareto(rng, params, T, horizon)
    else:
        x, tx, none = simulate_beta_geo(rng, params, T, horizon, modified=cls is ModifiedBetaGeoFitter)
    pred = fitted(cls, params).probability_no_purchase(horizon, x, tx, T)
    deciles = np.searchsorted(np.quantile(pred, np.linspace(0.1, 0.9, 9)), pred)
    groups = [x == 0, x == 1, x == 2, (x >= 3) & (x <= 5), x >= 6] + [deciles == d for d in range(10)]
    for g in groups:
        se = np.sqrt(np.sum(pred[g] * (1 - pred[g]))) / g.sum()
        assert abs(none[g].mean() - pred[g].mean()) < 4 * se, (cls.__name__, g.sum(), none[g].mean(), pred[g].mean())
    assert abs(none.mean() - pred.mean()) < 4 * np.sqrt(np.sum(pred * (1 - pred))) / n
