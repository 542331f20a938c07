"""``rfm_segments.png``: the classic RFM segments, the ones marketers read first. Draws the RFM
grid of :func:`customersense.profiles.views.rfm_grid` and the classic rows of the segment
profiles; computes nothing. Drawn whether or not the learned segmentation ran."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .dashboards import _compact, segment_colors
from .figures import SAVE_DPI, add_caption, freeze_layout, money_label

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

RFM_TITLES = (
    "RFM grid: recency x frequency score",
    "Customers per classic segment",
    "Net revenue share per classic segment",
)
COUNT_GID = "rfm-cell-count"  # the grid's count annotations (tests find them by this id)
# Colours that read as the segment's state: engaged greens and blues, slipping yellows and
# oranges, at risk reds, gone greys. A segment map with other names gets the tab palette.
CLASSIC_COLORS = {
    "Champions": "#1a7837",
    "Loyal Customers": "#5aae61",
    "Potential Loyalists": "#a6dba0",
    "New Customers": "#2166ac",
    "Promising": "#92c5de",
    "Need Attention": "#fee08b",
    "About to Sleep": "#fdae61",
    "At Risk": "#f46d43",
    "Can't Lose Them": "#b2182b",
    "Hibernating": "#bababa",
    "Lost": "#6b6b6b",
}


def segment_palette(names: list[str]) -> dict[str, tuple]:
    """RGBA per classic segment: :data:`CLASSIC_COLORS`, else the tab palette in ``names`` order."""
    from matplotlib.colors import to_rgba

    others = segment_colors([n for n in names if n not in CLASSIC_COLORS])
    return {n: to_rgba(CLASSIC_COLORS[n]) if n in CLASSIC_COLORS else others[n] for n in names}


def rfm_figure(rfm_profiles: pd.DataFrame, grid: pd.DataFrame, *, caption: str,
               currency: str | None = None) -> Figure:
    """Three panels (:data:`RFM_TITLES`): the recency x frequency score grid, each cell coloured
    by the classic segment most of its customers are in and annotated with its customer count
    (and the segment's name; "+ n more" when the monetary score splits the cell); then customers
    and net revenue share per classic segment, from ``rfm_profiles`` (segment profile rows with
    ``segmentation == "rfm"``, drawn in their order, top first). Titled with ``caption``."""
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    prof = rfm_profiles.assign(segment=rfm_profiles["segment"].astype(str)).reset_index(drop=True)
    names = list(dict.fromkeys([*prof["segment"], *sorted(set(grid["segment"].astype(str)) - set(prof["segment"]))]))
    colors = segment_palette(names)

    fig = Figure(figsize=(19, 8), dpi=SAVE_DPI, layout="constrained")
    fig.get_layout_engine().set(w_pad=0.1, wspace=0.05)
    ax_grid, ax_cust, ax_rev = fig.subplots(1, 3, gridspec_kw={"width_ratios": (1.35, 1, 1)})
    ax_rev.sharey(ax_cust)

    top = int(max(5, grid["r_score"].max() if len(grid) else 5, grid["f_score"].max() if len(grid) else 5))
    codes = np.full((top, top), np.nan)  # rows: r_score 1..top, columns: f_score 1..top
    for cell in grid.itertuples():
        codes[cell.r_score - 1, cell.f_score - 1] = names.index(str(cell.segment))
    cmap = ListedColormap([colors[n] for n in names]).with_extremes(bad="white")
    ax_grid.imshow(np.ma.masked_invalid(codes), cmap=cmap, vmin=-0.5, vmax=len(names) - 0.5, origin="lower",
                   aspect="auto", interpolation="nearest", extent=(0.5, top + 0.5, 0.5, top + 0.5))
    for cell in grid.itertuples():
        ink = _ink(colors[str(cell.segment)])
        ax_grid.text(cell.f_score, cell.r_score + 0.12, f"{cell.customers:,}", ha="center", va="center",
                     fontsize=12, fontweight="bold", color=ink, gid=COUNT_GID)
        more = f"\n+ {cell.segments_in_cell - 1} more" if cell.segments_in_cell > 1 else ""
        ax_grid.text(cell.f_score, cell.r_score - 0.2, f"{cell.segment}{more}", ha="center", va="center",
                     fontsize=7.5, color=ink, linespacing=1.1)
    ticks = range(1, top + 1)
    ax_grid.set_xticks(ticks)
    ax_grid.set_yticks(ticks)
    ax_grid.set_xticks(np.arange(0.5, top + 1), minor=True)
    ax_grid.set_yticks(np.arange(0.5, top + 1), minor=True)
    ax_grid.grid(True, which="minor", color="white", linewidth=2)
    ax_grid.tick_params(which="both", length=0)
    ax_grid.set_xlabel("frequency score (5 = most orders)")
    ax_grid.set_ylabel("recency score (5 = most recent)")
    ax_grid.set_title(RFM_TITLES[0] + f"\n({int(grid['customers'].sum()):,} customers; cell: count, main segment)",
                      fontsize=11)

    y = np.arange(len(prof))
    bar_colors = [colors[n] for n in prof["segment"]]
    bars = ax_cust.barh(y, prof["customers"].to_numpy(dtype=float), color=bar_colors, edgecolor="black",
                        linewidth=0.5)
    ax_cust.bar_label(bars, labels=[f"{int(n):,} ({s:.1%})" for n, s in zip(prof["customers"], prof["share"])],
                      padding=3, fontsize=9)
    ax_cust.set_yticks(y, list(prof["segment"]))
    ax_cust.invert_yaxis()
    ax_cust.set_xlabel("customers (bar labels: share of customers)")
    ax_cust.margins(x=0.3)
    ax_cust.set_title(RFM_TITLES[1], fontsize=11)

    share = prof["revenue_share"].to_numpy(dtype=float) * 100
    bars = ax_rev.barh(y, share, color=bar_colors, edgecolor="black", linewidth=0.5)
    ax_rev.bar_label(bars, labels=[f"{s / 100:.1%} ({_compact(r)})" for s, r in zip(share, prof["revenue"])],
                     padding=3, fontsize=9)
    ax_rev.axvline(0, color="black", linewidth=0.6)
    ax_rev.tick_params(axis="y", labelleft=False)
    ax_rev.set_xlabel("share of net revenue, % (bar labels: share and " + money_label("amount", currency) + ")")
    ax_rev.margins(x=0.35)
    ax_rev.set_title(RFM_TITLES[2], fontsize=11)
    for ax in (ax_cust, ax_rev):
        ax.grid(True, axis="x", alpha=0.3)
        ax.set_axisbelow(True)

    add_caption(fig, "Classic RFM segments", caption)
    return freeze_layout(fig)


def _ink(rgba: tuple) -> str:
    """Black or white text, whichever reads on the colour (relative luminance)."""
    r, g, b = rgba[:3]
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "white"

