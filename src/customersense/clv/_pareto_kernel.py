"""Per-customer Pareto/NBD likelihood terms and their weighted gradient in one compiled pass
(numba), from the ``log G`` values of the distinct (x, τ) pairs; the formulas are those of
:mod:`customersense.clv._pareto`."""

from __future__ import annotations

import numpy as np
from .._numba_cache import njit  # numba.njit, its cache in a per-user folder (not the package)

_TINY = np.finfo(np.float64).tiny


@njit(nogil=True, cache=True)
def row_terms(params, x, T, head_x, dhead_x, ix, i_tx, i_T, lg, weights, out_ll, out_surv, grad):  # pragma: no cover
    """Fill ``out_ll`` (log likelihood) and ``out_surv`` (log survival term) per row; when
    ``lg`` has 5 rows (``log G`` and its derivatives in r, alpha, s, beta), add the weighted
    gradient of the log-likelihood to ``grad``. ``head_x[ix]`` is ``log Γ(r+x) - log Γ(r)``
    and ``dhead_x[ix]`` its derivative in r."""
    r, alpha, s, beta = params[0], params[1], params[2], params[3]
    with_grad = lg.shape[0] == 5
    la, lb, ls = np.log(alpha), np.log(beta), np.log(s)
    for i in range(x.size):
        xi, ti, p, q = x[i], T[i], i_tx[i], i_T[i]
        la_t, lb_t = np.log(alpha + ti), np.log(beta + ti)
        k = r + s + xi
        e1 = -(r + xi) * la_t - s * lb_t
        lc = ls - np.log(k)
        e2 = lc + lg[0, p]
        e3 = lc + lg[0, q]
        m = max(e1, e2)
        inner = np.exp(e1 - m) + np.exp(e2 - m) - np.exp(e3 - m)
        bracket = m + np.log(max(inner, _TINY))
        head = head_x[ix[i]] + r * la + s * lb
        out_ll[i] = head + bracket
        out_surv[i] = head + e1
        if with_grad:
            # d bracket = w1 d e1 + w2 d e2 - w3 d e3, w_i = exp(e_i - bracket).
            w1, w2, w3 = np.exp(e1 - bracket), np.exp(e2 - bracket), np.exp(e3 - bracket)
            dlc = w2 - w3
            wt = weights[i]
            grad[0] += wt * (dhead_x[ix[i]] + la - w1 * la_t - dlc / k + w2 * lg[1, p] - w3 * lg[1, q])
            grad[1] += wt * (r / alpha - w1 * (r + xi) / (alpha + ti) + w2 * lg[2, p] - w3 * lg[2, q])
            grad[2] += wt * (lb - w1 * lb_t + dlc * (1.0 / s - 1.0 / k) + w2 * lg[3, p] - w3 * lg[3, q])
            grad[3] += wt * (s / beta - w1 * s / (beta + ti) + w2 * lg[4, p] - w3 * lg[4, q])
