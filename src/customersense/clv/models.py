"""Buy-till-you-die transaction models fitted by (optionally penalised) maximum likelihood, and
customer lifetime value with the Gamma-Gamma spend model (:mod:`customersense.clv.gamma_gamma`).

- :class:`BetaGeoFitter`: BG/NBD (Fader, Hardie & Lee 2005, "Counting Your Customers the
  Easy Way", Marketing Science 24(2)).
- :class:`ParetoNBDFitter`: Pareto/NBD (Schmittlein, Morrison & Colombo 1987), likelihood in
  the form of Fader & Hardie's note "A Note on Deriving the Pareto/NBD Model and Related
  Expressions" (2005), evaluated in log space (see :mod:`customersense.clv._pareto`).
- MBG/NBD: :class:`customersense.clv.mbgnbd.ModifiedBetaGeoFitter`.

Inputs are the columns of :func:`customersense.clv.summary.rfm_summary`: ``frequency`` x
(repeat purchases), ``recency`` t_x and ``T`` in one time unit. Parameters are optimised
in log space with L-BFGS-B with analytic gradients; identical customers are grouped and
weighted. Standard errors come from the inverse of a numerical Hessian of the negative
log-likelihood at the optimum; ``converged_`` and ``identifiability_`` report the fit honestly
(rules in :class:`customersense.clv._base.MLEFitter`). A fit that fails raises
:class:`ConvergenceError` and never leaves NaN parameters; a weakly identified one is kept.

Churn: ``probability_no_purchase(t, x, t_x, T)`` = P(no purchase in (T, T + t]).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from ..errors import DataError
from . import _pareto
from ._base import ConvergenceError, MLEFitter, check_frt, factorize_rows, group_rows, wsum
from .gamma_gamma import GammaGammaFitter

__all__ = [
    "BetaGeoFitter", "ParetoNBDFitter", "GammaGammaFitter", "ConvergenceError",
    "customer_lifetime_value",
]


def _starts(x: np.ndarray, T: np.ndarray, w: np.ndarray, extra: tuple[float, ...]) -> list[np.ndarray]:
    """Starting values: the purchase rate r/alpha matched to the mean repeat rate."""
    rate = max(float(wsum(w, x)) / max(float(wsum(w, T)), 1e-12), 1e-6)
    return [np.array([r, r / rate, *[e * m for e in extra]]) for r, m in ((1.0, 1.0), (0.5, 2.0), (2.0, 0.5))]


class _TransactionModel(MLEFitter):
    """Shared ``fit`` of the transaction models.

    ``penalizer_coef``: lifetimes' L2 penalty (see :class:`~customersense.clv._base.MLEFitter`),
    the time-scale parameters measured in units of the longest customer age ``max T``.
    """

    _time_scale_params: tuple[str, ...] = ("alpha",)

    def __init__(self, max_iter: int = 1000, penalizer_coef: float = 0.0) -> None:
        self.max_iter = max_iter
        self.penalizer_coef = penalizer_coef

    def fit(self, frequency, recency, T, *, standard_errors: bool = True) -> "_TransactionModel":
        """Fit by maximum likelihood on per-customer (frequency, recency, T); returns self.
        ``standard_errors=False`` skips the Hessian (``standard_errors_`` NaN, ``identifiability_``
        "not computed") for a fit that may be discarded; :meth:`add_standard_errors` adds them
        later, the same numbers as fitting with them."""
        x, tx, t = check_frt(frequency, recency, T)
        if not np.any(x > 0):
            raise ConvergenceError(
                f"{self._model_name} cannot be fitted: no customer has a repeat purchase (all frequency 0); "
                "use a longer calibration period or more customers"
            )
        (x, tx, t), w = group_rows(x, tx, t)
        t_max = max(float(t.max()), 1e-12)
        scale = np.array([t_max if n in self._time_scale_params else 1.0 for n in self._param_names])
        self._maximise(self._prepare(x, tx, t), w, self._start_values(x, t, w), penalty_scale=scale,
                       errors=standard_errors)
        return self

    def add_standard_errors(self, frequency, recency, T) -> "_TransactionModel":
        """``standard_errors_`` and ``identifiability_`` of a fit made with
        ``standard_errors=False``, on the same (frequency, recency, T); returns self."""
        self._check_fitted()
        x, tx, t = check_frt(frequency, recency, T)
        (x, tx, t), w = group_rows(x, tx, t)
        self._set_errors(self._prepare(x, tx, t), w)
        return self

    def expected_purchases_population(self, t) -> np.ndarray:
        """Unconditional E[X(t)]: expected repeat purchases of a new customer in (0, t]."""
        raise NotImplementedError

    def probability_no_purchase(self, t, frequency, recency, T, p_alive=None) -> np.ndarray:
        """P(no purchase in (T, T + t] | x, t_x, T): the churn probability over a horizon t."""
        raise NotImplementedError


class _BetaGeoFamily(_TransactionModel):
    """Models whose purchase rate, while alive, is Poisson with a gamma(r, alpha) rate and whose
    dropout happens only at purchases (BG/NBD, MBG/NBD); ``_parts(params, data)`` returns the
    per-row log-likelihood first."""

    _param_names = ("r", "alpha", "a", "b")

    def _prepare(self, x, tx, t):
        ux, ix = np.unique(x, return_inverse=True)
        return x, tx, t, ux, ix

    def _start_values(self, x, t, w):
        return _starts(x, t, w, (1.0, 1.0))

    def _loglik(self, params, data, weights):
        return float(wsum(weights, self._parts(params, data)[0]))

    def probability_no_purchase(self, t, frequency, recency, T, p_alive=None) -> np.ndarray:
        """P(no purchase in (T, T + t] | x, t_x, T) = 1 - P(alive) [1 - ((α+T)/(α+T+t))^(r+x)].

        Given alive at T the rate is gamma(r + x, α + T) and no dropout can happen before the
        next purchase, so P(none in t | alive) = E[exp(-λ t)]; a dead customer never buys.
        ``t`` may be an array shaped (k, 1): rows of a (k, n) result. ``p_alive``: this model's
        :meth:`probability_alive` of these customers when already computed.
        """
        params = self._check_fitted()
        r, alpha = params[0], params[1]
        x, tx, tt = check_frt(frequency, recency, T)
        t = horizon_array(t)
        some = -np.expm1(-(r + x) * np.log1p(t / (alpha + tt)))
        out = 1.0 - _alive(self, p_alive, x, tx, tt) * some
        return _finite(np.clip(out, 0.0, 1.0), f"{self._model_name} probability_no_purchase")


class BetaGeoFitter(_BetaGeoFamily):
    """BG/NBD model: Poisson purchases (gamma(r, alpha) rates), dropout after any purchase with
    probability p ~ beta(a, b).

    Fitted attributes: ``params_`` (dict r, alpha, a, b), ``standard_errors_``,
    ``identifiability_``, ``log_likelihood_``, ``converged_``, ``max_gradient_``, ``n_customers_``
    (see :class:`customersense.clv._base.MLEFitter`).
    """

    _model_name = "BG/NBD"

    @staticmethod
    def _parts(params, data):
        r, alpha, a, b = params
        x, tx, t, ux, ix = data
        pos = x > 0
        a1 = (gammaln(r + ux) - gammaln(r))[ix] + r * np.log(alpha)
        a2 = (betaln(a, b + ux) - betaln(a, b))[ix]
        a3 = -(r + x) * np.log(alpha + t)
        with np.errstate(divide="ignore", invalid="ignore"):
            a4 = np.where(pos, np.log(a) - np.log(b + x - 1) - (r + x) * np.log(alpha + tx), -np.inf)
        mix = np.logaddexp(a3, a4)
        return a1 + a2 + mix, np.exp(a4 - mix), pos

    def _loglik_grad(self, params, data, weights):
        r, alpha, a, b = params
        x, tx, t, ux, ix = data
        ll, om, pos = self._parts(params, data)
        d_r = (
            (digamma(r + ux) - digamma(r))[ix] + np.log(alpha)
            - (1 - om) * np.log(alpha + t) - om * np.log(alpha + tx)
        )
        d_alpha = r / alpha - (r + x) * ((1 - om) / (alpha + t) + om / (alpha + tx))
        psi_abx = digamma(a + b + ux)[ix]
        d_a = digamma(a + b) - psi_abx + om / a
        with np.errstate(divide="ignore", invalid="ignore"):
            d_b = digamma(b + ux)[ix] - psi_abx - digamma(b) + digamma(a + b) - np.where(pos, om / (b + x - 1), 0.0)
        grad = np.array([wsum(weights, g) for g in (d_r, d_alpha, d_a, d_b)])
        return float(wsum(weights, ll)), grad

    def probability_alive(self, frequency, recency, T) -> np.ndarray:
        """P(customer still active at T | x, t_x, T); exactly 1 when x = 0."""
        r, alpha, a, b = self._check_fitted()
        x, tx, t = check_frt(frequency, recency, T)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_odds = np.log(a) - np.log(b + x - 1) + (r + x) * (np.log(alpha + t) - np.log(alpha + tx))
        return np.where(x > 0, expit(-np.where(x > 0, log_odds, 0.0)), 1.0)  # 1 / (1 + e^log_odds)

    def expected_purchases(self, t, frequency, recency, T, p_alive=None) -> np.ndarray:
        """E[purchases in (T, T + t] | x, t_x, T] (Fader, Hardie & Lee 2005, eq. 10).

        ``p_alive``: :meth:`probability_alive` of these customers when already computed.
        """
        r, alpha, a, b = self._check_fitted()
        x, tx, tt = check_frt(frequency, recency, T)
        t = np.asarray(t, dtype=float)
        # Euler: ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)
        f = per_distinct(x, tt, t, lambda xu, tu: (1 - (z := t / (alpha + tu + t))) ** (a - 1)
                         * hyp2f1(a + b - 1 - r, a - 1, a + b + xu - 1, z))
        num = (a + b + x - 1) / (a - 1) * (1 - f)
        out = num * _alive(self, p_alive, x, tx, tt)
        return _finite(out, "BG/NBD expected_purchases")

    def expected_purchases_population(self, t) -> np.ndarray:
        """E[X(t)] = (a+b-1)/(a-1) [1 - (α/(α+t))^r 2F1(r, b; a+b-1; t/(α+t))]."""
        r, alpha, a, b = self._check_fitted()
        t = np.asarray(t, dtype=float)
        z = t / (alpha + t)
        f = (1 - z) ** r * hyp2f1(r, b, a + b - 1, z)
        return _finite((a + b - 1) / (a - 1) * (1 - f), "BG/NBD expected_purchases_population")


class ParetoNBDFitter(_TransactionModel):
    """Pareto/NBD model: Poisson purchases (gamma(r, alpha) rates), exponential lifetimes
    (gamma(s, beta) dropout rates).

    Fitted attributes: ``params_`` (dict r, alpha, s, beta), ``standard_errors_``,
    ``identifiability_``, ``log_likelihood_``, ``converged_``, ``max_gradient_``, ``n_customers_``
    (see :class:`customersense.clv._base.MLEFitter`).
    """

    _param_names = ("r", "alpha", "s", "beta")
    _model_name = "Pareto/NBD"
    _time_scale_params = ("alpha", "beta")

    def _prepare(self, x, tx, t):
        return _pareto.ParetoData(x, tx, t)

    def _start_values(self, x, t, w):
        mean_t = float(wsum(w, t) / w.sum())
        return _starts(x, t, w, (1.0, max(mean_t, 1e-6)))

    def _loglik(self, params, data, weights):
        return _pareto.loglik(params, data, weights)

    def _loglik_grad(self, params, data, weights):
        return _pareto.loglik_grad(params, data, weights)

    def probability_alive(self, frequency, recency, T) -> np.ndarray:
        """P(customer still active at T | x, t_x, T) = survival term / likelihood."""
        params = self._check_fitted()
        x, tx, t = check_frt(frequency, recency, T)
        key, rep = factorize_rows(x, tx, t)  # computed once per distinct (x, t_x, T)
        return _finite(_pareto.alive(params, x[rep], tx[rep], t[rep])[key], "Pareto/NBD probability_alive")

    def expected_purchases(self, t, frequency, recency, T, p_alive=None) -> np.ndarray:
        """E[purchases in (T, T + t] | x, t_x, T] = (r+x)(β+T)/((α+T)(s-1)) [1 - ((β+T)/(β+T+t))^(s-1)] P(alive).

        ``p_alive``: :meth:`probability_alive` of these customers when already computed.
        """
        r, alpha, s, beta = self._check_fitted()
        x, tx, tt = check_frt(frequency, recency, T)
        t = np.asarray(t, dtype=float)
        rate = (r + x) / (alpha + tt)
        out = rate * (beta + tt) * _lomax_factor(s, np.log1p(t / (beta + tt)))
        return _finite(out * _alive(self, p_alive, x, tx, tt), "Pareto/NBD expected_purchases")

    def expected_purchases_population(self, t) -> np.ndarray:
        """E[X(t)] = r β / (α (s-1)) [1 - (β/(β+t))^(s-1)]."""
        r, alpha, s, beta = self._check_fitted()
        t = np.asarray(t, dtype=float)
        out = r * beta / alpha * _lomax_factor(s, np.log1p(t / beta))
        return _finite(out, "Pareto/NBD expected_purchases_population")

    def probability_no_purchase(self, t, frequency, recency, T, p_alive=None) -> np.ndarray:
        """P(no purchase in (T, T + t] | x, t_x, T) = 1 - P(alive) P(some purchase in t | alive),

        ``P(some | alive) = ∫_0^t (r+x)/(α+T) ((α+T)/(α+T+u))^(r+x+1) ((β+T)/(β+T+u))^s du``
        (first purchase at u before dropout; given alive, λ ~ gamma(r+x, α+T) and
        μ ~ gamma(s, β+T) independent), by Gauss-Legendre quadrature once per distinct
        (x, T) (see :func:`customersense.clv._pareto.purchase_probability_alive`). ``t``: a
        scalar, or an array shaped (k, 1) for rows of a (k, n) result.
        """
        params = self._check_fitted()
        x, tx, tt = check_frt(frequency, recency, T)
        t = horizon_array(t)
        if t.ndim and t.shape[-1] != 1:
            raise DataError(f"t has shape {t.shape}: give a scalar or a column of horizons shaped (k, 1)")
        if p_alive is None:  # P(alive) and the integral once per distinct (x, t_x, T), one grouping
            key, rep = factorize_rows(x, tx, tt)
            x, tx, tt = x[rep], tx[rep], tt[rep]
            pa = _pareto.alive(params, x, tx, tt)
        else:
            pa = _alive(self, p_alive, x, tx, tt)
            key = None
        k2, r2 = factorize_rows(x, tt)
        out = 1.0 - pa * _pareto.purchase_probability_alive(params, x[r2], tt[r2], t)[..., k2]
        out = out if key is None else out[..., key]
        return _finite(np.clip(out, 0.0, 1.0), "Pareto/NBD probability_no_purchase")


def per_distinct(x: np.ndarray, tt: np.ndarray, t: np.ndarray, fn) -> np.ndarray:
    """``fn(x, T)`` of elementwise arithmetic (with the horizon ``t`` a scalar or a column)
    computed once per distinct (x, T) row and spread back to every row: the very values of
    ``fn`` on all rows (customers measured in days share few (x, T) rows; scipy's hyp2f1 costs
    ~1 µs a value). A horizon per customer is computed row by row."""
    if np.ndim(t) and np.shape(t)[-1] != 1:
        return fn(x, tt)
    codes, rep = factorize_rows(x, tt)
    return fn(x[rep], tt[rep])[..., codes]


def _alive(model: _TransactionModel, p_alive, x: np.ndarray, tx: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The given P(alive) of the customers (checked), else computed."""
    if p_alive is None:
        return model.probability_alive(x, tx, t)
    p_alive = np.asarray(p_alive, dtype=float)
    if p_alive.shape != x.shape:
        raise DataError(f"p_alive has shape {p_alive.shape}, the customers {x.shape}")
    return p_alive


def horizon_array(t) -> np.ndarray:
    """Prediction horizon(s) ``t`` as a float array; a DataError unless finite and >= 0."""
    t = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise DataError("the prediction horizon t must be finite and >= 0")
    return t


def _lomax_factor(s: float, log_ratio: np.ndarray) -> np.ndarray:
    """``[1 - exp(-(s-1) L)] / (s-1)``, with its limit ``L`` at s = 1."""
    if abs(s - 1.0) < 1e-10:
        return np.asarray(log_ratio, dtype=float)
    return -np.expm1(-(s - 1.0) * log_ratio) / (s - 1.0)


def _finite(values: np.ndarray, what: str) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(values)):
        raise DataError(
            f"{what} is not finite for {int((~np.isfinite(values)).sum())} customer(s): "
            "check the inputs and the fitted parameters"
        )
    return values


def customer_lifetime_value(
    transaction_model: _TransactionModel,
    spend_model: GammaGammaFitter,
    summary: pd.DataFrame,
    horizon: int = 12,
    discount_rate: float = 0.01,
    margin: float = 1.0,
    time_unit: str = "weeks",
    period_days: float = 30.0,
    p_alive=None,
) -> pd.Series:
    """Discounted expected profit of each customer over the next ``horizon`` periods.

    Periods are ``period_days`` long (default 30 days: months), converted to the
    ``time_unit`` of ``summary`` (``"weeks"`` or ``"days"``)::

        CLV = margin * E[spend] * Σ_{i=1..horizon} (E[Y(i P)] - E[Y((i-1) P)]) / (1 + d)^i

    where ``E[Y(t)]`` is the transaction model's conditional expected purchases in the next
    ``t``, ``P`` the period length and ``d = discount_rate`` the rate **per period**, applied
    at the end of each period (for an annual rate ``d_a`` and monthly periods pass
    ``(1 + d_a) ** (1 / 12) - 1``). ``E[spend]`` is the Gamma-Gamma expected average spend
    (population mean for customers without repeat purchases). ``p_alive``: the transaction
    model's P(alive) of the customers when already computed.

    Returns a Series named ``clv``, indexed by ``summary.customer_id`` when present.
    """
    values = lifetime_values(transaction_model, spend_model, summary["frequency"], summary["recency"], summary["T"],
                             summary["monetary_value"], horizon, discount_rate, margin, time_unit, period_days, p_alive)
    index = summary["customer_id"] if "customer_id" in summary.columns else summary.index
    return pd.Series(values, index=pd.Index(index, name="customer_id"), name="clv")


def lifetime_values(transaction_model: _TransactionModel, spend_model: GammaGammaFitter, frequency, recency, T,
                    monetary_value, horizon: int = 12, discount_rate: float = 0.01, margin: float = 1.0,
                    time_unit: str = "weeks", period_days: float = 30.0, p_alive=None) -> np.ndarray:
    """:func:`customer_lifetime_value` on arrays (the same arithmetic), without pandas."""
    from .summary import TIME_UNITS

    if time_unit not in TIME_UNITS:
        raise DataError(f"time_unit={time_unit!r}: use one of {', '.join(TIME_UNITS)}")
    if horizon < 1 or discount_rate <= -1:
        raise DataError(f"horizon={horizon} must be >= 1 and discount_rate={discount_rate} > -1")
    step = period_days / TIME_UNITS[time_unit]
    cols = (frequency, recency, T)
    spend = spend_model.expected_average_spend(frequency, monetary_value)
    ends = [i * step for i in range(1, int(horizon) + 1)]
    cells = None
    if isinstance(transaction_model, _TransactionModel):
        # The discounted purchases depend on (x, t_x, T) alone, elementwise: computed once per
        # distinct (x, t_x, T) cell and spread back (the very values; millions of customers
        # measured in days share a fraction of the cells), for all period ends in one call
        # (P(alive) once): rows of a (horizon, cells) array.
        x, tx, tt = check_frt(*cols)
        cells, rep = factorize_rows(x, tx, tt)
        alive = None if p_alive is None else np.asarray(p_alive, dtype=float)
        if alive is not None and alive.shape != x.shape:
            raise DataError(f"p_alive has shape {alive.shape}, the customers {x.shape}")
        cums = transaction_model.expected_purchases(np.array(ends)[:, None], x[rep], tx[rep], tt[rep],
                                                    p_alive=None if alive is None else alive[rep])
        n = rep.size
    else:
        cums = [transaction_model.expected_purchases(t, *cols) for t in ends]
        n = len(np.asarray(frequency))
    cum_prev = np.zeros(n)
    total = np.zeros(n)
    for i, cum in enumerate(cums, start=1):
        total += (cum - cum_prev) / (1.0 + discount_rate) ** i
        cum_prev = cum
    return margin * spend * (total if cells is None else total[cells])
