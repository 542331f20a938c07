"""Maximum-likelihood machinery shared by the CLV models.

Each model supplies a weighted log-likelihood of its natural (positive) parameters; this
module optimises it in log space with L-BFGS-B, checks convergence, and derives standard
errors from a numerical Hessian at the optimum.

An estimate is accepted when the gradient at it is small (max |gradient| < 1e-4 per customer);
``converged_`` and ``convergence_message_`` then say what the optimiser itself reported
(scipy's ``success`` and ``message``): False when it stopped for another reason, e.g. its
iteration limit, near enough to the optimum to be accepted.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import optimize
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as SklearnNotFittedError

from ..errors import DataError

# Bounds of the log-parameters: exp(+-18) covers 1.5e-8 .. 6.6e7 in any time unit.
LOG_BOUND = 18.0


class ConvergenceError(DataError):
    """A CLV model could not be fitted: the optimiser failed or the optimum is not identified."""


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
    representative row index per group."""
    key = np.zeros(np.asarray(columns[0]).size, dtype=np.int64)
    radix = 1
    for col in columns:
        codes, uniques = pd.factorize(np.asarray(col))
        if radix * len(uniques) >= 2**62:  # keep the mixed-radix key within int64
            key, _ = pd.factorize(key)
            radix = int(key.max()) + 1 if key.size else 1
        key = key * len(uniques) + codes
        radix *= len(uniques)
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
    """Base class: log-space maximum likelihood with standard errors.

    Subclasses define ``_param_names``, ``_loglik(params, data, weights)`` returning the
    total weighted log-likelihood (and optionally ``_loglik_grad`` returning the gradient
    with respect to the natural parameters), and call :meth:`_maximise` from ``fit``.
    """

    _param_names: tuple[str, ...] = ()
    _model_name = "model"

    def _loglik(self, params: np.ndarray, data: tuple, weights: np.ndarray) -> float:
        raise NotImplementedError

    _loglik_grad: Callable | None = None

    def _maximise(self, data: tuple, weights: np.ndarray, starts: list[np.ndarray]) -> None:
        """Maximise the likelihood from each start in turn; set the fitted attributes."""
        total = float(weights.sum())
        names = self._param_names

        def nll(theta: np.ndarray) -> float:
            with np.errstate(all="ignore"):
                value = -self._loglik(np.exp(theta), data, weights) / total
            return value if np.isfinite(value) else 1e300

        grad_fn = getattr(self, "_loglik_grad", None)

        def nll_and_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
            params = np.exp(theta)
            with np.errstate(all="ignore"):
                ll, g = grad_fn(params, data, weights)
            if not np.isfinite(ll) or not np.all(np.isfinite(g)):
                return 1e300, np.zeros_like(theta)
            return -ll / total, -g * params / total

        def nll_numgrad(theta: np.ndarray) -> tuple[float, np.ndarray]:
            value = nll(theta)
            if value >= 1e300:
                return value, np.zeros_like(theta)
            return value, central_gradient(nll, theta)

        fun = nll_and_grad if grad_fn is not None else nll_numgrad
        best, failures = None, []
        for start in starts:
            res = optimize.minimize(
                fun, np.log(start), jac=True, method="L-BFGS-B",
                bounds=[(-LOG_BOUND, LOG_BOUND)] * len(names),
                options={"maxiter": self.max_iter, "ftol": 1e-14, "gtol": 1e-7},
            )
            _, g = fun(res.x)
            ok = np.isfinite(res.fun) and res.fun < 1e299 and np.max(np.abs(g)) < 1e-4
            if ok and (best is None or res.fun < best.fun):
                best = res
            elif not ok:
                failures.append(f"{res.message} (max |gradient| {np.max(np.abs(g)):.2g})")
            if best is not None and best.success:
                break
        if best is None:
            raise ConvergenceError(
                f"{self._model_name} fit did not converge ({failures[-1]}); check that the data has "
                "repeat purchases and consistent recency/T, or try another time unit"
            )
        at_bound = [n for n, v in zip(names, best.x) if abs(v) > LOG_BOUND - 1e-2]
        if at_bound:
            raise ConvergenceError(
                f"{self._model_name} fit is not identified: parameter(s) {', '.join(at_bound)} ran to "
                f"the edge of the search range ({', '.join(f'{n}={np.exp(v):.3g}' for n, v in zip(names, best.x))}); "
                "the data has too few repeat purchases or too little variation for this model"
            )
        if grad_fn is not None:
            hess = gradient_hessian(lambda th: nll_and_grad(th)[1], best.x) * total
        else:
            hess = numerical_hessian(nll, best.x) * total
        try:
            np.linalg.cholesky(hess)
            var = np.diag(np.linalg.inv(hess))
        except np.linalg.LinAlgError:
            var = np.full(len(names), np.nan)
        if not np.all(np.isfinite(var)) or np.any(var <= 0):
            raise ConvergenceError(
                f"{self._model_name} fit found a flat or saddle optimum (Hessian not positive definite "
                "at the estimate); the parameters are not identified by this data: try more customers "
                "or a longer calibration period"
            )
        params = np.exp(best.x)
        self.params_ = {n: float(v) for n, v in zip(names, params)}
        # Delta method: d(param) = param * d(log param).
        self.standard_errors_ = {n: float(p * np.sqrt(v)) for n, p, v in zip(names, params, var)}
        self.log_likelihood_ = float(-best.fun * total)
        self.converged_ = bool(best.success)
        self.convergence_message_ = str(best.message)
        self.n_customers_ = int(round(total))
        self.n_iterations_ = int(best.nit)

    def _check_fitted(self) -> np.ndarray:
        if not hasattr(self, "params_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit(...) first")
        return np.array([self.params_[n] for n in self._param_names])
