"""Maximum-likelihood machinery shared by the CLV models.

Each model supplies a weighted log-likelihood of its natural (positive) parameters; this
module optimises it (optionally penalised) in log space with L-BFGS-B, reports whether the
optimiser converged, and derives standard errors and an identifiability verdict per
parameter from a numerical Hessian at the optimum (see :class:`MLEFitter`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import optimize
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from threadpoolctl import threadpool_limits

from ..errors import ConfigError, DataError

# Bounds of the log-parameters: exp(+-18) covers 1.5e-8 .. 6.6e7 in any time unit.
LOG_BOUND = 18.0
# An optimum: max |projected gradient| of the per-customer objective in log-parameters below this.
GRAD_TOL = 1e-4
# Relative standard errors (se / param) below which a parameter is identified / weakly identified.
IDENTIFIED_REL_SE = 0.5
WEAK_REL_SE = 2.0


class ConvergenceError(DataError):
    """A CLV model could not be fitted: no finite likelihood, no optimum reached, or no data to fit
    (e.g. no repeat purchases). A weakly identified optimum is not an error: see
    :class:`MLEFitter` (``converged_``, ``identifiability_``)."""


class NotFittedError(SklearnNotFittedError, DataError):
    """A CLV model used before ``fit``: scikit-learn's NotFittedError, and a one-line user error."""


def as_float_array(name: str, values: object) -> np.ndarray:
    """1-D float array of ``values``; a clear DataError when it is not finite."""
    arr = np.asarray(values, dtype=float).ravel()
    if arr.size == 0:
        raise DataError(f"{name} is empty: the model needs at least one customer")
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{name} has {int((~np.isfinite(arr)).sum())} missing or infinite value(s)")
    return arr


def check_frt(frequency: object, recency: object, T: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate (frequency, recency, T) and return them as float arrays of one length."""
    x = as_float_array("frequency", frequency)
    tx = as_float_array("recency", recency)
    t = as_float_array("T", T)
    if not (x.size == tx.size == t.size):
        raise DataError(f"frequency, recency and T differ in length ({x.size}, {tx.size}, {t.size})")
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise DataError("frequency must be whole numbers >= 0 (repeat purchases)")
    if np.any(tx < 0) or np.any(tx > t * (1 + 1e-12) + 1e-12):
        raise DataError("recency must satisfy 0 <= recency <= T for every customer")
    if np.any((x == 0) & (tx > 0)):
        raise DataError("recency must be 0 for customers with frequency 0")
    return x, tx, t


def wsum(weights: np.ndarray, values: np.ndarray) -> float:
    """Weighted sum without BLAS (multithreaded BLAS dot products stall on busy machines)."""
    return float(np.einsum("i,i->", weights, values))


def factorize_rows(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group codes of the distinct rows of the columns (hash-based, O(n)), and one
    representative row index per group.

    The mixed-radix key of the per-column codes is compacted by a dense table when its range is
    at most 8 times the number of rows (faster than hashing it; groups then come in key
    order), else by hashing (groups in order of first appearance).
    """
    n = np.asarray(columns[0]).size
    key = np.zeros(n, dtype=np.int64)
    radix = 1
    for col in columns:
        codes, uniques = pd.factorize(np.asarray(col))
        if radix * len(uniques) >= 2**62:  # keep the mixed-radix key within int64
            key, _ = pd.factorize(key)
            radix = int(key.max()) + 1 if key.size else 1
        key = key * len(uniques) + codes
        radix *= len(uniques)
    if radix <= max(8 * n, 1 << 20):
        table = np.full(radix, -1, dtype=np.int64)
        table[key] = np.arange(n)  # some row of each key present
        present = table >= 0
        return (np.cumsum(present) - 1)[key], table[present]
    key, _ = pd.factorize(key)
    n_groups = int(key.max()) + 1 if key.size else 0
    rep = np.empty(n_groups, dtype=np.int64)
    rep[key] = np.arange(key.size)
    return key, rep


def group_rows(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct rows of the columns and how many times each occurs.

    Identical (frequency, recency, T) customers share one likelihood term weighted by the
    count, which makes millions of customers measured in days cheap.
    """
    key, rep = factorize_rows(*columns)
    counts = np.bincount(key, minlength=rep.size).astype(float)
    return [np.asarray(col)[rep] for col in columns], counts


def projected_gradient(theta: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """The gradient without the components that push a parameter out through its search bound."""
    blocked = ((theta <= -LOG_BOUND + 1e-9) & (grad > 0)) | ((theta >= LOG_BOUND - 1e-9) & (grad < 0))
    return np.where(blocked, 0.0, grad)


def log_variances(hess: np.ndarray, at_bound: np.ndarray) -> np.ndarray:
    """Variances of the log-parameters from the Hessian of the negative log-likelihood.

    The inverse of the whole Hessian when it is positive definite. Otherwise parameters are
    excluded until the block of the rest is: first those ``at_bound`` (at a search bound), then
    those loading on a flat or negative direction (an eigenvector component above 0.1 for an
    eigenvalue below ``1e-9`` of the largest); the rest get the inverse of their block
    (conditional on the excluded ones), the excluded NaN. Parameters at a bound are NaN always.
    """
    at_bound = np.asarray(at_bound, dtype=bool)
    var = np.full(hess.shape[0], np.nan)
    keep = np.ones(hess.shape[0], dtype=bool)
    while keep.any():
        idx = np.flatnonzero(keep)
        block = hess[np.ix_(idx, idx)]
        if not np.all(np.isfinite(block)):
            keep[idx[~np.all(np.isfinite(block), axis=1)]] = False
            continue
        try:
            np.linalg.cholesky(block)
            inv_diag = np.diag(np.linalg.inv(block))
            if np.all(np.isfinite(inv_diag)) and np.all(inv_diag > 0):
                var[idx] = inv_diag
                var[at_bound] = np.nan
                return var
        except np.linalg.LinAlgError:
            pass
        if np.any(keep & at_bound):
            keep &= ~at_bound
            continue
        eigval, eigvec = np.linalg.eigh(block)
        bad = eigval <= 1e-9 * max(float(np.max(np.abs(eigval))), 1e-300)
        loading = np.max(np.abs(eigvec[:, bad]), axis=1) if bad.any() else np.abs(eigvec[:, 0])
        keep[idx[loading > 0.1 if np.any(loading > 0.1) else loading == loading.max()]] = False
    return var


def identifiability(rel_se: float, at_bound: bool) -> str:
    """The identifiability rule of :class:`MLEFitter` for one parameter."""
    if at_bound or not np.isfinite(rel_se):
        return "not identified"
    if rel_se < IDENTIFIED_REL_SE:
        return "identified"
    return "weakly identified" if rel_se < WEAK_REL_SE else "not identified"


def gradient_hessian(grad: Callable[[np.ndarray], np.ndarray], theta: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Symmetrised central-difference Jacobian of an analytic gradient."""
    k = theta.size
    hess = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = h
        hess[i] = (grad(theta + e) - grad(theta - e)) / (2 * h)
    return (hess + hess.T) / 2


def numerical_hessian(f: Callable[[np.ndarray], float], theta: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Central-difference Hessian of a scalar function."""
    k = theta.size
    hess = np.empty((k, k))
    f0 = f(theta)
    eye = np.eye(k) * h
    for i in range(k):
        hess[i, i] = (f(theta + eye[i]) - 2 * f0 + f(theta - eye[i])) / h**2
        for j in range(i):
            v = (
                f(theta + eye[i] + eye[j]) - f(theta + eye[i] - eye[j])
                - f(theta - eye[i] + eye[j]) + f(theta - eye[i] - eye[j])
            ) / (4 * h**2)
            hess[i, j] = hess[j, i] = v
    return hess


def central_gradient(f: Callable[[np.ndarray], float], theta: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of a scalar function."""
    grad = np.empty(theta.size)
    for i in range(theta.size):
        e = np.zeros(theta.size)
        e[i] = h
        grad[i] = (f(theta + e) - f(theta - e)) / (2 * h)
    return grad


class MLEFitter(BaseEstimator):
    """Base class: log-space (penalised) maximum likelihood with standard errors and an honest
    account of convergence and identifiability.

    Subclasses define ``_param_names``, ``_loglik(params, data, weights)`` returning the
    total weighted log-likelihood (and optionally ``_loglik_grad`` returning it with the gradient
    with respect to the natural parameters), store ``penalizer_coef`` and call :meth:`_maximise`
    from ``fit``.

    Objective (lifetimes' definition): the mean negative log-likelihood per customer plus
    ``penalizer_coef * Σ (param / scale)²`` over the natural parameters, where ``scale`` is 1
    except for the transaction models' time-scale parameters (alpha, beta), which are divided
    by the longest customer age ``max T`` as lifetimes does (it fits on ``T / max T``); so a
    penalised fit does not depend on the time unit.

    Fit status:

    - ``converged_``: the optimiser reported success **and** the largest component of the
      projected gradient of the objective (per customer, in log-parameters; components pushing
      against a search bound excluded) is below ``1e-4``. ``convergence_message_`` is the
      optimiser's message, ``max_gradient_`` that gradient.
    - ``standard_errors_``: from the inverse Hessian of the (unpenalised) negative
      log-likelihood in log-parameters, by the delta method. When that Hessian is not positive
      definite, parameters at a search bound, then parameters that load on a flat or negative
      direction of it, are excluded (NaN) and the others' errors come from the block of the
      rest (see :func:`log_variances`). Parameters at a search bound always get NaN.
    - ``identifiability_``: per parameter, from the relative standard error ``se / param``:
      below 0.5 "identified", below 2 "weakly identified", otherwise (or NaN, or at the search
      bound ``exp(±18)``) "not identified".

    :class:`ConvergenceError` is raised only when no start reaches a finite likelihood, or the
    best estimate is neither reported converged by the optimiser nor at a small gradient (the
    search stopped far from any optimum, e.g. at a tiny ``max_iter``). A weakly or not
    identified optimum is kept and reported as such, never raised.
    """

    _param_names: tuple[str, ...] = ()
    _model_name = "model"

    def _loglik(self, params: np.ndarray, data: tuple, weights: np.ndarray) -> float:
        raise NotImplementedError

    _loglik_grad: Callable | None = None

    def _penalizer(self) -> float:
        pen = getattr(self, "penalizer_coef", 0.0)
        if not isinstance(pen, (int, float, np.floating, np.integer)) or not np.isfinite(pen) or pen < 0:
            raise ConfigError(f"{type(self).__name__} penalizer_coef={pen!r} must be a finite number >= 0")
        return float(pen)

    def _objective(self, data: tuple, weights: np.ndarray, penalty_scale: np.ndarray | None = None):
        """``(objective, nll)``: the per-customer negative log-likelihood (+ penalty) with its
        gradient in log-parameters, ``objective(theta, penalised=True)``, and ``nll(theta)``."""
        total = float(weights.sum())
        pen = self._penalizer()
        k = len(self._param_names)
        inv_scale2 = 1.0 / (np.ones(k) if penalty_scale is None else np.asarray(penalty_scale)) ** 2
        grad_fn = getattr(self, "_loglik_grad", None)

        def nll(theta: np.ndarray) -> float:
            with np.errstate(all="ignore"):
                value = -self._loglik(np.exp(theta), data, weights) / total
            return value if np.isfinite(value) else 1e300

        def objective(theta: np.ndarray, penalised: bool = True) -> tuple[float, np.ndarray]:
            params = np.exp(theta)
            if grad_fn is not None:
                with np.errstate(all="ignore"):
                    ll, g = grad_fn(params, data, weights)
                if not np.isfinite(ll) or not np.all(np.isfinite(g)):
                    return 1e300, np.zeros_like(theta)
                value, grad = -ll / total, -g * params / total
            else:
                value = nll(theta)
                if value >= 1e300:
                    return value, np.zeros_like(theta)
                grad = central_gradient(nll, theta)
            if penalised and pen > 0:
                value += pen * float(np.sum(params**2 * inv_scale2))
                grad = grad + 2 * pen * params**2 * inv_scale2
            return value, grad

        return objective, nll

    def _maximise(self, data: tuple, weights: np.ndarray, starts: list[np.ndarray],
                  penalty_scale: np.ndarray | None = None, errors: bool = True) -> None:
        """Minimise the penalised objective from each start in turn; set the fitted attributes.
        ``errors=False`` leaves the standard errors to :meth:`_set_errors` (NaN and "not
        computed" until then): a fit that may be thrown away skips its Hessian."""
        total = float(weights.sum())
        names = self._param_names
        objective, nll = self._objective(data, weights, penalty_scale)
        best, best_grad, failures = None, None, []
        for start in starts:
            # One BLAS thread: L-BFGS-B's tiny vector operations cost ~10 ms an iteration with
            # OpenBLAS's threads on a busy machine, 0.3 ms with one (same results: too small to split).
            with threadpool_limits(1, user_api="blas"):
                res = optimize.minimize(
                    objective, np.log(start), jac=True, method="L-BFGS-B",
                    bounds=[(-LOG_BOUND, LOG_BOUND)] * len(names),
                    options={"maxiter": self.max_iter, "ftol": 1e-14, "gtol": 1e-7},
                )
            value, g = objective(res.x)
            g = projected_gradient(res.x, g)
            small = float(np.max(np.abs(g))) < GRAD_TOL
            ok = value < 1e299 and (bool(res.success) or small)
            if ok and (best is None or value < best.fun):
                best, best_grad = res, g
            elif not ok:
                failures.append(f"{res.message} (max |gradient| {np.max(np.abs(g)):.2g})")
            if best is not None and best.success and float(np.max(np.abs(best_grad))) < GRAD_TOL:
                break
        if best is None:
            raise ConvergenceError(
                f"{self._model_name} fit did not converge ({failures[-1]}); check that the data has "
                "repeat purchases and consistent recency/T, or try another time unit"
            )
        self._log_params = best.x
        self.params_ = {n: float(v) for n, v in zip(names, np.exp(best.x))}
        self.standard_errors_ = {n: float("nan") for n in names}
        self.identifiability_ = {n: "not computed" for n in names}
        if errors:
            self._set_errors(data, weights)
        self.log_likelihood_ = float(-nll(best.x) * total)
        self.max_gradient_ = float(np.max(np.abs(best_grad)))
        self.converged_ = bool(best.success) and self.max_gradient_ < GRAD_TOL
        self.convergence_message_ = str(best.message)
        self.n_customers_ = int(round(total))
        self.n_iterations_ = int(best.nit)

    def _set_errors(self, data: tuple, weights: np.ndarray) -> None:
        """``standard_errors_`` and ``identifiability_`` at the fitted optimum (see the class
        docstring), from the data and weights the fit used."""
        theta = self._log_params
        total = float(weights.sum())
        names = self._param_names
        objective, nll = self._objective(data, weights)
        at_bound = np.abs(theta) > LOG_BOUND - 1e-2
        if getattr(self, "_loglik_grad", None) is not None:
            hess = gradient_hessian(lambda th: objective(th, penalised=False)[1], theta) * total
        else:
            hess = numerical_hessian(nll, theta) * total
        var = log_variances(hess, at_bound)
        params = np.exp(theta)
        # Delta method: d(param) = param * d(log param); se / param = sd(log param).
        rel_se = np.sqrt(var)
        self.standard_errors_ = {n: float(p * e) for n, p, e in zip(names, params, rel_se)}
        self.identifiability_ = {n: identifiability(e, b) for n, e, b in zip(names, rel_se, at_bound)}

    def _check_fitted(self) -> np.ndarray:
        if not hasattr(self, "params_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit(...) first")
        return np.array([self.params_[n] for n in self._param_names])
