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
is replaced by ``scipy.special.hyp2f1``. The difference ``G(t_x) - G(T)`` is taken in the
final log-sum-exp next to the (positive) survival term, so its rounding error stays of the
order of machine precision relative to the likelihood.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, hyp2f1

from ._base import factorize_rows, wsum

SERIES_MAX_Z = 0.9
_TOL = 1e-17


def log_series(b: np.ndarray, c: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``log 2F1(1, b; c; z) = log Σ_n (b)_n/(c)_n z^n`` for ``0 <= z < 1``, ``c > b > 0``."""
    b, c, z = np.broadcast_arrays(np.asarray(b, float), np.asarray(c, float), np.asarray(z, float))
    out = np.empty(z.shape)
    fast = z <= SERIES_MAX_Z
    if np.any(~fast):
        out[~fast] = np.log(hyp2f1(1.0, b[~fast], c[~fast], z[~fast]))
    if np.any(fast):
        bb, cc, zz = b[fast], c[fast], z[fast]
        total = np.ones(zz.shape)
        term = np.ones(zz.shape)
        n = 0
        while True:
            term *= (bb + n) / (cc + n) * zz
            total += term
            n += 1
            if np.all(term <= _TOL * total) or n > 2000:
                break
        out[fast] = np.log(total)
    return out


def log_g(r: float, s: float, alpha: float, beta: float, x: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """``log G(τ)`` of the module docstring for arrays of (x, τ) pairs."""
    la = np.log(alpha + tau)
    lb = np.log(beta + tau)
    c = r + s + x + 1.0
    if alpha >= beta:
        z = (alpha - beta) / (alpha + tau)
        return -(r + x) * la - s * lb + log_series(r + x, c, z)
    z = (beta - alpha) / (beta + tau)
    return -(r + x - 1.0) * la - (s + 1.0) * lb + log_series(np.full(x.shape, s + 1.0), c, z)


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
    r, alpha, s, beta = params
    x, T = d.x, d.T
    lg = log_g(r, s, alpha, beta, d.pair_x, d.pair_tau)
    k = r + s + x
    e1 = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    lc = np.log(s) - np.log(k)
    e2 = lc + lg[d.i_tx]
    e3 = lc + lg[d.i_T]
    m = np.maximum(e1, e2)
    inner = np.exp(e1 - m) + np.exp(e2 - m) - np.exp(e3 - m)
    bracket = m + np.log(np.maximum(inner, np.finfo(float).tiny))
    head = (gammaln(r + d.ux) - gammaln(r))[d.ix] + r * np.log(alpha) + s * np.log(beta)
    return head + bracket, head + e1


def loglik(params: np.ndarray, d: ParetoData, weights: np.ndarray) -> float:
    """Total weighted Pareto/NBD log-likelihood."""
    ll, _ = log_terms(params, d)
    return float(wsum(weights, ll))
