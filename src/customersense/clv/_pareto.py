"""Numerically stable Pareto/NBD likelihood pieces (Fader & Hardie, "A Note on Deriving the
Pareto/NBD Model and Related Expressions", 2005).

The likelihood of a customer with ``x`` repeat purchases, last at ``t_x``, observed until
``T`` is::

    L = Γ(r+x) α^r β^s / Γ(r) * [ (α+T)^-(r+x) (β+T)^-s + s/(r+s+x) * (G(t_x) - G(T)) ]

with ``G(τ) = 2F1(r+s+x, s+1; r+s+x+1; (α-β)/(α+τ)) / (α+τ)^(r+s+x)``, i.e.
``s β^s G(τ) / (r+s+x) = s β^s ∫_τ^∞ (α+u)^-(r+x) (β+u)^-(s+1) du``, a positive decreasing
function of ``τ``.

``G`` is evaluated in log space from a series with positive terms whose ratio is below
``z < 1`` (so the truncation error is bounded by the last term times ``z / (1 - z)``):

- ``α >= β`` (Euler transformation), ``z = (α-β)/(α+τ)``::

      log G = -(r+x) log(α+τ) - s log(β+τ) + log S(r+x, r+s+x+1, z)

- ``α < β`` (Pfaff transformation), ``z = (β-α)/(β+τ)``::

      log G = -(r+x-1) log(α+τ) - (s+1) log(β+τ) + log S(s+1, r+s+x+1, z)

where ``S(b, c, z) = Σ_n (b)_n / (c)_n z^n = 2F1(1, b; c; z)`` and ``c > b``. Where ``z``
exceeds :data:`SERIES_MAX_Z` (parameters more than 10x apart) the slowly converging series
is replaced by Gauss's continued fraction (:mod:`customersense.clv._hyp2f1`, which also gives
the derivatives in ``b``, ``c`` and ``z`` for the analytic gradient of :func:`loglik_grad`). The difference ``G(t_x) - G(T)`` is taken in the
final log-sum-exp next to the (positive) survival term, so its rounding error stays of the
order of machine precision relative to the likelihood.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

from ._base import factorize_rows, wsum
from ._hyp2f1 import gamma_terms, log_s_grad

SERIES_MAX_Z = 0.9


def log_series(b: np.ndarray, c: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``log 2F1(1, b; c; z) = log Σ_n (b)_n/(c)_n z^n`` for ``0 <= z < 1``, ``c > b > 0``."""
    return log_series_grad(b, c, z)[:, 0]


def log_series_grad(b: np.ndarray, c: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Columns ``log S``, ``d log S/db``, ``d log S/dc``, ``d log S/dz`` of :func:`log_series`."""
    b, c, z = (np.ascontiguousarray(v, dtype=float).ravel() for v in np.broadcast_arrays(b, c, z))
    return log_s_grad(b, c, z, SERIES_MAX_Z, *gamma_terms(b, c), np.empty((z.size, 4)))


def log_g(
    r: float, s: float, alpha: float, beta: float, x: np.ndarray, tau: np.ndarray, grad: bool = False
) -> np.ndarray:
    """``log G(τ)`` of the module docstring for arrays of (x, τ) pairs; with ``grad``, an array
    of shape (5, n): ``log G`` and its derivatives in r, alpha, s, beta."""
    la = np.log(alpha + tau)
    lb = np.log(beta + tau)
    c = r + s + x + 1.0
    if alpha >= beta:
        z = (alpha - beta) / (alpha + tau)
        ls = log_series_grad(r + x, c, z)
        value = -(r + x) * la - s * lb + ls[:, 0]
        if not grad:
            return value
        d_r = -la + ls[:, 1] + ls[:, 2]
        d_s = -lb + ls[:, 2]
        d_alpha = -(r + x) / (alpha + tau) + ls[:, 3] * (beta + tau) / (alpha + tau) ** 2
        d_beta = -s / (beta + tau) - ls[:, 3] / (alpha + tau)
        return np.stack([value, d_r, d_alpha, d_s, d_beta])
    z = (beta - alpha) / (beta + tau)
    ls = log_series_grad(s + 1.0, c, z)
    value = -(r + x - 1.0) * la - (s + 1.0) * lb + ls[:, 0]
    if not grad:
        return value
    d_r = -la + ls[:, 2]
    d_s = -lb + ls[:, 1] + ls[:, 2]
    d_alpha = -(r + x - 1.0) / (alpha + tau) - ls[:, 3] / (beta + tau)
    d_beta = -(s + 1.0) / (beta + tau) + ls[:, 3] * (alpha + tau) / (beta + tau) ** 2
    return np.stack([value, d_r, d_alpha, d_s, d_beta])


class ParetoData:
    """Pre-indexed customer data for repeated likelihood evaluations.

    ``x, t_x, T`` are the rows (often distinct rows with weights); the (x, t_x) and (x, T)
    pairs at which ``G`` is needed are de-duplicated once here.
    """

    def __init__(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
        self.x, self.t_x, self.T = x, t_x, T
        px, ptau = np.concatenate([x, x]), np.concatenate([t_x, T])
        inv, rep = factorize_rows(px, ptau)
        self.pair_x, self.pair_tau = px[rep], ptau[rep]
        self.i_tx, self.i_T = inv[: x.size], inv[x.size:]
        self.ux, self.ix = np.unique(x, return_inverse=True)


def log_terms(params: np.ndarray, d: ParetoData) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the log of the likelihood and the log of its survival term (both with prefactor)."""
    ll, surv, _ = _log_terms(params, d, grad=False)
    return ll, surv


def _log_terms(params: np.ndarray, d: ParetoData, grad: bool):
    r, alpha, s, beta = params
    x, T = d.x, d.T
    lg = log_g(r, s, alpha, beta, d.pair_x, d.pair_tau, grad=grad)
    lg_tx, lg_T = (lg[..., d.i_tx], lg[..., d.i_T])
    k = r + s + x
    e1 = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    lc = np.log(s) - np.log(k)
    e2 = lc + (lg_tx[0] if grad else lg_tx)
    e3 = lc + (lg_T[0] if grad else lg_T)
    m = np.maximum(e1, e2)
    inner = np.exp(e1 - m) + np.exp(e2 - m) - np.exp(e3 - m)
    bracket = m + np.log(np.maximum(inner, np.finfo(float).tiny))
    head = (gammaln(r + d.ux) - gammaln(r))[d.ix] + r * np.log(alpha) + s * np.log(beta)
    if not grad:
        return head + bracket, head + e1, None
    # d bracket = w1 d e1 + w2 d e2 - w3 d e3, w_i = exp(e_i - bracket).
    w1, w2, w3 = (np.exp(e - bracket) for e in (e1, e2, e3))
    dg = w2 * lg_tx[1:] - w3 * lg_T[1:]           # rows r, alpha, s, beta
    dlc = w2 - w3
    g_r = (digamma(r + d.ux) - digamma(r))[d.ix] + np.log(alpha) - w1 * np.log(alpha + T) - dlc / k + dg[0]
    g_alpha = r / alpha - w1 * (r + x) / (alpha + T) + dg[1]
    g_s = np.log(beta) - w1 * np.log(beta + T) + dlc * (1.0 / s - 1.0 / k) + dg[2]
    g_beta = s / beta - w1 * s / (beta + T) + dg[3]
    return head + bracket, head + e1, (g_r, g_alpha, g_s, g_beta)


def loglik(params: np.ndarray, d: ParetoData, weights: np.ndarray) -> float:
    """Total weighted Pareto/NBD log-likelihood."""
    ll, _ = log_terms(params, d)
    return float(wsum(weights, ll))


def loglik_grad(params: np.ndarray, d: ParetoData, weights: np.ndarray) -> tuple[float, np.ndarray]:
    """Total weighted log-likelihood and its gradient in (r, alpha, s, beta)."""
    ll, _, g = _log_terms(params, d, grad=True)
    return float(wsum(weights, ll)), np.array([wsum(weights, gi) for gi in g])
