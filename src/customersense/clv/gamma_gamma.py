"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV: Using Iso-Value Curves for
Customer Base Analysis", JMR 42(4); Fader & Hardie's note "The Gamma-Gamma Model of Monetary
Value", 2013), fitted by (optionally penalised) maximum likelihood."""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

from ..errors import DataError
from ._base import ConvergenceError, MLEFitter, as_float_array, wsum

__all__ = ["GammaGammaFitter"]


class GammaGammaFitter(MLEFitter):
    """Gamma-Gamma spend model: transaction values ~ gamma(p, nu), nu ~ gamma(q, gamma).

    ``fit(frequency, monetary_value)`` uses only customers with frequency > 0;
    ``monetary_value`` is their mean repeat-transaction value (must be > 0). Fitted
    attributes: ``params_`` (dict p, q, gamma), ``standard_errors_``, ``identifiability_``,
    ``log_likelihood_``, ``converged_``, ``max_gradient_``, ``n_customers_`` (see
    :class:`customersense.clv._base.MLEFitter`). ``penalizer_coef``: lifetimes' L2 penalty on
    (p, q, gamma) as they are (gamma in money units).
    """

    _param_names = ("p", "q", "gamma")
    _model_name = "Gamma-Gamma"

    def __init__(self, max_iter: int = 1000, penalizer_coef: float = 0.0) -> None:
        self.max_iter = max_iter
        self.penalizer_coef = penalizer_coef

    @staticmethod
    def _inputs(frequency, monetary_value) -> tuple[np.ndarray, np.ndarray]:
        x = as_float_array("frequency", frequency)
        m = as_float_array("monetary_value", monetary_value)
        if x.size != m.size:
            raise DataError(f"frequency and monetary_value differ in length ({x.size}, {m.size})")
        if np.any(x < 0):
            raise DataError("frequency must be >= 0")
        return x, m

    def fit(self, frequency, monetary_value) -> "GammaGammaFitter":
        """Fit on the customers with frequency > 0; returns self."""
        x, m = self._inputs(frequency, monetary_value)
        keep = x > 0
        x, m = x[keep], m[keep]
        if x.size < 2:
            raise ConvergenceError("Gamma-Gamma cannot be fitted: fewer than 2 customers with a repeat purchase")
        if np.any(m <= 0):
            raise DataError(
                f"Gamma-Gamma needs monetary_value > 0 for repeat customers; {int((m <= 0).sum())} have <= 0 "
                "(drop zero-value purchases or those customers)"
            )
        if np.ptp(m) == 0:
            raise ConvergenceError("Gamma-Gamma cannot be fitted: every repeat customer has the same monetary_value")
        self.n_repeat_customers_ = int(x.size)
        # The gamma functions depend on the customer only through x: evaluated once per distinct x.
        ux, ix = np.unique(x, return_inverse=True)
        data = (x, m, np.log(x), np.log(m), ux, ix)
        mean = float(m.mean())
        starts = [np.array([p, q, mean * (q - 1) / p]) for p, q in ((1.0, 2.0), (5.0, 3.0), (0.5, 1.5))]
        self._maximise(data, np.ones(x.size), starts)
        return self

    def _loglik(self, params, data, weights):
        return self._loglik_grad(params, data, weights)[0]

    def _loglik_grad(self, params, data, weights):
        p, q, g = params
        x, m, lx, lm, ux, ix = data
        px = p * x
        pu = p * ux  # the same products as px, once per distinct x (so the same values, bit for bit)
        gmx, pxq = g + m * x, px + q
        lgm = np.log(gmx)
        ll = (gammaln(pu + q) - gammaln(pu) - gammaln(q))[ix] + q * np.log(g) + px * lx + (px - 1) * lm - pxq * lgm
        psi_u = digamma(pu + q)
        d_p = x * ((psi_u - digamma(pu))[ix] + lx + lm - lgm)
        d_q = (psi_u - digamma(q))[ix] + np.log(g) - lgm
        d_g = q / g - pxq / gmx
        return float(wsum(weights, ll)), np.array([wsum(weights, d) for d in (d_p, d_q, d_g)])

    def expected_average_spend(self, frequency, monetary_value) -> np.ndarray:
        """E[mean transaction value | x, m_x] = (p (gamma + x m_x)) / (p x + q - 1).

        For x = 0 this is the population mean ``p gamma / (q - 1)`` (needs q > 1).
        """
        p, q, g = self._check_fitted()
        x, m = self._inputs(frequency, monetary_value)
        if q <= 1:
            raise DataError(f"Gamma-Gamma q={q:.3g} <= 1: the mean spend is infinite; the spend model does not fit")
        m = np.where(x > 0, m, 0.0)
        return p * (g + x * m) / (p * x + q - 1)
