"""The figure of the CLV model checks (matplotlib imported lazily, no pyplot).

Only panels with something to draw are drawn: without a holdout evaluation (the calibration fit
failed) the calibration panel is left out and the reason is written under the title, and
P(alive) or CLV values that are not given leave their panel out too.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .figures import SAVE_DPI, add_caption, freeze_layout, money_label

PANEL_TITLES = (
    "Tracking: cumulative repeat purchases",
    "Calibration: holdout purchases by calibration frequency",
    "P(alive) distribution",
    "CLV distribution",
)
NO_HOLDOUT = "No calibration panel: the holdout evaluation is not available"


def clv_figure(
    tracking: pd.DataFrame,
    calibration_table: pd.DataFrame | None,
    p_alive=None,
    clv=None,
    *,
    caption: str,
    currency: str | None = None,
    title: str = "Customer lifetime value",
    holdout_error: str | None = None,
):
    """Build a :class:`matplotlib.figure.Figure` with the panels of :data:`PANEL_TITLES` that
    have data, titled ``title`` with ``caption`` (dataset · as of · currency) under it.

    ``tracking`` comes from :func:`~customersense.clv.evaluation.tracking_data` (a dashed
    line marks ``attrs["calibration_end"]`` when set), ``calibration_table`` from
    :func:`~customersense.clv.evaluation.calibration_by_frequency` (None or empty: no holdout
    evaluation; ``holdout_error`` says why, on the figure); ``p_alive`` and ``clv`` are
    per-customer values from the model fitted on all data (None: their panel is left out).
    The CLV axis names ``currency``; CLV is drawn on log-spaced bins when every value is
    positive (its tail is long), else on linear bins.
    """
    from matplotlib.figure import Figure

    has_cal = calibration_table is not None and len(calibration_table) > 0
    has = [True, has_cal, p_alive is not None and len(p_alive) > 0, clv is not None and len(clv) > 0]
    titles = [t for t, h in zip(PANEL_TITLES, has) if h]
    fig = Figure(figsize=(13, 9 if len(titles) > 2 else 5.5), dpi=SAVE_DPI, layout="constrained")
    axes = dict(zip(titles, _layout(fig, len(titles))))

    ax_track = axes[PANEL_TITLES[0]]
    x = pd.to_datetime(tracking["period_end"])
    ax_track.plot(x, tracking["actual_cumulative"], color="black", label="actual")
    ax_track.plot(x, tracking["expected_cumulative"], color="tab:blue", linestyle="--", label="model")
    cal_end = tracking.attrs.get("calibration_end")
    if cal_end:
        ax_track.axvline(pd.Timestamp(dt.date.fromisoformat(cal_end)), color="grey", linestyle=":",
                         label="calibration end")
    ax_track.set_ylabel("cumulative repeat purchases")
    ax_track.legend(loc="upper left")
    ax_track.tick_params(axis="x", labelrotation=30)

    if has_cal:
        ax_cal = axes[PANEL_TITLES[1]]
        pos = np.arange(len(calibration_table))
        ax_cal.plot(pos, calibration_table["actual"], marker="o", color="black", label="actual")
        ax_cal.plot(pos, calibration_table["predicted"], marker="s", color="tab:blue", linestyle="--",
                    label="model")
        ax_cal.set_xticks(pos, [str(i) for i in calibration_table.index])
        ax_cal.set_xlabel("repeat purchases in calibration")
        ax_cal.set_ylabel("mean purchases in holdout")
        ax_cal.legend(loc="upper left")
    if has[2]:
        _histogram(axes[PANEL_TITLES[2]], p_alive, "P(alive) at the end of the data (model fitted on all data)",
                   bins=np.linspace(0, 1, 21), log_counts=True)
    if has[3]:
        values = np.asarray(clv, dtype=float)
        values = values[np.isfinite(values)]
        ax_clv = axes[PANEL_TITLES[3]]
        if len(values) and values.min() > 0 and values.max() > values.min():
            ax_clv.set_xscale("log")
            bins = np.geomspace(values.min(), values.max(), 41)
            scale = "log scale"
        else:
            bins, scale = 40, ""
        _histogram(ax_clv, values, money_label("customer lifetime value", currency, scale), bins=bins)

    for name, ax in axes.items():
        ax.set_title(name)
    add_caption(fig, title, caption, fontsize=14)
    if not has_cal:
        reason = f"{NO_HOLDOUT}: {holdout_error}" if holdout_error else NO_HOLDOUT + "."
        fig.supxlabel(_wrap(reason, 150), fontsize=10, color="dimgray")
    return freeze_layout(fig)


def _layout(fig, n: int) -> list:
    """Axes for ``n`` panels: 2 x 2, or the first across the top over two, or side by side."""
    if n == 4:
        return list(fig.subplots(2, 2).ravel())
    if n == 3:
        grid = fig.add_gridspec(2, 2)
        return [fig.add_subplot(grid[0, :]), fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])]
    return list(np.atleast_1d(fig.subplots(1, n)))


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


def _histogram(ax, values, xlabel: str, bins, log_counts: bool = False) -> None:
    ax.hist(np.asarray(values, dtype=float), bins=bins, color="tab:blue", alpha=0.8)
    ax.set_xlabel(xlabel)
    if log_counts:  # one bin can hold nearly everyone: the others stay readable
        ax.set_yscale("log")
    ax.set_ylabel("customers (log scale)" if log_counts else "customers")
