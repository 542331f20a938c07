"""Simulation of customers from the BTYD models with known parameters (seeded by the caller's
generator): purchase histories over (0, T] and whether they buy in (T, T + horizon]."""

from __future__ import annotations

import numpy as np


def _history(rng, n_arrivals, k_stop, end):
    """x and t_x of Poisson arrivals on (0, end] stopped after the ``k_stop``-th: x = min(N, K), t_x
    the x-th of N uniform arrival times (a Beta(x, N-x+1) fraction of ``end``)."""
    x = np.minimum(n_arrivals, k_stop)
    frac = rng.beta(np.maximum(x, 1), np.maximum(n_arrivals - x, 0) + 1)
    return x.astype(float), np.where(x > 0, end * frac, 0.0)


def simulate_beta_geo(rng, params, T, horizon, modified):
    """BG/NBD (dropout after a repeat purchase) or MBG/NBD (also right after the first purchase)."""
    n = T.size
    lam = rng.gamma(params["r"], 1 / params["alpha"], n)
    p = rng.beta(params["a"], params["b"], n)
    stop = rng.geometric(p) - (1 if modified else 0)  # the repeat purchase after which the customer drops out
    arrivals = rng.poisson(lam * T)
    x, tx = _history(rng, arrivals, stop, T)
    alive = arrivals < stop
    bought = alive & (rng.random(n) < -np.expm1(-lam * horizon))
    return x, tx, ~bought


def simulate_pareto(rng, params, T, horizon):
    n = T.size
    lam = rng.gamma(params["r"], 1 / params["alpha"], n)
    mu = rng.gamma(params["s"], 1 / params["beta"], n)
    death = rng.exponential(1 / mu)
    end = np.minimum(death, T)
    arrivals = rng.poisson(lam * end)
    x, tx = _history(rng, arrivals, arrivals, end)
    first = T + rng.exponential(1 / lam)
    bought = (death > T) & (first < np.minimum(death, T + horizon))
    return x, tx, ~bought
