"""penalizer_coef: the penalised optimum satisfies its definition (stationarity checked with central
differences of the likelihood, not the analytic gradient), does not depend on the time unit, and
shrinks the parameters. (Agreement with lifetimes' penalised fits: test_mbgnbd.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from customersense.clv import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter, ParetoNBDFitter
from customersense.clv._base import central_gradient, group_rows
from customersense.errors import ConfigError

TRANSACTION_MODELS = (BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter)


def _frt(summary, per=1.0):
    return summary["frequency"], summary["recency"] * per, summary["T"] * per


@pytest.mark.parametrize("cls", TRANSACTION_MODELS)
def test_penalised_optimum_is_stationary(summary, cls):
    """d/dθ [-loglik(e^θ)/n + c Σ (e^θ / scale)²] = 0 at the estimate, θ = log params, scale = max T
    for alpha and beta, 1 otherwise."""
    pen = 0.05
    model = cls(penalizer_coef=pen).fit(*_frt(summary))
    (x, tx, t), w = group_rows(*(np.asarray(c, dtype=float) for c in _frt(summary)))
    data, n = model._prepare(x, tx, t), w.sum()
    scale = np.array([t.max() if name in ("alpha", "beta") else 1.0 for name in model._param_names])

    def objective(theta):
        p = np.exp(theta)
        return -model._loglik(p, data, w) / n + pen * np.sum((p / scale) ** 2)

    theta = np.log([model.params_[k] for k in model._param_names])
    assert np.max(np.abs(central_gradient(objective, theta, h=1e-5))) < 1e-6
    assert model.converged_


def test_penalised_gamma_gamma_is_stationary(summary):
    pen = 0.01
    repeat = summary["frequency"] > 0
    f, m = summary["frequency"][repeat].to_numpy(float), summary["monetary_value"][repeat].to_numpy(float)
    model = GammaGammaFitter(penalizer_coef=pen).fit(f, m)
    ux, ix = np.unique(f, return_inverse=True)
    data, w = (f, m, np.log(f), np.log(m), ux, ix), np.ones(f.size)

    def objective(theta):
        p = np.exp(theta)
        return -model._loglik(p, data, w) / f.size + pen * np.sum(p**2)

    theta = np.log([model.params_[k] for k in ("p", "q", "gamma")])
    assert np.max(np.abs(central_gradient(objective, theta, h=1e-5))) < 1e-6


@pytest.mark.parametrize("cls", TRANSACTION_MODELS)
def test_penalised_fit_does_not_depend_on_the_time_unit(summary, cls):
    weeks = cls(penalizer_coef=0.1).fit(*_frt(summary))
    days = cls(penalizer_coef=0.1).fit(*_frt(summary, per=7.0))
    for name, value in weeks.params_.items():
        factor = 7.0 if name in ("alpha", "beta") else 1.0
        assert days.params_[name] == pytest.approx(value * factor, rel=1e-4), name


def test_penalty_shrinks_and_zero_is_the_plain_fit(summary):
    plain = BetaGeoFitter().fit(*_frt(summary))
    zero = BetaGeoFitter(penalizer_coef=0.0).fit(*_frt(summary))
    assert zero.params_ == plain.params_
    t_max = summary["T"].max()
    norms, lls = [], []
    for pen in (0.0, 0.01, 0.1, 1.0):
        model = BetaGeoFitter(penalizer_coef=pen).fit(*_frt(summary))
        p = model.params_
        norms.append(p["r"] ** 2 + (p["alpha"] / t_max) ** 2 + p["a"] ** 2 + p["b"] ** 2)
        lls.append(model.log_likelihood_)
    assert np.all(np.diff(norms) < 0) and np.all(np.diff(lls) < 0)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "0.1"])
def test_invalid_penalizer_is_a_config_error(summary, bad):
    for cls in TRANSACTION_MODELS:
        with pytest.raises(ConfigError, match="penalizer_coef"):
            cls(penalizer_coef=bad).fit(*_frt(summary))
    with pytest.raises(ConfigError, match="penalizer_coef"):
        GammaGammaFitter(penalizer_coef=bad).fit([1, 2, 3], [5.0, 6.0, 7.0])
