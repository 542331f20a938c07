"""Reading a campaign A/B test: uplift per segment and overall, in numpy.

Per segment, from each customer's revenue in the campaign window ``y``, conversion (any
purchase in the window) and pre-period revenue ``x``:

* raw uplift = mean(y | treatment) - mean(y | control), 95% CI and p-value by Welch's t test;
  relative uplift mean_t / mean_c - 1 with a delta-method interval (``relative_uplift``);
* CUPED uplift: y - theta (x - mean(x)) with theta = cov(y, x) / var(x) over both arms of the
  segment together (pooled), then the same Welch test; theta = 0 when x does not vary;
* conversion uplift: the difference of the two rates with its normal (unpooled) 95% CI;
* sample-ratio mismatch: chi-square test (1 df) of the arms' sizes against the planned share.

``all`` combines the segments stratified by their sizes: the weighted sum of the segments'
uplifts, its variance the sum of squared weights times their variances, normal intervals.
Across segments (not ``all``) the p-values are corrected by Holm's step-down method
(family-wise error rate). ``uplift`` and its interval are the CUPED ones when a pre-period
exists (``primary``); both are reported. Incremental revenue = uplift x n_treatment; with a
cost per contact, ROI = (incremental revenue x margin - cost) / cost, its interval from the
uplift interval's ends.

The statistics work on the last axis of 2-D arrays too (repetitions x customers), which the
tests use to run hundreds of seeded experiments at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

LEVEL = 0.95
SRM_ALPHA = 0.001


def welch(y_t: np.ndarray, y_c: np.ndarray, level: float = LEVEL) -> dict[str, np.ndarray]:
    """Difference of means (last axis) with Welch's CI and two-sided p-value."""
    n_t, n_c = y_t.shape[-1], y_c.shape[-1]
    diff = y_t.mean(axis=-1) - y_c.mean(axis=-1)
    v_t = y_t.var(axis=-1, ddof=1) / n_t
    v_c = y_c.var(axis=-1, ddof=1) / n_c
    se = np.sqrt(v_t + v_c)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = (v_t + v_c) ** 2 / (v_t ** 2 / (n_t - 1) + v_c ** 2 / (n_c - 1))
        q = stats.t.ppf(0.5 + level / 2, df)
        p = 2 * stats.t.sf(np.abs(diff / se), df)
    return {"uplift": diff, "se": se, "ci_low": diff - q * se, "ci_high": diff + q * se, "p_value": p,
            "mean_t": y_t.mean(axis=-1), "mean_c": y_c.mean(axis=-1), "var_t": v_t, "var_c": v_c}


def relative(out: dict[str, np.ndarray], level: float = LEVEL) -> dict[str, np.ndarray]:
    """Relative uplift mean_t / mean_c - 1 of a :func:`welch` result, 95% CI by the delta method
    (var = var_t / m_c^2 + m_t^2 var_c / m_c^4, the arms independent), normal quantiles."""
    m_t, m_c = out["mean_t"], out["mean_c"]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = m_t / m_c - 1
        se = np.sqrt(out["var_t"] / m_c ** 2 + m_t ** 2 * out["var_c"] / m_c ** 4)
    z = stats.norm.ppf(0.5 + level / 2)
    return {"relative": r, "ci_low": r - z * se, "ci_high": r + z * se}


def cuped_theta(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """cov(y, x) / var(x) along the last axis (0 where x does not vary)."""
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-1, keepdims=True)
    var = (xc * xc).sum(axis=-1)
    cov = (xc * yc).sum(axis=-1)
    return np.divide(cov, var, out=np.zeros_like(np.asarray(cov, dtype=float)), where=var > 0)


def cuped(y_t, y_c, x_t, x_c, level: float = LEVEL) -> dict[str, np.ndarray]:
    """Welch on the CUPED-adjusted outcomes, theta pooled over both arms."""
    y = np.concatenate([y_t, y_c], axis=-1)
    x = np.concatenate([x_t, x_c], axis=-1)
    theta = cuped_theta(y, x)[..., None]
    mean_x = x.mean(axis=-1, keepdims=True)
    out = welch(y_t - theta * (x_t - mean_x), y_c - theta * (x_c - mean_x), level)
    out["theta"] = theta[..., 0]
    return out


def proportions(c_t: np.ndarray, c_c: np.ndarray, level: float = LEVEL) -> dict[str, np.ndarray]:
    """Difference of conversion rates with the unpooled normal CI."""
    p_t, p_c = c_t.mean(axis=-1), c_c.mean(axis=-1)
    se = np.sqrt(p_t * (1 - p_t) / c_t.shape[-1] + p_c * (1 - p_c) / c_c.shape[-1])
    z = stats.norm.ppf(0.5 + level / 2)
    d = p_t - p_c
    return {"uplift": d, "ci_low": d - z * se, "ci_high": d + z * se, "rate_t": p_t, "rate_c": p_c}


def holm(p: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values along the last axis (NaN stays NaN and is not counted)."""
    p = np.asarray(p, dtype=float)
    filled = np.where(np.isnan(p), np.inf, p)
    order = np.argsort(filled, axis=-1, kind="stable")
    ranked = np.take_along_axis(filled, order, axis=-1)
    ranked = np.where(np.isfinite(ranked), ranked, 1.0)  # missing ones sort last, masked below
    m = np.isfinite(filled).sum(axis=-1, keepdims=True)
    factors = m - np.arange(p.shape[-1])
    adjusted = np.minimum(1.0, np.maximum.accumulate(ranked * factors, axis=-1))
    out = np.empty_like(adjusted)
    np.put_along_axis(out, order, adjusted, axis=-1)
    return np.where(np.isnan(p), np.nan, out)


def srm(n_t, n_c, share: float) -> tuple[float, float]:
    """Chi-square statistic and p-value of the arms' sizes against the planned treatment share."""
    n = n_t + n_c
    e_t, e_c = n * share, n * (1 - share)
    chi = (n_t - e_t) ** 2 / e_t + (n_c - e_c) ** 2 / e_c
    return float(chi), float(stats.chi2.sf(chi, 1))


def analyse(frame: pd.DataFrame, treatment_share: float = 0.5, cost_per_contact: float | None = None,
            margin: float = 1.0, has_pre_period: bool = True) -> pd.DataFrame:
    """One row per segment plus ``all`` from ``segment, group, revenue, converted, pre_revenue``."""
    rows = []
    for segment, part in frame.groupby("segment", sort=True):
        rows.append(_segment_row(str(segment), part, treatment_share, has_pre_period))
    table = pd.DataFrame(rows)
    table["p_value_holm"] = holm(table["p_value"].to_numpy())
    table = pd.concat([table, pd.DataFrame([_overall(table, frame, treatment_share)])], ignore_index=True)
    table["significant"] = table["p_value_holm"] < 1 - LEVEL
    table["incremental_revenue"] = table["uplift"] * table["n_treatment"]
    if cost_per_contact:
        cost = cost_per_contact * table["n_treatment"]
        for suffix, col in (("", "uplift"), ("_ci_low", "uplift_ci_low"), ("_ci_high", "uplift_ci_high")):
            table["roi" + suffix] = (table[col] * table["n_treatment"] * margin - cost) / cost
    else:
        table["roi"] = table["roi_ci_low"] = table["roi_ci_high"] = np.nan
    return table


def _segment_row(segment: str, part: pd.DataFrame, share: float, has_pre: bool) -> dict:
    t, c = part[part["group"] == "treatment"], part[part["group"] == "control"]
    if min(len(t), len(c)) < 2:  # no variance in an arm: nothing to estimate (and left out of "all")
        chi, p_srm = srm(len(t), len(c), share)
        return {"segment": segment, "n_treatment": len(t), "n_control": len(c), "uplift": np.nan,
                "uplift_se": np.nan, "uplift_raw": np.nan, "uplift_raw_se": np.nan, "p_value": np.nan,
                "conversion_uplift": np.nan, "srm_chi2": chi, "srm_p_value": p_srm, "srm_mismatch": p_srm < SRM_ALPHA}
    y_t, y_c = t["revenue"].to_numpy(float), c["revenue"].to_numpy(float)
    raw = welch(y_t, y_c)
    adj = cuped(y_t, y_c, t["pre_revenue"].to_numpy(float), c["pre_revenue"].to_numpy(float)) if has_pre else raw
    conv = proportions(t["converted"].to_numpy(float), c["converted"].to_numpy(float))
    chi, p_srm = srm(len(t), len(c), share)
    return {
        "segment": segment, "n_treatment": len(t), "n_control": len(c),
        "revenue_per_customer_treatment": y_t.mean(), "revenue_per_customer_control": y_c.mean(),
        "uplift": float(adj["uplift"]), "uplift_ci_low": float(adj["ci_low"]),
        "uplift_ci_high": float(adj["ci_high"]), "uplift_se": float(adj["se"]),
        **{f"relative_uplift{k}": float(v) for k, v in zip(("", "_ci_low", "_ci_high"), relative(adj).values())},
        "p_value": float(adj["p_value"]),
        "uplift_raw": float(raw["uplift"]), "uplift_raw_ci_low": float(raw["ci_low"]),
        "uplift_raw_ci_high": float(raw["ci_high"]), "uplift_raw_se": float(raw["se"]),
        "p_value_raw": float(raw["p_value"]), "cuped_theta": float(adj.get("theta", 0.0)),
        "conversion_treatment": float(conv["rate_t"]), "conversion_control": float(conv["rate_c"]),
        "conversion_uplift": float(conv["uplift"]), "conversion_uplift_ci_low": float(conv["ci_low"]),
        "conversion_uplift_ci_high": float(conv["ci_high"]),
        "srm_chi2": chi, "srm_p_value": p_srm, "srm_mismatch": p_srm < SRM_ALPHA,
    }


def _overall(table: pd.DataFrame, frame: pd.DataFrame, share: float) -> dict:
    """``all``: the segments' estimates weighted by their sizes (normal intervals); segments
    with fewer than two customers in an arm are left out of the estimate (not of the counts)."""
    counts = table
    table = table[np.isfinite(table["uplift_se"])]
    n = table["n_treatment"] + table["n_control"]
    w = n / n.sum()
    z = stats.norm.ppf(0.5 + LEVEL / 2)
    row: dict = {"segment": "all", "n_treatment": int(counts["n_treatment"].sum()),
                 "n_control": int(counts["n_control"].sum())}
    treated = frame["group"] == "treatment"
    row["revenue_per_customer_treatment"] = frame.loc[treated, "revenue"].mean()
    row["revenue_per_customer_control"] = frame.loc[~treated, "revenue"].mean()
    for prefix in ("uplift", "uplift_raw"):
        est = float((w * table[prefix]).sum())
        se = float(np.sqrt((w ** 2 * table[prefix + "_se"] ** 2).sum()))
        row.update({prefix: est, prefix + "_se": se, prefix + "_ci_low": est - z * se, prefix + "_ci_high": est + z * se})
        row["p_value" if prefix == "uplift" else "p_value_raw"] = float(2 * stats.norm.sf(abs(est / se))) if se else np.nan
    control_mean = float((w * table["revenue_per_customer_control"]).sum())  # control mean fixed here
    for suffix in ("", "_ci_low", "_ci_high"):
        row["relative_uplift" + suffix] = row["uplift" + suffix] / control_mean if control_mean else np.nan
    conv = float((w * table["conversion_uplift"]).sum())
    conv_se = np.sqrt((w ** 2 * ((table["conversion_uplift_ci_high"] - table["conversion_uplift_ci_low"]) / (2 * z)) ** 2).sum())
    row.update({"conversion_treatment": frame.loc[treated, "converted"].mean(),
                "conversion_control": frame.loc[~treated, "converted"].mean(), "conversion_uplift": conv,
                "conversion_uplift_ci_low": conv - z * conv_se, "conversion_uplift_ci_high": conv + z * conv_se})
    row["srm_chi2"], row["srm_p_value"] = srm(row["n_treatment"], row["n_control"], share)
    row["srm_mismatch"] = row["srm_p_value"] < SRM_ALPHA
    row["p_value_holm"] = row["p_value"]  # one overall test: nothing to correct
    return row
