"""A four-panel figure of the CLV model checks (matplotlib imported lazily, no pyplot)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .figures import SAVE_DPI, freeze_layout

PANEL_TITLES = (
    "Tracking: cumulative repeat purchases",
    "Calibration: holdout purchases by calibration frequency",
    "P(alive) distribution",
    "CLV distribution",
)


def clv_figure(
    tracking: pd.DataFrame,
    calibration_table: pd.DataFrame,
    p_alive=None,
    clv=None,
    *,
    title: str | None = None,
):
    """Build a :class:`matplotlib.figure.Figure` with the four panels of :data:`PANEL_TITLES`.

    ``tracking`` comes from :func:`~customersense.clv.evaluation.tracking_data` (a dashed
    line marks ``attrs["calibration_end"]`` when set), ``calibration_table`` from
    :func:`~customersense.clv.evaluation.calibration_by_frequency`; ``p_alive`` and ``clv``
    are per-customer values (a panel says "no data" when they are not given).
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 9), dpi=SAVE_DPI, layout="constrained")
    ax_track, ax_cal, ax_alive, ax_clv = fig.subplots(2, 2).ravel()

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

    if calibration_table is None or len(calibration_table) == 0:
        ax_cal.text(0.5, 0.5, "no holdout evaluation\n(the calibration fit did not converge)",
                    ha="center", va="center", transform=ax_cal.transAxes)
    else:
        pos = np.arange(len(calibration_table))
        ax_cal.plot(pos, calibration_table["actual"], marker="o", color="black", label="actual")
        ax_cal.plot(pos, calibration_table["predicted"], marker="s", color="tab:blue", linestyle="--",
                    label="model")
        ax_cal.set_xticks(pos, [str(i) for i in calibration_table.index])
        ax_cal.set_xlabel("repeat purchases in calibration")
        ax_cal.set_ylabel("mean purchases in holdout")
        ax_cal.legend(loc="upper left")

    _histogram(ax_alive, p_alive, "P(alive) at the calibration end", bins=np.linspace(0, 1, 21))
    _histogram(ax_clv, clv, "customer lifetime value", bins=40)

    for ax, name in zip((ax_track, ax_cal, ax_alive, ax_clv), PANEL_TITLES):
        ax.set_title(name)
    if title:
        fig.suptitle(title)
    return freeze_layout(fig)


def _histogram(ax, values, xlabel: str, bins) -> None:
    if values is None or len(values) == 0:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        return
    ax.hist(np.asarray(values, dtype=float), bins=bins, color="tab:blue", alpha=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("customers")
