"""Compiled per-customer aggregates of every snapshot in one pass over the orders (numba),
imported only when :mod:`customersense.evolution.snapshots` takes its DuckDB path.

Input: each customer's orders sorted by first day (``order_start[c]:order_start[c + 1]``), with
their first and last day (days since 1970-01-01) and whole value; an order whose lines span
midnight also points to its per-day pieces (``piece_start``, ``piece_count``, sorted by day);
each customer's returns per day (``ret_start``), sorted by day; the snapshots' dates ``as_of``
(ascending) and where each snapshot's rows start in the outputs (``row_start``).

An order is in snapshot s when its first day is before ``as_of[s]``: with the orders sorted by
first day, a prefix of the customer's orders, longer for every later date. Its value there is its
whole value when its last day is before the date, else the sum of its pieces before the date.
Per (snapshot, customer), as the run's feature query aggregates them: the number of orders, the
sum of their values, their sample standard deviation (two passes: the mean, then the squared
deviations from it; 0 for one order), the first and last order day, the distinct order days and
the returns before the date (0 for none); then the feature columns derived from them as
:func:`~customersense.features.customer.derived_features` derives them, with the same IEEE
operations (numba does not fuse or reorder them without ``fastmath``). A customer without an
order before a date is not in that snapshot; a snapshot's rows come in the customers' order.
"""

from __future__ import annotations

import numpy as np

from .._numba_cache import njit  # numba.njit, its cache in a per-user folder (not the package)


@njit(nogil=True, cache=True)
def _round6(x):  # pragma: no cover (compiled)
    """:func:`~customersense.features.customer.round6`: the same IEEE operations."""
    return np.floor(x * 1e6 + 0.5) / 1e6


@njit(nogil=True, cache=True, error_model="numpy")  # x / 0.0 is inf or NaN, as in the engine
def snapshot_features(order_start, first_day, last_day, value, piece_start, piece_count, piece_day, piece_amount,
                      ret_start, ret_day, ret_amount, as_of, row_start, code, recency, frequency, monetary, gross,
                      returns, avg_value, std, tenure, interpurchase, return_rate):  # pragma: no cover (compiled)
    """Fills the outputs, one row per (snapshot, customer): the customer's number and the feature
    columns as :func:`~customersense.features.customer.derived_features` computes them from the
    aggregates (see the module's docstring), with the same operations in the same order."""
    n_snap = as_of.shape[0]
    written = row_start[:n_snap].copy()
    seen = np.empty(value.shape[0])  # each order's value in the current snapshot
    for c in range(order_start.shape[0] - 1):
        o0, o1 = order_start[c], order_start[c + 1]
        r0, r1 = ret_start[c], ret_start[c + 1]
        k, distinct, r, returned = o0, 0, r0, 0.0
        for s in range(n_snap):
            day = as_of[s]
            while k < o1 and first_day[k] < day:
                if k == o0 or first_day[k] != first_day[k - 1]:
                    distinct += 1
                k += 1
            if k == o0:
                continue
            while r < r1 and ret_day[r] < day:
                returned += ret_amount[r]
                r += 1
            n = k - o0
            total = 0.0
            for i in range(o0, k):  # the orders' values in this snapshot (inline: a call costs refcounts)
                v = value[i]
                if last_day[i] >= day:  # spans midnight before the date: its pieces before it
                    v = 0.0
                    for j in range(piece_start[i], piece_start[i] + piece_count[i]):
                        if piece_day[j] < day:
                            v += piece_amount[j]
                seen[i] = v
                total += v
            sd = 0.0  # the engine's NULL for one order, filled with 0
            if n > 1:
                mean = total / n
                squares = 0.0
                for i in range(o0, k):
                    d = seen[i] - mean
                    squares += d * d
                sd = np.sqrt(squares / (n - 1))
            ret = -returned if r > r0 else 0.0
            first, last = first_day[o0], first_day[k - 1]
            row = written[s]
            written[s] += 1
            code[row] = c
            recency[row] = day - last
            frequency[row] = n
            monetary[row] = _round6(total - ret)
            gross[row] = _round6(total)
            returns[row] = _round6(ret)
            avg_value[row] = _round6(gross[row] / n)
            std[row] = _round6(sd)
            tenure[row] = day - first
            interpurchase[row] = _round6(np.float64(last - first) / np.float64(distinct - 1)) if distinct > 1 else np.nan
            # features.customer.derived_features: 0 or 1 where the purchases are worth nothing
            return_rate[row] = _round6(ret / total) if total > 0 else (1.0 if ret > 0 else 0.0)
