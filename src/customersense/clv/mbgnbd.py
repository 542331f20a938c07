"""MBG/NBD: the modified BG/NBD model (Batislam, Denizel & Filiztekin 2007, "Empirical validation
and comparison of models for customer base analysis", IJRM 24(3)), in the form of lifetimes'
``ModifiedBetaGeoFitter``.

As BG/NBD, purchases while alive are Poisson with a gamma(r, alpha) rate and the customer drops
out with probability p ~ beta(a, b) at a purchase; unlike BG/NBD the dropout can also happen
right after the first purchase (time 0), so a customer without repeat purchases need not be
alive. For x repeat purchases, the last at t_x, observed until T::

    L = B(a, b+x+1)/B(a, b) · Γ(r+x) α^r / Γ(r) · [ (α+T)^-(r+x) + a/(b+x) (α+t_x)^-(r+x) ]

(alive at T: survived x + 1 dropout chances, E[(1-p)^(x+1)] = B(a, b+x+1)/B(a, b); dropped
after the last purchase: E[p (1-p)^x] = a/(b+x) · B(a, b+x+1)/B(a, b)). Hence
``P(alive) = 1 / (1 + a/(b+x) ((α+T)/(α+t_x))^(r+x))``, and given alive p ~ beta(a, b+x+1),
λ ~ gamma(r+x, α+T), which gives the conditional expectation of BG/NBD with b -> b + 1.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, expit, gammaln, hyp2f1

from ._base import check_frt, wsum
from .models import _alive, _BetaGeoFamily, _finite, per_distinct

__all__ = ["ModifiedBetaGeoFitter"]


class ModifiedBetaGeoFitter(_BetaGeoFamily):
    """MBG/NBD model: Poisson purchases (gamma(r, alpha) rates), dropout with probability
    p ~ beta(a, b) right after the first purchase and after each repeat purchase.

    ``penalizer_coef``: lifetimes' L2 penalty (alpha in units of the longest customer age).
    Fitted attributes: ``params_`` (dict r, alpha, a, b), ``standard_errors_``,
    ``identifiability_``, ``log_likelihood_``, ``converged_``, ``max_gradient_``, ``n_customers_``
    (see :class:`customersense.clv._base.MLEFitter`).
    """

    _model_name = "MBG/NBD"

    @staticmethod
    def _parts(params, data):
        r, alpha, a, b = params
        x, tx, t, ux, ix = data
        head = (gammaln(r + ux) - gammaln(r) + gammaln(b + ux + 1) - gammaln(a + b + ux + 1))[ix]
        head = head + r * np.log(alpha) + gammaln(a + b) - gammaln(b)
        alive = -(r + x) * np.log(alpha + t)
        dead = np.log(a) - np.log(b + x) - (r + x) * np.log(alpha + tx)
        mix = np.logaddexp(alive, dead)
        return head + mix, np.exp(dead - mix)

    def _loglik_grad(self, params, data, weights):
        r, alpha, a, b = params
        x, tx, t, ux, ix = data
        ll, om = self._parts(params, data)
        d_r = (
            (digamma(r + ux) - digamma(r))[ix] + np.log(alpha)
            - (1 - om) * np.log(alpha + t) - om * np.log(alpha + tx)
        )
        d_alpha = r / alpha - (r + x) * ((1 - om) / (alpha + t) + om / (alpha + tx))
        psi_abx = digamma(a + b + ux + 1)[ix]
        d_a = digamma(a + b) - psi_abx + om / a
        d_b = digamma(b + ux + 1)[ix] - psi_abx - digamma(b) + digamma(a + b) - om / (b + x)
        grad = np.array([wsum(weights, g) for g in (d_r, d_alpha, d_a, d_b)])
        return float(wsum(weights, ll)), grad

    def probability_alive(self, frequency, recency, T) -> np.ndarray:
        """P(customer still active at T | x, t_x, T) = 1 / (1 + a/(b+x) ((α+T)/(α+t_x))^(r+x))."""
        r, alpha, a, b = self._check_fitted()
        x, tx, t = check_frt(frequency, recency, T)
        log_odds = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + t) - np.log(alpha + tx))
        return expit(-log_odds)  # 1 / (1 + e^log_odds), without overflow

    def expected_purchases(self, t, frequency, recency, T, p_alive=None) -> np.ndarray:
        """E[purchases in (T, T + t] | x, t_x, T]
        = (a+b+x)/(a-1) [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; z)] P(alive),
        z = t/(α+T+t) (lifetimes' form; Wagner & Hoppe 2008).

        ``t`` may be an array shaped (k, 1): rows of a (k, n) result. ``p_alive``:
        :meth:`probability_alive` of these customers when already computed.
        """
        r, alpha, a, b = self._check_fitted()
        x, tx, tt = check_frt(frequency, recency, T)
        t = np.asarray(t, dtype=float)
        # Euler: (1-z)^(r+x) 2F1(r+x, b+x+1; a+b+x; z) = (1-z)^(a-1) 2F1(a+b-r, a-1; a+b+x; z)
        f = per_distinct(x, tt, t, lambda xu, tu: (1 - (z := t / (alpha + tu + t))) ** (a - 1)
                         * hyp2f1(a + b - r, a - 1, a + b + xu, z))
        out = (a + b + x) / (a - 1) * (1 - f) * _alive(self, p_alive, x, tx, tt)
        return _finite(out, "MBG/NBD expected_purchases")

    def expected_purchases_population(self, t) -> np.ndarray:
        """E[X(t)] = b/(a-1) [1 - (α/(α+t))^r 2F1(r, b+1; a+b; t/(α+t))] (the new customer may
        drop out right after the first purchase, with probability E[p])."""
        r, alpha, a, b = self._check_fitted()
        t = np.asarray(t, dtype=float)
        z = t / (alpha + t)
        f = (1 - z) ** r * hyp2f1(r, b + 1, a + b, z)
        return _finite(b / (a - 1) * (1 - f), "MBG/NBD expected_purchases_population")
