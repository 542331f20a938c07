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

SERIES_MAX_Z = 0.9


def log_series(b: np.ndarray, c: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``log 2F1(1, b; c; z) = log Σ_n (b)_n/(c)_n z^n`` for ``0 <= z < 1``, ``c > b > 0``."""
    return log_series_grad(b, c, z)[:, 0]


def log_series_grad(b: np.ndarray, c: np.ndarray, z: np.ndarray,
                    groups: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Columns ``log S``, ``d log S/db``, ``d log S/dc``, ``d log S/dz`` of :func:`log_series`.

    The gamma-function terms of the connection formula are computed only for the rows with
    ``z > SERIES_MAX_Z`` (the only ones that may use it); ``groups = (codes, rep)``, when given,
    says that rows with one code share ``(b, c)`` (``rep``: one row per code), so the terms are
    computed once per code. Either way every row gets the same values as without them."""
    from ._hyp2f1 import gamma_terms, log_s_grad  # numba: imported when a model is used

    b, c, z = (np.ascontiguousarray(v, dtype=float).ravel() for v in np.broadcast_arrays(b, c, z))
    far = z > SERIES_MAX_Z
    terms = [np.zeros(z.size) for _ in range(5)]
    if far.any():
        if groups is None:
            parts = gamma_terms(b[far], c[far])
        else:
            codes, rep = groups
            parts = [v[codes[far]] for v in gamma_terms(b[rep], c[rep])]
        for whole, part in zip(terms, parts):
            whole[far] = part
    return log_s_grad(b, c, z, SERIES_MAX_Z, *terms, np.empty((z.size, 4)))


def log_g(
    r: float, s: float, alpha: float, beta: float, x: np.ndarray, tau: np.ndarray, grad: bool = False,
    x_groups: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """``log G(τ)`` of the module docstring for arrays of (x, τ) pairs; with ``grad``, an array
    of shape (5, n): ``log G`` and its derivatives in r, alpha, s, beta. ``x_groups``: codes of
    the distinct ``x`` and one row of each (see :func:`log_series_grad`)."""
    la = np.log(alpha + tau)
    lb = np.log(beta + tau)
    c = r + s + x + 1.0
    if alpha >= beta:
        z = (alpha - beta) / (alpha + tau)
        ls = log_series_grad(r + x, c, z, x_groups)
        value = -(r + x) * la - s * lb + ls[:, 0]
        if not grad:
            return value
        d_r = -la + ls[:, 1] + ls[:, 2]
        d_s = -lb + ls[:, 2]
        d_alpha = -(r + x) / (alpha + tau) + ls[:, 3] * (beta + tau) / (alpha + tau) ** 2
        d_beta = -s / (beta + tau) - ls[:, 3] / (alpha + tau)
        return np.stack([value, d_r, d_alpha, d_s, d_beta])
    z = (beta - alpha) / (beta + tau)
    ls = log_series_grad(s + 1.0, c, z, x_groups)
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
        _, rep_x, codes_x = np.unique(self.pair_x, return_index=True, return_inverse=True)
        self.pair_x_groups = (codes_x, rep_x)
        self.ux, self.ix = np.unique(x, return_inverse=True)


def log_terms(params: np.ndarray, d: ParetoData) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the log of the likelihood and the log of its survival term (both with prefactor)."""
    ll, surv, _ = _log_terms(params, d, grad=False)
    return ll, surv


def _log_terms(params: np.ndarray, d: ParetoData, grad: bool, weights: np.ndarray | None = None):
    from ._pareto_kernel import row_terms  # numba: imported when a model is used

    r, alpha, s, beta = params
    lg = np.atleast_2d(log_g(r, s, alpha, beta, d.pair_x, d.pair_tau, grad=grad, x_groups=d.pair_x_groups))
    head_x = gammaln(r + d.ux) - gammaln(r)
    dhead_x = digamma(r + d.ux) - digamma(r) if grad else head_x
    ll, surv, g = np.empty(d.x.size), np.empty(d.x.size), np.zeros(4)
    w = np.empty(0) if weights is None else weights
    row_terms(np.asarray(params, dtype=float), d.x, d.T, head_x, dhead_x, d.ix, d.i_tx, d.i_T, lg, w, ll, surv, g)
    return ll, surv, g


def alive(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """P(alive at T) per row: the survival term over the likelihood."""
    ll, surv = log_terms(params, ParetoData(x, t_x, T))
    return np.minimum(np.exp(surv - ll), 1.0)


def loglik(params: np.ndarray, d: ParetoData, weights: np.ndarray) -> float:
    """Total weighted Pareto/NBD log-likelihood."""
    ll, _ = log_terms(params, d)
    return float(wsum(weights, ll))


def loglik_grad(params: np.ndarray, d: ParetoData, weights: np.ndarray) -> tuple[float, np.ndarray]:
    """Total weighted log-likelihood and its gradient in (r, alpha, s, beta)."""
    ll, _, g = _log_terms(params, d, grad=True, weights=np.asarray(weights, dtype=float))
    return float(wsum(weights, ll)), g


# Gauss-Legendre rule on [0, 1] in tau, mapped to w = W (1 - (1 - tau)^3) (see below).
_GL_TAU, _GL_W = np.polynomial.legendre.leggauss(48)
_GL_C = ((1.0 - _GL_TAU) / 2.0) ** 3                       # (1 - tau)^3
_GL_W = _GL_W / 2.0 * 3.0 * ((1.0 - _GL_TAU) / 2.0) ** 2   # weight times dw/dtau / W
_CHUNK = 1 << 19  # quadrature points evaluated at once (memory ~ 8 bytes each, times a few)


def purchase_probability_alive(params: np.ndarray, x: np.ndarray, T: np.ndarray, t: np.ndarray) -> np.ndarray:
    """P(some purchase in (T, T + t] | alive at T, x, T) of the Pareto/NBD model.

    ``∫_0^t (r+x)/(α+T) ((α+T)/(α+T+u))^(r+x+1) ((β+T)/(β+T+u))^s du``, written with
    ``v = log(1 + u/(α+T))`` and ``w = 1 - exp(-(r+x) v)`` as ``∫_0^W g(v(w)) dw`` with
    ``W = 1 - ((α+T)/(α+T+t))^(r+x)`` and ``g = (1 + (α+T)(e^v - 1)/(β+T))^-s`` in (0, 1]:
    a bounded, decreasing integrand (exactly ``W`` when s = 0). Near ``w = 1`` (reached when
    ``t`` is long) ``g ~ (1-w)^(s/(r+x))`` is not smooth, so ``w = W (1 - (1-τ)^3)`` and the
    integral in ``τ`` is taken by 48-point Gauss-Legendre (absolute error below 1e-9 on the
    test grid). ``x`` and ``T`` are 1-D arrays of one length n; ``t`` broadcasts against
    them (a scalar, (n,) or (k, 1) for a (k, n) result).
    """
    r, alpha, s, beta = (float(v) for v in params)
    x, T = np.asarray(x, dtype=float), np.asarray(T, dtype=float)
    t = np.asarray(t, dtype=float)
    shape = np.broadcast_shapes(t.shape, x.shape)
    n_rx = np.broadcast_to(r + x, shape).ravel()
    ratio = np.broadcast_to((alpha + T) / (beta + T), shape).ravel()
    log_rest = -n_rx * np.log1p(np.broadcast_to(t / (alpha + T), shape).ravel())  # log(1 - W)
    big_w = -np.expm1(log_rest)
    rest = np.exp(log_rest)
    out = np.empty(big_w.size)
    step = max(1, _CHUNK // _GL_C.size)
    for lo in range(0, big_w.size, step):
        sl = slice(lo, lo + step)
        # 1 - w = (1 - W) + W (1 - τ)^3, without cancellation.
        v = -np.log(rest[sl, None] + big_w[sl, None] * _GL_C) / n_rx[sl, None]
        g = np.exp(-s * np.log1p(ratio[sl, None] * np.expm1(v)))
        out[sl] = big_w[sl] * np.einsum("ij,j->i", g, _GL_W)
    return out.reshape(shape)
