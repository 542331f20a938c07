"""The churn and CLV figure (matplotlib imported lazily, no pyplot): how well the chosen model's
churn probabilities hold on the holdout, how many churners a score catches, the BTYD tracking
curve with the holdout marked, the CLV distribution and churn by segment.

Every number is computed before: the panels draw the frames they are given. An input that is
None or empty leaves its panel out (never an empty panel) and the reason is written under the
title; the layout adapts to the panels left.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .figures import SAVE_DPI, add_caption, freeze_layout, money_label

CALIBRATION = "Calibration: churn in the holdout by decile"
SPEND = "Spend in the holdout by decile"
GAINS = "Gains: churners caught"
TRACKING = "Tracking: cumulative repeat purchases"
CLV = "CLV distribution"
SEGMENTS = "Churn by segment"
PANEL_TITLES = (CALIBRATION, SPEND, GAINS, TRACKING, CLV, SEGMENTS)
NOT_DRAWN = "Not drawn"
NO_DATA = "no data given"
NO_POSITIVE_CLV = "no customer has a positive CLV"
# The naive scores of the holdout comparison: drawn grey and dashed, under the models.
BASELINES = ("recency only", "frequency only", "last-period spend")
HOLDOUT = "holdout"

DECILE_COLUMNS = ("decile", "customers", "predicted_churn", "actual_churn", "predicted_spend", "actual_spend")
GAINS_COLUMNS = ("candidate", "share_targeted", "share_of_churners")
TRACKING_COLUMNS = ("period_end", "actual_cumulative", "expected_cumulative")
SEGMENT_COLUMNS = ("segment", "customers", "churn_probability", "clv")
PER_ROW = 3          # panels across at most
PANEL_WIDTH, PANEL_HEIGHT = 6.0, 4.6  # inches


def clv_figure(
    deciles: pd.DataFrame | None,
    gains: pd.DataFrame | None,
    tracking: pd.DataFrame | None,
    clv,
    churn_by_segment: pd.DataFrame | None,
    *,
    caption: str,
    currency: str | None = None,
    title: str = "Churn and customer lifetime value",
    chosen: str = "",
    horizon_days: int = 90,
    missing: Mapping[str, str] | None = None,
):
    """A :class:`matplotlib.figure.Figure` with the panels of :data:`PANEL_TITLES` that have data,
    titled ``title`` with ``caption`` (dataset · as of · currency) under it.

    ``deciles``: one row per decile of the chosen model's churn probability on the holdout
    (:data:`DECILE_COLUMNS`): the calibration panel (predicted against actual churn share, with
    the diagonal) and the spend panel (mean predicted and actual spend per customer).
    ``gains``: cumulative share of the holdout's churners caught per share targeted, one curve per
    ``candidate`` (:data:`GAINS_COLUMNS`); ``chosen`` is drawn bold, :data:`BASELINES` grey and
    dashed. ``tracking``: from :func:`~customersense.clv.evaluation.tracking_data`, the holdout
    (``attrs["calibration_end"]`` to the last period) shaded; ``attrs["model"]`` names the curve.
    ``clv``: per-customer CLV, drawn on a log axis; zeros and missing values are counted on the
    panel. ``churn_by_segment``: :data:`SEGMENT_COLUMNS`, one bar per segment sorted by churn.

    An input that is None or empty (or a CLV without a positive value) leaves its panel out;
    ``missing`` maps a panel title to the reason, written under the title (a panel left out that
    ``missing`` does not name is written as "no data given").
    """
    from matplotlib.figure import Figure

    missing = dict(missing or {})
    unknown = sorted(set(missing) - set(PANEL_TITLES))
    if unknown:
        raise ValueError(f"missing names no panel: {unknown}; panels are {list(PANEL_TITLES)}")
    clv_values = None if _empty(clv) else np.asarray(clv, dtype=float)
    if clv_values is not None and not (clv_values > 0).any():
        missing.setdefault(CLV, NO_POSITIVE_CLV)
        clv_values = None
    given = {CALIBRATION: deciles, SPEND: deciles, GAINS: gains, TRACKING: tracking, CLV: clv_values,
             SEGMENTS: churn_by_segment}
    drawn = [t for t in PANEL_TITLES if not _empty(given[t])]
    wrongly = [t for t in drawn if t in missing]
    if wrongly:
        raise ValueError(f"missing names panels that have data: {wrongly}")
    for name, frame, columns in (("deciles", deciles, DECILE_COLUMNS), ("gains", gains, GAINS_COLUMNS),
                                 ("tracking", tracking, TRACKING_COLUMNS),
                                 ("churn_by_segment", churn_by_segment, SEGMENT_COLUMNS)):
        _require(frame, columns, name)

    rows = _rows(len(drawn))
    across = max(rows, default=1)
    fig = Figure(figsize=(PANEL_WIDTH * across, 1.6 + PANEL_HEIGHT * max(len(rows), 1)), dpi=SAVE_DPI,
                 layout="constrained")
    notes = [f"{NOT_DRAWN}: {t}: {missing.get(t, NO_DATA)}" for t in PANEL_TITLES if t not in drawn]
    host = fig.subfigures(1, 1) if notes else fig  # a subfigure's title: the notes sit under the caption
    axes = dict(zip(drawn, _layout(host, rows)))
    draw = {CALIBRATION: lambda ax: _calibration(ax, deciles, chosen, horizon_days),
            SPEND: lambda ax: _spend(ax, deciles, currency),
            GAINS: lambda ax: _gains(ax, gains, chosen),
            TRACKING: lambda ax: _tracking(ax, tracking),
            CLV: lambda ax: _clv(ax, clv_values, currency),
            SEGMENTS: lambda ax: _segments(ax, churn_by_segment, horizon_days, currency)}
    for name, ax in axes.items():
        draw[name](ax)
        ax.set_title(name)
    add_caption(fig, title, caption, fontsize=14)
    if notes:
        host.suptitle("\n".join(_wrap(n, int(12 * PANEL_WIDTH * across)) for n in notes), fontsize=10, color="dimgray")
    return freeze_layout(fig)


def _empty(value) -> bool:
    return value is None or len(value) == 0


def _require(frame: pd.DataFrame | None, columns: tuple[str, ...], name: str) -> None:
    if _empty(frame):
        return
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ValueError(f"{name} lacks the columns {absent}")


def _rows(n: int) -> list[int]:
    """Panels per row: at most :data:`PER_ROW` across, the rows as even as they can be (4: 2 + 2)."""
    if n == 0:
        return []
    n_rows = math.ceil(n / PER_ROW)
    return [n // n_rows + (i < n % n_rows) for i in range(n_rows)]


def _layout(host, rows: list[int]) -> list:
    """Axes row by row; a row of fewer panels shares the width among them (grid of 6 columns)."""
    if not rows:
        return []
    grid = host.add_gridspec(len(rows), 6)
    return [host.add_subplot(grid[r, i * 6 // k:(i + 1) * 6 // k]) for r, k in enumerate(rows) for i in range(k)]


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width))


def _calibration(ax, deciles: pd.DataFrame, chosen: str, horizon_days: int) -> None:
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    label = f"deciles of {chosen}" if chosen else "deciles of the chosen model"
    ax.plot(deciles["predicted_churn"], deciles["actual_churn"], marker="o", color="tab:red", label=label)
    for d, x, y in zip(deciles["decile"], deciles["predicted_churn"], deciles["actual_churn"]):
        ax.annotate(str(int(d)), (x, y), textcoords="offset points", xytext=(5, -10), fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"predicted P(no purchase in {horizon_days} days), decile mean")
    ax.set_ylabel("actual share without a purchase in the holdout")
    ax.legend(loc="upper left", fontsize=9)


def _spend(ax, deciles: pd.DataFrame, currency: str | None) -> None:
    pos = np.arange(len(deciles))
    ax.bar(pos - 0.2, deciles["predicted_spend"], width=0.4, color="tab:blue", label="predicted")
    ax.bar(pos + 0.2, deciles["actual_spend"], width=0.4, color="black", label="actual")
    ax.set_xticks(pos, [str(int(d)) for d in deciles["decile"]])
    ax.set_xlabel("decile of predicted churn (1 = least likely to churn)")
    ax.set_ylabel(money_label("mean spend per customer in the holdout", currency))
    ax.legend(loc="upper right", fontsize=9)


def _gains(ax, gains: pd.DataFrame, chosen: str) -> None:
    ax.plot([0, 1], [0, 1], color="black", linestyle=":", linewidth=1, label="random")
    colors = iter(("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive"))
    for name in pd.unique(gains["candidate"]):
        curve = gains[gains["candidate"] == name]
        if name == chosen:
            style = {"color": "tab:red", "linewidth": 2.8, "label": f"{name} (chosen)", "zorder": 3}
        elif name in BASELINES:
            style = {"color": "grey", "linestyle": "--", "linewidth": 1.2, "label": name}
        else:
            style = {"color": next(colors, "tab:cyan"), "linewidth": 1.2, "label": name}
        ax.plot(curve["share_targeted"], curve["share_of_churners"], **style)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("share of holdout customers targeted (highest churn score first)")
    ax.set_ylabel("share of the holdout's churners caught")
    ax.legend(loc="lower right", fontsize=8)


def _tracking(ax, tracking: pd.DataFrame) -> None:
    x = pd.to_datetime(tracking["period_end"])
    model = tracking.attrs.get("model")
    ax.plot(x, tracking["actual_cumulative"], color="black", label="actual")
    ax.plot(x, tracking["expected_cumulative"], color="tab:blue", linestyle="--",
            label=f"expected ({model})" if model else "expected")
    cal_end = tracking.attrs.get("calibration_end")
    if cal_end:
        start = pd.Timestamp(cal_end)
        ax.axvspan(start, x.iloc[-1], color="grey", alpha=0.18, linewidth=0, label=HOLDOUT)
        ax.text(start, 0.97, f" {HOLDOUT}", transform=ax.get_xaxis_transform(), va="top", ha="left",
                fontsize=9, color="dimgray")
    ax.set_ylabel("cumulative repeat purchases")
    ax.legend(loc="upper left", bbox_to_anchor=(0, 0.9), fontsize=9)
    ax.tick_params(axis="x", labelrotation=30)


def _clv(ax, values: np.ndarray, currency: str | None) -> None:
    finite = np.isfinite(values)
    positive = values[finite & (values > 0)]
    lo, hi = float(positive.min()), float(positive.max())
    bins = np.geomspace(lo, hi, 41) if hi > lo else np.array([lo / 1.1, hi * 1.1])
    ax.hist(positive, bins=bins, color="tab:blue", alpha=0.8)
    ax.set_xscale("log")
    ax.set_xlabel(money_label("customer lifetime value", currency, "log scale"))
    ax.set_ylabel("customers")
    zero, negative, absent = int((values[finite] == 0).sum()), int((values[finite] < 0).sum()), int((~finite).sum())
    counts = [f"{len(positive):,} drawn", f"{zero:,} at zero", f"{absent:,} missing"]
    if negative:
        counts.append(f"{negative:,} negative")
    ax.text(0.98, 0.97, "customers: " + ", ".join(counts), transform=ax.transAxes, ha="right", va="top",
            fontsize=9, color="dimgray", bbox={"facecolor": "white", "alpha": 0.8, "linewidth": 0})


def _segments(ax, by_segment: pd.DataFrame, horizon_days: int, currency: str | None) -> None:
    rows = by_segment.sort_values(["churn_probability", "segment"], kind="stable").reset_index(drop=True)
    pos = np.arange(len(rows))
    bars = ax.barh(pos, rows["churn_probability"], color="tab:red", alpha=0.8)
    money = f" {currency}" if currency else ""
    ax.bar_label(bars, [f"{p:.2f} · mean CLV {v:,.0f}{money}" for p, v in zip(rows["churn_probability"], rows["clv"])],
                 padding=3, fontsize=8)
    ax.set_yticks(pos, [f"{s} ({n:,})" for s, n in zip(rows["segment"], rows["customers"])],
                  fontsize=9 if len(rows) <= 12 else 7)
    ax.set_xlim(0, 1.35)
    ax.set_xticks(np.linspace(0, 1, 6))
    ax.set_xlabel(f"mean P(no purchase in the next {horizon_days} days)")
    ax.set_ylabel("segment (customers)")
