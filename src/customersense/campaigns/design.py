"""Planning a campaign A/B test: a seeded assignment stratified by segment, and its power.

``assign`` shuffles each segment with one seeded generator and puts the first
``round(n * treatment_share)`` customers in treatment: every segment holds exactly that share.

``power_table`` says per segment how many customers per arm a minimum detectable effect
(MDE) needs, alpha 0.05 two-sided, power 0.8 by default, and which MDE the segment's actual
arms can detect:

* conversion: two proportions by the normal approximation with Cohen's h
  (h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p0))), as statsmodels' ``NormalIndPower``;
* revenue per customer: the two-sample t test (noncentral t) with the segment's own standard
  deviation of spend (d = MDE / sd), as statsmodels' ``TTestIndPower``.

Both power functions count both tails; sizes and MDEs are solved for with Brent's method.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import optimize, stats

from .. import schema as S

SEGMENT = "segment"
GROUP = "group"
TREATMENT = "treatment"
CONTROL = "control"


def assign(customers: pd.DataFrame, treatment_share: float = 0.5, seed: int = 0) -> pd.DataFrame:
    """``customer_id, segment, group`` (group "treatment" or "control"), in segment then customer order."""
    if not 0 < treatment_share < 1:
        raise ValueError(f"treatment share {treatment_share}: give a share between 0 and 1")
    frame = customers[[S.CUSTOMER_ID, SEGMENT]].astype({S.CUSTOMER_ID: "string", SEGMENT: "string"})
    frame = frame.sort_values([SEGMENT, S.CUSTOMER_ID], kind="stable").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    group = np.empty(len(frame), dtype=object)
    for _, index in frame.groupby(SEGMENT, sort=True).indices.items():
        shuffled = rng.permutation(index)
        n_treat = int(round(len(index) * treatment_share))
        group[shuffled[:n_treat]] = TREATMENT
        group[shuffled[n_treat:]] = CONTROL
    return frame.assign(**{GROUP: pd.array(group, dtype="string")})


# --- power functions (both tails, as statsmodels) -------------------------------------------

def cohens_h(p1: float, p0: float) -> float:
    return 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p0))


def normal_power(h: float, n1: float, ratio: float = 1.0, alpha: float = 0.05) -> float:
    """Power of the two-sided z test for effect size ``h`` with n1 and n1 * ratio per arm."""
    crit = stats.norm.isf(alpha / 2)
    shift = abs(h) * math.sqrt(n1 * ratio / (1 + ratio))
    return float(stats.norm.sf(crit - shift) + stats.norm.cdf(-crit - shift))


def t_power(d: float, n1: float, ratio: float = 1.0, alpha: float = 0.05) -> float:
    """Power of the two-sided two-sample t test for standardised effect ``d``."""
    n2 = n1 * ratio
    df = n1 + n2 - 2
    crit = stats.t.isf(alpha / 2, df)
    nc = abs(d) * math.sqrt(n1 * n2 / (n1 + n2))
    return float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))


def _solve(f, lo: float, hi: float) -> float:
    """The root of the increasing ``f`` above ``lo``: ``hi`` doubles until f(hi) > 0, so the
    power functions are never asked about absurd sizes or effects."""
    while f(hi) <= 0:
        lo, hi = hi, hi * 2
    return float(optimize.brentq(f, lo, hi, xtol=1e-12, rtol=1e-12, maxiter=500))


def n_per_arm_normal(h: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Customers per arm (equal arms) for effect size h; not rounded."""
    return _solve(lambda n: normal_power(h, n, 1.0, alpha) - power, 1e-6, 4.0)


def n_per_arm_t(d: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Customers per arm (equal arms) for standardised effect d; not rounded."""
    return _solve(lambda n: t_power(d, n, 1.0, alpha) - power, 1.5, 4.0)


def mde_h(n1: float, ratio: float, alpha: float = 0.05, power: float = 0.8) -> float:
    return _solve(lambda h: normal_power(h, n1, ratio, alpha) - power, 1e-9, 0.01)


def mde_d(n1: float, ratio: float, alpha: float = 0.05, power: float = 0.8) -> float:
    return _solve(lambda d: t_power(d, n1, ratio, alpha) - power, 1e-9, 0.01)


def conversion_from_h(h: float, p0: float) -> float:
    """The conversion rate p1 that is ``h`` above p0 (capped at 1)."""
    angle = min(math.pi, h + 2 * math.asin(math.sqrt(p0)))
    return math.sin(angle / 2) ** 2


def power_table(customers: pd.DataFrame, mde: float = 0.1, baseline_conversion: float = 0.1,
                spend: str = "monetary", treatment_share: float = 0.5, alpha: float = 0.05,
                power: float = 0.8) -> pd.DataFrame:
    """One row per segment: sizes needed for a relative lift ``mde`` and the MDE of its actual arms.

    Conversion: from ``baseline_conversion`` to ``baseline_conversion * (1 + mde)``. Revenue per
    customer: ``mde`` times the segment's mean of ``spend``, against its standard deviation of
    ``spend`` (the customers' past spend stands in for the campaign window's; without that
    column the revenue columns are empty). ``warning`` says
    where the segment's smaller arm is below a needed size.
    """
    p0 = float(baseline_conversion)
    p1 = min(1.0, p0 * (1 + mde))
    h = cohens_h(p1, p0)
    n_conv = n_per_arm_normal(h, alpha, power)
    rows = []
    for segment, part in customers.groupby(SEGMENT, sort=True):
        n = len(part)
        n_t = int(round(n * treatment_share))
        n_c = n - n_t
        values = part[spend].astype(float).to_numpy() if spend in part.columns else np.full(n, np.nan)
        mean = float(values.mean())
        sd = float(values.std(ddof=1)) if n > 1 else float("nan")
        d = mde * mean / sd if sd > 0 else float("nan")
        n_rev = n_per_arm_t(d, alpha, power) if np.isfinite(d) and d > 0 else float("nan")
        small = min(n_t, n_c)
        if small >= 2:
            mde_conv = conversion_from_h(mde_h(n_t, n_c / n_t, alpha, power), p0) - p0
            mde_rev = mde_d(n_t, n_c / n_t, alpha, power) * sd if sd > 0 else float("nan")
        else:
            mde_conv = mde_rev = float("nan")
        short = [f"{name} needs {math.ceil(x)}" for name, x in (("conversion", n_conv), ("revenue", n_rev))
                 if np.isfinite(x) and small < math.ceil(x)]
        warning = ""
        if small < 2:
            warning = f"too small to read: {n} customers"
        elif short:
            warning = f"too small to read a {mde:.0%} lift: {small} per arm; " + ", ".join(short)
        rows.append({
            SEGMENT: segment, "customers": n, "n_treatment": n_t, "n_control": n_c,
            "baseline_conversion": p0, "mean_spend": mean, "sd_spend": sd,
            "mde_relative": mde, "n_per_arm_conversion": math.ceil(n_conv),
            "n_per_arm_revenue": math.ceil(n_rev) if np.isfinite(n_rev) else pd.NA,
            "mde_conversion": mde_conv, "mde_revenue": mde_rev, "warning": warning,
        })
    return pd.DataFrame(rows)
