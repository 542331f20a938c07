"""``log 2F1(1, b; c; z)`` and its derivatives in ``b``, ``c`` and ``z``, compiled (numba).

``S(b, c, z) = 2F1(1, b; c; z) = Σ_n (b)_n / (c)_n z^n`` for ``0 <= z < 1`` and ``c > b > 0``
(the series of the Pareto/NBD likelihood, see :mod:`customersense.clv._pareto`). Each value
is computed on its own, with its own stopping point:

- ``z <= series_max_z``: the power series, with the derivative sums accumulated in the same
  loop (``d/db (b)_n = (b)_n Σ_{k<n} 1/(b+k)``, likewise for ``c``; ``d/dz z^n = n z^(n-1)``).
  The terms are positive; the loop stops when a term is below ``1e-17`` of the sum.
- ``z > series_max_z``, ``ε = 1 - z`` small against ``1 / b`` (``b ε <= 0.5``) and ``m <= 50``
  (see :func:`use_connection`): the connection formula of
  ``2F1`` at ``z = 1`` (Abramowitz & Stegun 15.3.6), which for ``a = 1`` and
  ``m = c - b - 1`` not an integer reads::

      S = (c-1)/m · 2F1(1, b; 1-m; ε) + ε^m z^(1-c) Γ(c) Γ(-m) / Γ(b)

  (the second ``2F1`` of 15.3.6 is ``z^(1-c)`` here); its series in ``ε`` needs a few dozen
  terms however close ``z`` is to 1. Within ``1e-3`` of an integer ``m`` the two terms
  cancel, and the next rule is used.
- otherwise: Gauss's continued fraction for ``2F1(a+1, b; c+1; z) / 2F1(a, b; c; z)``
  at ``a = 0``, evaluated forwards (modified Lentz) with forward-mode derivatives of every
  convergent. Near ``z = 1`` it needs about ``15 / sqrt(1 - z)`` steps, against the series'
  ``40 / (1 - z)`` terms, and it stays accurate to about ``1e-13`` there.
"""

from __future__ import annotations

import numpy as np
from .._numba_cache import njit  # numba.njit, its cache in a per-user folder (not the package)
from scipy.special import digamma, gammaln, gammasgn

_TOL = 1e-17
_CF_TOL = 2.5e-16          # |convergent ratio - 1|: one unit in the last place
_MAX_TERMS = 5_000_000


@njit(nogil=True, cache=True)
def _sums(b, c, z):  # pragma: no cover (compiled)
    # Σ u_n, Σ u_n H_b(n), Σ u_n H_c(n), Σ n u_n for u_n = (b)_n / (c)_n z^n, H_b(n) = Σ_{k<n} 1/(b+k).
    total = 1.0
    u = 1.0
    hb = hc = 0.0
    sb = sc = sn = 0.0
    n = 0
    while n < _MAX_TERMS:
        hb += 1.0 / (b + n)
        hc += 1.0 / (c + n)
        u *= (b + n) / (c + n) * z
        n += 1
        total += u
        sb += u * hb
        sc += u * hc
        sn += u * n
        if abs(u) <= _TOL * abs(total):
            break
    return total, sb, sc, sn


@njit(nogil=True, cache=True)
def _series(b, c, z):  # pragma: no cover (compiled)
    total, sb, sc, sn = _sums(b, c, z)
    dz = sn / (z * total) if z > 0.0 else b / c
    return np.log(total), sb / total, -sc / total, dz


@njit(nogil=True, cache=True)
def _continued_fraction(b, c, z):  # pragma: no cover (compiled)
    # 2F1(1, b; c; z) = 1 / (1 + k_1 z / (1 + k_2 z / (1 + ...))) with, for d = c - 1,
    # k_{2j+1} = -(d + j)(b + j) / ((d + 2j)(d + 2j + 1)), k_{2j} = j (b - d - j) / ((d + 2j - 1)(d + 2j)).
    # Modified Lentz: f = prod delta_n, delta_n = C_n D_n; d(.) are the derivatives (b, c, z).
    tiny = 1e-300
    d = c - 1.0
    f = 1.0
    cc, icc, dd = 1.0, 1.0, 0.0
    dc_b = dc_c = dc_z = 0.0
    dd_b = dd_c = dd_z = 0.0
    lf_b = lf_c = lf_z = 0.0
    n = 1
    while n < _MAX_TERMS:
        if n % 2 == 1:
            j = (n - 1) // 2
            q1, q2 = d + 2 * j, d + 2 * j + 1
            iq = 1.0 / (q1 * q2)
            k = -(d + j) * (b + j) * iq
            k_b = -(d + j) * iq
            k_c = -(b + j) * iq - k * (q1 + q2) * iq
        else:
            j = n // 2
            q1, q2 = d + 2 * j - 1, d + 2 * j
            iq = 1.0 / (q1 * q2)
            k = j * (b - d - j) * iq
            k_b = j * iq
            k_c = -j * iq - k * (q1 + q2) * iq
        a, a_b, a_c, a_z = k * z, k_b * z, k_c * z, k
        den = 1.0 + a * dd
        den_b = a_b * dd + a * dd_b
        den_c = a_c * dd + a * dd_c
        den_z = a_z * dd + a * dd_z
        if den == 0.0:
            den = tiny
        dd = 1.0 / den
        dd2 = dd * dd
        dd_b, dd_c, dd_z = -den_b * dd2, -den_c * dd2, -den_z * dd2
        r = a * icc
        cc = 1.0 + r
        dc_b = (a_b - r * dc_b) * icc
        dc_c = (a_c - r * dc_c) * icc
        dc_z = (a_z - r * dc_z) * icc
        if cc == 0.0:
            cc = tiny
        icc = 1.0 / cc
        delta = cc * dd
        f *= delta
        # d log(delta) = dC/C + dD/D
        g_b = dc_b * icc + dd_b * den
        g_c = dc_c * icc + dd_c * den
        g_z = dc_z * icc + dd_z * den
        lf_b += g_b
        lf_c += g_c
        lf_z += g_z
        n += 1
        if (
            abs(delta - 1.0) <= _CF_TOL
            and abs(g_b) <= 1e-14 * (1.0 + abs(lf_b))
            and abs(g_c) <= 1e-14 * (1.0 + abs(lf_c))
            and abs(g_z) <= 1e-14 * (1.0 + abs(lf_z))
        ):
            break
    return -np.log(f), -lf_b, -lf_c, -lf_z


@njit(nogil=True, cache=True)
def _near_one(b, c, z, lg, sg, psi_c, psi_m, psi_b):  # pragma: no cover (compiled)
    # lg = log|Γ(c) Γ(-m) / Γ(b)|, sg its sign; psi_* the digammas of c, -m and b.
    m = c - b - 1.0
    eps = 1.0 - z
    le, lz = np.log(eps), np.log(z)
    # F1 = Σ u_n, u_n = (b)_n / (1-m)_n ε^n, where 1 - m = 2 + b - c.
    f1, hb, he, sn = _sums(b, 1.0 - m, eps)
    sb, sc, sz = hb - he, he, -sn
    big_a = (c - 1.0) / m * f1
    a_b = big_a * (1.0 / m + sb / f1)
    a_c = big_a * (1.0 / (c - 1.0) - 1.0 / m + sc / f1)
    a_z = big_a * sz / (eps * f1)
    lbb = m * le + (1.0 - c) * lz + lg
    big_b = sg * np.exp(lbb)
    b_b = big_b * (-le + psi_m - psi_b)
    b_c = big_b * (le - lz + psi_c - psi_m)
    b_z = big_b * (-m / eps + (1.0 - c) / z)
    total = big_a + big_b
    return np.log(total), (a_b + b_b) / total, (a_c + b_c) / total, (a_z + b_z) / total


@njit(nogil=True, cache=True)
def log_s_grad(b, c, z, series_max_z, lg, sg, psi_c, psi_m, psi_b, out):  # pragma: no cover (compiled)
    """out[i] = (log S, d log S/db, d log S/dc, d log S/dz) at (b[i], c[i], z[i]); the other
    arrays are the gamma-function terms of :func:`_near_one`, see :func:`gamma_terms`."""
    for i in range(z.size):
        if z[i] <= series_max_z:
            v = _series(b[i], c[i], z[i])
        elif use_connection(b[i], c[i], z[i]):
            v = _near_one(b[i], c[i], z[i], lg[i], sg[i], psi_c[i], psi_m[i], psi_b[i])
        else:
            v = _continued_fraction(b[i], c[i], z[i])
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = v
    return out


@njit(nogil=True, cache=True)
def use_connection(b, c, z):  # pragma: no cover (compiled)
    """Whether :func:`_near_one` is accurate at (b, c, z) (for z above the series range)."""
    m = c - b - 1.0
    not_integer = m < -1e-3 or abs(m - np.round(m)) >= 1e-3
    return b * (1.0 - z) <= 0.5 and m <= 50.0 and not_integer


def gamma_terms(b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, ...]:
    """``log|Γ(c) Γ(-m) / Γ(b)|``, the sign of ``Γ(-m)`` and ``ψ(c)``, ``ψ(-m)``, ``ψ(b)`` for
    ``m = c - b - 1`` (not finite where ``m`` is a whole number: those are not used)."""
    neg_m = b + 1.0 - c
    with np.errstate(all="ignore"):
        return (gammaln(c) + gammaln(neg_m) - gammaln(b), gammasgn(neg_m), digamma(c), digamma(neg_m), digamma(b))
