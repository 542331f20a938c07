"""A SIMULATED campaign: seeded transactions with a known, planted uplift per segment.

This is a simulation for demonstrations and tests, not data. Each customer has a latent
spending level ``a`` (lognormal, the same in both periods), so pre-period spend predicts the
campaign window's. In each period a customer places Poisson(``rate``) orders of value
``a x lognormal(0, 0.3)``; a treated customer's rate in the campaign window is
``rate x (1 + lift[segment])``. The planted uplift in revenue per customer is therefore
``rate x lift x E[order value]`` exactly, with E[order value] = exp(mu + (0.5^2 + 0.3^2) / 2)
(returned as ``truth``); segments not named in ``lift`` have none.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import schema as S
from .outcomes import pre_period_start

LEVEL_SIGMA = 0.5
ORDER_SIGMA = 0.3


def simulate_campaign(assignments: pd.DataFrame, lift: dict[str, float], start: dt.date, end: dt.date,
                      rate: float = 0.8, mean_log_value: float = 3.0, seed: int = 0) -> tuple[pa.Table, pd.DataFrame]:
    """Simulated transactions (customer_id, order_id, timestamp, quantity, unit_price, product_id)
    over the pre-period and ``[start, end)``, and the truth per segment (segment, lift,
    planted_uplift: revenue per customer, treatment minus control, in expectation)."""
    rng = np.random.default_rng(seed)
    ids = assignments[S.CUSTOMER_ID].astype(str).to_numpy()
    segments = assignments["segment"].astype(str).to_numpy()
    treated = (assignments["group"] == "treatment").to_numpy()
    level = np.exp(mean_log_value + LEVEL_SIGMA * rng.standard_normal(len(ids)))
    seg_lift = np.array([lift.get(s, 0.0) for s in segments])
    pre_start = pre_period_start(start, end)
    periods = ((pre_start, start, np.full(len(ids), rate)), (start, end, rate * (1 + seg_lift * treated)))
    cust, when, value = [], [], []
    for lo, hi, rates in periods:
        counts = rng.poisson(rates)
        who = np.repeat(np.arange(len(ids)), counts)
        seconds = rng.integers(0, int((hi - lo).total_seconds()), size=len(who))
        cust.append(who)
        when.append(np.datetime64(lo, "s") + seconds.astype("timedelta64[s]"))
        value.append(level[who] * np.exp(ORDER_SIGMA * rng.standard_normal(len(who))))
    who, ts, val = np.concatenate(cust), np.concatenate(when), np.round(np.concatenate(value), 2)
    table = pa.table({
        S.CUSTOMER_ID: pa.array(ids[who]),
        S.ORDER_ID: pa.array([f"S{i:08d}" for i in range(len(who))]),
        S.TIMESTAMP: pa.array(ts, pa.timestamp("s")),
        S.QUANTITY: pa.array(np.ones(len(who), dtype=np.int64)),
        S.UNIT_PRICE: pa.array(val),
        S.PRODUCT_ID: pa.array(["SIM001"] * len(who)),
    })
    mean_value = float(np.exp(mean_log_value + (LEVEL_SIGMA ** 2 + ORDER_SIGMA ** 2) / 2))
    names = sorted(set(segments))
    truth = pd.DataFrame({"segment": names, "lift": [lift.get(s, 0.0) for s in names]})
    truth["planted_uplift"] = rate * truth["lift"] * mean_value
    return table, truth
