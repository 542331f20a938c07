"""Seeded simulators of customer transactions with known truth, for the CLV tests.

Each simulator returns ``(transactions, truth)``:

- ``transactions``: pandas DataFrame with ``customer_id`` (str), ``purchase_date``
  (``datetime.date``) and ``amount`` (float), sorted by customer and date;
- ``truth``: one row per customer (sorted by ``customer_id``) with its latent values.

Time is in days. Customer ``i`` makes its first purchase at a time drawn uniformly from
``[0, first_window)`` days after ``start``; purchases at continuous times ``t`` fall on the date
``start + floor(t)``, and nothing after day ``n_days - 1`` (the last day) is recorded. Several
purchases on one date are one purchase day for the models (clv.summary): with purchase rates
well below one a day this rounding is negligible, but it is a (small) departure from the
continuous-time models.

:func:`clean_table` turns ``transactions`` into the cleaned Ibis table the CLV code reads.
"""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd

START = dt.date(2021, 1, 1)


def _ids(n: int) -> np.ndarray:
    return np.array([f"c{i:06d}" for i in range(n)], dtype=object)


def _frame(cust: np.ndarray, times: np.ndarray, amounts: np.ndarray, n: int, start: dt.date) -> pd.DataFrame:
    order = np.lexsort((times, cust))
    cust, times, amounts = cust[order], times[order], amounts[order]
    dates = np.datetime64(start, "D") + np.floor(times).astype("int64")
    return pd.DataFrame({
        "customer_id": pd.Series(_ids(n)[cust], dtype=object),
        "purchase_date": pd.to_datetime(dates).date,
        "amount": amounts.astype(float),
    })


def _gamma_gamma(rng: np.random.Generator, n: int, spend: tuple[float, float, float]) -> np.ndarray:
    """Per-customer nu ~ Gamma(q, rate gamma); the customer's mean spend per purchase is p / nu."""
    _, q, gamma = spend
    return rng.gamma(q, 1.0 / gamma, n)


def _amounts(rng: np.random.Generator, cust: np.ndarray, nu: np.ndarray, p: float) -> np.ndarray:
    return rng.gamma(p, 1.0 / nu[cust])


def simulate_bgnbd(
    n_customers: int, r: float, alpha: float, a: float, b: float, spend=(6.0, 4.0, 15.0), *,
    n_days: int = 730, first_window: int = 365, modified: bool = False, start: dt.date = START, seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """BG/NBD (Fader, Hardie & Lee 2005) with Gamma-Gamma spend ``(p, q, gamma)``.

    lambda ~ Gamma(r, rate alpha) purchases a day; p ~ Beta(a, b); after each repeat purchase
    the customer drops out with probability p (``modified=True``: MBG/NBD, also after the first
    purchase). Truth columns: ``first_time``, ``lam``, ``p``, ``nu``, ``mean_spend`` (p/nu of
    Gamma-Gamma), ``death_time`` (time of the purchase after which the customer dropped out;
    NaN if active at the end) and ``alive_at_end``.
    """
    rng = np.random.default_rng(seed)
    first = rng.uniform(0, first_window, n_customers)
    lam = rng.gamma(r, 1.0 / alpha, n_customers)
    drop = rng.beta(a, b, n_customers)
    nu = _gamma_gamma(rng, n_customers, spend)
    cust, times = [np.arange(n_customers)], [first]
    death = np.full(n_customers, np.nan)
    t = first.copy()
    active = np.ones(n_customers, dtype=bool)
    if modified:
        dies = rng.uniform(size=n_customers) < drop
        death[dies] = t[dies]
        active &= ~dies
    while active.any():
        idx = np.flatnonzero(active)
        t[idx] += rng.exponential(1.0 / lam[idx])
        inside = t[idx] < n_days
        active[idx[~inside]] = False
        idx = idx[inside]
        cust.append(idx)
        times.append(t[idx])
        dies = rng.uniform(size=idx.size) < drop[idx]
        death[idx[dies]] = t[idx[dies]]
        active[idx[dies]] = False
    c, tt = np.concatenate(cust), np.concatenate(times)
    transactions = _frame(c, tt, _amounts(rng, c, nu, spend[0]), n_customers, start)
    truth = pd.DataFrame({
        "customer_id": _ids(n_customers), "first_time": first, "lam": lam, "p": drop, "nu": nu,
        "mean_spend": spend[0] / nu, "death_time": death, "alive_at_end": np.isnan(death),
    })
    return transactions, truth


def simulate_pareto_nbd(
    n_customers: int, r: float, alpha: float, s: float, beta: float, spend=(6.0, 4.0, 15.0), *,
    n_days: int = 730, first_window: int = 365, start: dt.date = START, seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pareto/NBD (Schmittlein, Morrison & Colombo 1987) with Gamma-Gamma spend ``(p, q, gamma)``.

    lambda ~ Gamma(r, rate alpha) purchases a day, mu ~ Gamma(s, rate beta) dropouts a day;
    a lifetime tau ~ Exponential(mu) from the first purchase, Poisson purchases while alive.
    Truth columns: ``first_time``, ``lam``, ``mu``, ``nu``, ``mean_spend``, ``death_time``
    (first_time + tau) and ``alive_at_end`` (death_time >= n_days).
    """
    rng = np.random.default_rng(seed)
    first = rng.uniform(0, first_window, n_customers)
    lam = rng.gamma(r, 1.0 / alpha, n_customers)
    mu = rng.gamma(s, 1.0 / beta, n_customers)
    nu = _gamma_gamma(rng, n_customers, spend)
    death = first + rng.exponential(1.0 / mu)
    end = np.minimum(death, n_days)
    counts = rng.poisson(lam * (end - first))
    c = np.repeat(np.arange(n_customers), counts)
    repeat = first[c] + rng.uniform(size=c.size) * (end - first)[c]  # Poisson points: uniform given the count
    c, tt = np.concatenate([np.arange(n_customers), c]), np.concatenate([first, repeat])
    transactions = _frame(c, tt, _amounts(rng, c, nu, spend[0]), n_customers, start)
    truth = pd.DataFrame({
        "customer_id": _ids(n_customers), "first_time": first, "lam": lam, "mu": mu, "nu": nu,
        "mean_spend": spend[0] / nu, "death_time": death, "alive_at_end": death >= n_days,
    })
    return transactions, truth


def simulate_seasonal(
    n_customers: int = 4_000, *, n_days: int = 1_095, first_window: int = 730, annual_share: float = 0.3,
    start: dt.date = START, seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A population where buy-till-you-die models are wrong: purchases are regular, not Poisson.

    - "cycle" customers (1 - ``annual_share``): a personal cycle P ~ LogNormal(log 60, 0.6)
      days, clipped to [10, 240]; each next purchase P * (1 + 0.08 Z) days after the previous
      one; after each purchase they drop out with a personal probability d ~ Beta(1, 12).
      Whether such a customer buys in the next 90 days depends on where it is in its cycle
      (days since last purchase against P), which Poisson models cannot see.
    - "annual" customers: one purchase day a year near a personal day of the year (the first
      purchase's, +- 5 days), a second one within 10 days with probability 0.4; each year they
      drop out with probability 0.15. What they did in the same season a year ago predicts them.

    Spend: a personal mean m ~ Gamma(2, scale 25) and amounts ~ Gamma(4, scale m / 4).
    Truth columns: ``kind``, ``first_time``, ``period`` (days), ``drop`` (per cycle),
    ``mean_spend``, ``death_time`` (time of the last purchase of a customer who dropped out;
    NaN if still active at the end).
    """
    rng = np.random.default_rng(seed)
    annual = rng.uniform(size=n_customers) < annual_share
    first = rng.uniform(0, first_window, n_customers)
    period = np.where(annual, 365.0, np.clip(np.exp(rng.normal(np.log(60), 0.6, n_customers)), 10, 240))
    drop = np.where(annual, 0.15, rng.beta(1, 12, n_customers))
    mean_spend = rng.gamma(2.0, 25.0, n_customers)
    cust, times = [np.arange(n_customers)], [first]
    death = np.full(n_customers, np.nan)
    t = first.copy()
    active = np.ones(n_customers, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        extra = annual[idx] & (rng.uniform(size=idx.size) < 0.4)  # the annual buyer's second day
        cust.append(idx[extra])
        times.append(t[idx[extra]] + rng.uniform(1, 10, extra.sum()))
        dies = rng.uniform(size=idx.size) < drop[idx]
        death[idx[dies]] = t[idx[dies]]
        active[idx[dies]] = False
        idx = idx[~dies]
        jitter = np.where(annual[idx], rng.uniform(-5, 5, idx.size), period[idx] * 0.08 * rng.standard_normal(idx.size))
        t[idx] += np.maximum(period[idx] + jitter, 1.0)
        inside = t[idx] < n_days
        active[idx[~inside]] = False
        cust.append(idx[inside])
        times.append(t[idx[inside]])
    c, tt = np.concatenate(cust), np.concatenate(times)
    keep = tt < n_days
    c, tt = c[keep], tt[keep]
    amounts = rng.gamma(4.0, mean_spend[c] / 4.0)
    transactions = _frame(c, tt, amounts, n_customers, start)
    truth = pd.DataFrame({
        "customer_id": _ids(n_customers), "kind": np.where(annual, "annual", "cycle"), "first_time": first,
        "period": period, "drop": drop, "mean_spend": mean_spend, "death_time": death,
    })
    return transactions, truth


def bgnbd_churn_oracle(frequency, recency, T, r: float, alpha: float, a: float, b: float, horizon: float,
                       modified: bool = False) -> np.ndarray:
    """P(no purchase in (T, T + horizon]) under the *planted* BG/NBD (or MBG/NBD) parameters:
    the best any model of this population can do (the "oracle" of the planted-truth tests).

    P(alive) = 1 / (1 + a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x)) for x > 0 and
    1 for x = 0 (Fader, Hardie & Lee 2005, eq. 13); MBG/NBD: a / (b + x) for every x (Batislam,
    Denizel & Filiztekin 2007). While alive, lambda | data ~ Gamma(r + x, alpha + T), so
    P(some purchase in h | alive) = 1 - ((alpha + T) / (alpha + T + h))^(r + x).
    Inputs in the simulation's time unit (days), as from ``rfm_summary(..., time_unit="days")``.
    """
    x, tx, t = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    ratio = ((alpha + t) / (alpha + tx)) ** (r + x)
    if modified:
        p_alive = 1.0 / (1.0 + a / (b + x) * ratio)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            p_alive = np.where(x > 0, 1.0 / (1.0 + a / (b + x - 1) * ratio), 1.0)
    return 1.0 - p_alive * (1.0 - ((alpha + t) / (alpha + t + horizon)) ** (r + x))


def last_day(n_days: int = 730, start: dt.date = START) -> dt.date:
    """The last day a simulation with ``n_days`` can record."""
    return start + dt.timedelta(days=n_days - 1)


def clean_table(transactions: pd.DataFrame) -> ibis.Table:
    """``transactions`` as the cleaned Ibis table of the CLV code (every row a purchase)."""
    frame = pd.DataFrame({
        "customer_id": transactions["customer_id"].astype(str),
        "purchase_date": pd.to_datetime(transactions["purchase_date"]).dt.date,
        "line_amount": transactions["amount"].astype(float),
        "is_return": np.zeros(len(transactions), dtype=bool),
    })
    return ibis.memtable(frame)
