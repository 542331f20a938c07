"""Honest fit status: ``converged_``, ``standard_errors_`` and ``identifiability_`` on a planted
weakly identified case (no dropout at all, so the dropout parameters run off), and the rules on
hand-made Hessians."""

from __future__ import annotations

import numpy as np
import pytest

from customersense.clv import BetaGeoFitter, ParetoNBDFitter
from customersense.clv._base import identifiability, log_variances

TRUE_R, TRUE_ALPHA = 0.8, 5.0


def simulate_no_dropout(seed: int, n: int = 2000):
    """NBD customers that never drop out: gamma(0.8, 5) weekly rates, ages 10..52 weeks in days."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(TRUE_R, 1 / TRUE_ALPHA, n)
    T = rng.integers(70, 365, n) / 7.0
    x = rng.poisson(lam * T).astype(float)
    tx = np.where(x > 0, np.floor(T * 7 * rng.beta(np.maximum(x, 1), 1)) / 7, 0.0)
    return x, tx, T


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_no_dropout_leaves_the_dropout_parameters_unidentified(seed):
    x, tx, T = simulate_no_dropout(seed)
    for cls, dropout in ((ParetoNBDFitter, ("s", "beta")), (BetaGeoFitter, ("a", "b"))):
        m = cls().fit(x, tx, T)  # kept, never raised
        ident, se = m.identifiability_, m.standard_errors_
        # the purchase process is identified, and its planted truth recovered
        assert ident["r"] == ident["alpha"] == "identified", (cls.__name__, ident)
        assert abs(m.params_["r"] - TRUE_R) < 4 * se["r"] and abs(m.params_["alpha"] - TRUE_ALPHA) < 4 * se["alpha"]
        # the dropout process is not: never reported identified, and the scale parameter never
        assert all(ident[p] != "identified" for p in dropout), (cls.__name__, seed, m.params_, se)
        assert ident[dropout[1]] == "not identified"
        for p in dropout:  # NaN, or a relative error of at least 0.5
            assert not se[p] / m.params_[p] < 0.5
        assert all(np.isfinite(v) and v > 0 for v in m.params_.values())
        assert m.converged_ == (m.convergence_message_.startswith("CONVERGENCE") and m.max_gradient_ < 1e-4)
        # predictions stay usable: almost everybody is alive
        assert np.median(m.probability_alive(x, tx, T)) > 0.9


def test_no_dropout_pareto_says_not_identified_for_s():
    # With no dropout the truth is on the boundary (s/beta -> 0); in some samples noise makes a
    # small interior optimum (seed 1: s = 0.003, relative error 1.35, "weakly identified"), so the
    # test above asserts "never identified" over seeds and this one the typical verdict (seeds 2-8).
    x, tx, T = simulate_no_dropout(3)
    m = ParetoNBDFitter().fit(x, tx, T)
    assert m.identifiability_ == {"r": "identified", "alpha": "identified",
                                  "s": "not identified", "beta": "not identified"}
    assert np.isnan(m.standard_errors_["s"]) and np.isnan(m.standard_errors_["beta"])


def test_identifiability_rule():
    assert identifiability(0.49, False) == "identified"
    assert identifiability(0.5, False) == "weakly identified"
    assert identifiability(1.99, False) == "weakly identified"
    assert identifiability(2.0, False) == "not identified"
    assert identifiability(float("nan"), False) == "not identified"
    assert identifiability(0.01, True) == "not identified"


def test_log_variances_hand_cases():
    # positive definite: the diagonal of the inverse
    h = np.array([[4.0, 1.0], [1.0, 2.0]])
    assert log_variances(h, np.array([False, False])) == pytest.approx([2 / 7, 4 / 7])
    # a flat direction shared by parameters 1 and 2: they get NaN, parameter 0 its own block
    h = np.array([[2.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.0, 1.0, 1.0]])
    v = log_variances(h, np.zeros(3, dtype=bool))
    assert v[0] == pytest.approx(0.5) and np.isnan(v[1]) and np.isnan(v[2])
    # a parameter at its bound: NaN; the others from the whole (positive definite) Hessian
    h = np.array([[4.0, 1.0], [1.0, 2.0]])
    v = log_variances(h, np.array([False, True]))
    assert v[0] == pytest.approx(2 / 7) and np.isnan(v[1])
    # not positive definite because of the parameter at the bound: the rest from their block
    h = np.array([[4.0, 1.0], [1.0, -1.0]])
    v = log_variances(h, np.array([False, True]))
    assert v[0] == pytest.approx(1 / 4) and np.isnan(v[1])
