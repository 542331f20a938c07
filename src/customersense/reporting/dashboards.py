"""Dashboard figures for a customer segmentation: they take result tables and draw, nothing more.

Matplotlib is imported lazily inside the functions, and figures are built with
``matplotlib.figure.Figure`` directly (no pyplot), so no global backend or figure state is touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..profiles.views import PROFILE_FEATURES, SAMPLE_CAP, SAMPLE_SEED, box_stats, figure_sample, normalised_profiles
from .figures import SAVE_DPI, add_caption, freeze_layout, money_label, save_figure  # noqa: F401  (save_figure: public here too)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["PROFILE_FEATURES", "SAMPLE_CAP", "SAMPLE_SEED", "k_selection_figure", "segment_colors",
           "segmentation_dashboard"]
OUTLIERS = "Outliers"
OUTLIER_COLOR = (0.62, 0.62, 0.62, 1.0)
# the customers' columns segmentation_dashboard reads
DASHBOARD_COLUMNS = ("segment", "engagement_score", "recency_days", "frequency", "monetary")
DASHBOARD_TITLES = (
    "Customers per segment",
    "Revenue per segment",
    "Recency, frequency and monetary (3D)",
    "Segment profiles (normalised)",
    "Engagement score by segment",
    "Frequency vs monetary",
    "Recency by segment",
)
K_SELECTION_TITLES = (
    "Elbow (inertia)",
    "Silhouette (higher is better)",
    "Davies-Bouldin (lower is better)",
    "Calinski-Harabasz (higher is better)",
)
_TAB10_GREY, _TAB20_GREYS = (7,), (14, 15)  # left out so that only "Outliers" is grey


def segment_colors(segment_order: list[str]) -> dict[str, tuple]:
    """Stable RGBA colour per segment: by position in ``segment_order`` among the non-outlier
    segments (tab10 up to 9 segments, else tab20; greys skipped, cycling past the end);
    "Outliers" is always grey."""
    from matplotlib import colormaps

    names = [s for s in dict.fromkeys(str(s) for s in segment_order) if s != OUTLIERS]
    if len(names) <= 10 - len(_TAB10_GREY):
        palette = [c for i, c in enumerate(colormaps["tab10"].colors) if i not in _TAB10_GREY]
    else:
        palette = [c for i, c in enumerate(colormaps["tab20"].colors) if i not in _TAB20_GREYS]
    colors = {name: (*map(float, palette[i % len(palette)][:3]), 1.0) for i, name in enumerate(names)}
    if OUTLIERS in segment_order:
        colors[OUTLIERS] = OUTLIER_COLOR
    return {str(s): colors[str(s)] for s in segment_order}


def segmentation_dashboard(
    customers: pd.DataFrame, profiles: pd.DataFrame, segment_order: list[str], *, caption: str,
    currency: str | None = None,
) -> Figure:
    """Seven-panel overview of a segmentation (see ``DASHBOARD_TITLES``) with one figure legend,
    titled with ``caption`` (dataset · as of · currency); money axes name ``currency``.

    The tables come from :mod:`customersense.profiles.views`: the scatter panels draw
    :func:`figure_sample`, the heatmap :func:`normalised_profiles`, the box plots
    :func:`box_stats` (over every customer). "Frequency vs monetary" draws net revenue on a log
    axis: customers with net revenue <= 0 (net returners; few) have no place on it, so they are
    drawn as triangles on the panel's bottom edge and counted in its legend, instead of giving
    half the panel to a negative axis.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    import mpl_toolkits.mplot3d  # noqa: F401  (registers the "3d" projection)

    seg = customers["segment"].astype(str)
    seen = set(seg.unique())  # once: a set of a million customers' labels per segment cost seconds
    profiles = profiles.assign(segment=profiles["segment"].astype(str))
    order = list(dict.fromkeys(str(s) for s in segment_order))
    extra = sorted((seen | set(profiles["segment"])) - set(order))
    order += extra  # segments missing from segment_order still get drawn, after the others
    colors = segment_colors(order)

    fig = Figure(figsize=(20, 14), dpi=SAVE_DPI, layout="constrained")
    fig.get_layout_engine().set(w_pad=0.08, h_pad=0.08, wspace=0.04, hspace=0.04)
    grid = fig.add_gridspec(3, 6, height_ratios=(1, 1, 1.3))
    ax_count = fig.add_subplot(grid[0, 0:2])
    ax_rev = fig.add_subplot(grid[0, 2:4])
    ax_eng = fig.add_subplot(grid[0, 4:6])
    ax_heat = fig.add_subplot(grid[1, 0:4])
    ax_rec = fig.add_subplot(grid[1, 4:6])
    ax_3d = fig.add_subplot(grid[2, 0:3], projection="3d")
    ax_fm = fig.add_subplot(grid[2, 3:6])

    prof = profiles.set_index("segment").reindex([s for s in order if s in set(profiles["segment"])])
    _bars(ax_count, prof["customers"], colors, "customers", [f"{int(v):,}" for v in prof["customers"]])
    _bars(ax_rev, prof["revenue"], colors, money_label("net revenue", currency) + "\nbar labels: share of total",
          [f"{v:.1%}" if pd.notna(v) else "" for v in prof["revenue_share"]])
    for ax in (ax_count, ax_rev):
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v)))
    ax_rev.axhline(0, color="black", linewidth=0.6)
    ax_count.set_title(DASHBOARD_TITLES[0])
    ax_rev.set_title(DASHBOARD_TITLES[1])

    present = [s for s in order if s in seen]
    _boxes(ax_eng, box_stats(customers, "engagement_score", "segment", present), present, colors,
           "engagement score (0-100)")
    ax_eng.set_title(DASHBOARD_TITLES[4])
    _boxes(ax_rec, box_stats(customers, "recency_days", "segment", present), present, colors, "recency (days)")
    ax_rec.set_title(DASHBOARD_TITLES[6])

    _heatmap(fig, ax_heat, *normalised_profiles(profiles, list(prof.index)))
    ax_heat.set_title(DASHBOARD_TITLES[3])

    sample, note = figure_sample(customers)
    _scatter_3d(ax_3d, sample, order, colors, currency)
    ax_3d.set_title(DASHBOARD_TITLES[2], pad=16)
    ax_3d.text2D(0.5, 1.0, note, transform=ax_3d.transAxes, ha="center", va="bottom", fontsize=9,
                 color="dimgray")
    _frequency_monetary(ax_fm, sample, order, colors, currency)
    ax_fm.set_title(DASHBOARD_TITLES[5], pad=16)
    ax_fm.text(0.5, 1.0, note, transform=ax_fm.transAxes, ha="center", va="bottom", fontsize=9,
               color="dimgray")

    handles = [Patch(facecolor=colors[s], edgecolor="none", label=s) for s in order]
    rows = max(1, -(-len(order) // 8))
    fig.legend(handles=handles, loc="outside lower center", ncol=max(1, -(-len(order) // rows)),
               frameon=False, fontsize=11)
    add_caption(fig, "Customer segmentation dashboard", caption, fontsize=18)
    return freeze_layout(fig)


def _scatter_3d(ax, sample: pd.DataFrame, order: list[str], colors: dict, currency: str | None) -> None:
    from matplotlib.ticker import MaxNLocator

    seg = sample["segment"].astype(str).to_numpy()
    rec = np.log10(1 + np.clip(sample["recency_days"].to_numpy(dtype=float), 0, None))
    freq = np.log10(1 + np.clip(sample["frequency"].to_numpy(dtype=float), 0, None))
    mon_raw = sample["monetary"].to_numpy(dtype=float)
    mon = np.sign(mon_raw) * np.log10(1 + np.abs(mon_raw))
    for name in order:
        mask = seg == name
        if mask.any():
            ax.scatter(rec[mask], freq[mask], mon[mask], s=6, alpha=0.55, color=colors[name],
                       depthshade=False, label=name)
    ax.set_xlabel("log10(1 + recency days)")
    ax.set_ylabel("log10(1 + frequency)")
    ax.set_zlabel("sign x log10(1 + |net revenue|)\n" + money_label("net revenue", currency))
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.set_major_locator(MaxNLocator(5))
    ax.view_init(elev=22, azim=-55)
    ax.set_box_aspect((1.25, 1.0, 0.85), zoom=1.2)


FLOOR_LABEL = "net revenue <= 0: {n:,} customers (on the bottom edge)"


def _frequency_monetary(ax, sample: pd.DataFrame, order: list[str], colors: dict, currency: str | None) -> None:
    """Net revenue > 0 on a log axis; customers with net revenue <= 0 as one collection of
    triangles on the bottom edge (x: their frequency), counted in the panel's legend."""
    seg = sample["segment"].astype(str).to_numpy()
    freq = sample["frequency"].to_numpy(dtype=float)
    mon = sample["monetary"].to_numpy(dtype=float)
    positive = mon > 0
    for name in order:
        mask = (seg == name) & positive
        if mask.any():
            ax.scatter(freq[mask], mon[mask], s=8, alpha=0.5, color=colors[name], linewidths=0, label=name)
    ax.set_xscale("log" if len(freq) and np.nanmin(freq) > 0 else "symlog")
    ax.set_yscale("log")
    floor = ~positive
    if positive.any():
        lo, hi = mon[positive].min(), mon[positive].max()
        ax.set_ylim(lo / 2, hi * 2)
    if floor.any():
        ax.scatter(freq[floor], np.zeros(int(floor.sum())), s=30, marker="v", clip_on=False, zorder=3,
                   color=[colors[s] for s in seg[floor]], edgecolors="black", linewidths=0.4,
                   transform=ax.get_xaxis_transform(), label=FLOOR_LABEL.format(n=int(floor.sum())))
        ax.legend(handles=[ax.collections[-1]], loc="upper left", fontsize=9, framealpha=0.9)
    ax.set_xlabel("frequency (orders, log scale)")
    ax.set_ylabel(money_label("net revenue", currency, "log scale"))
    ax.grid(True, which="major", alpha=0.3)


def k_selection_figure(selection: pd.DataFrame, chosen_k: int, *, caption: str) -> Figure:
    """Four panels (see ``K_SELECTION_TITLES``): each metric against k, the chosen k dashed;
    titled with ``caption``."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    sel = selection.sort_values("k", kind="stable")
    k = sel["k"].to_numpy(dtype=int)
    fig = Figure(figsize=(13, 9), dpi=SAVE_DPI, layout="constrained")
    axes = fig.subplots(2, 2).ravel()
    specs = (("inertia", "inertia (within-cluster sum of squares)"), ("silhouette", "silhouette score"),
             ("davies_bouldin", "Davies-Bouldin index"), ("calinski_harabasz", "Calinski-Harabasz index"))
    for ax, title, (col, ylabel) in zip(axes, K_SELECTION_TITLES, specs):
        y = sel[col].to_numpy(dtype=float)
        if col == "silhouette":
            std = sel["silhouette_std"].fillna(0).to_numpy(dtype=float) if "silhouette_std" in sel else None
            ax.errorbar(k, y, yerr=std, marker="o", color="tab:blue", capsize=4, label=ylabel + " (± std)")
        else:
            ax.plot(k, y, marker="o", color="tab:blue", label=ylabel)
        if col == "inertia" and "is_elbow" in sel:
            elbow = sel[sel["is_elbow"].fillna(False).astype(bool)]
            for ke, ye in zip(elbow["k"], elbow["inertia"]):
                ax.plot([ke], [ye], linestyle="none", marker="*", markersize=18, color="tab:orange",
                        markeredgecolor="black", label=f"elbow k = {int(ke)}", zorder=3)
        ax.axvline(chosen_k, color="tab:red", linestyle="--", linewidth=1.5,
                   label=f"chosen k = {int(chosen_k)}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("number of segments k")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.set_title(title)
        ax.legend(loc="best", fontsize=9)
    add_caption(fig, "Choosing the number of segments", caption)
    return freeze_layout(fig)


def _compact(value: float) -> str:
    if not np.isfinite(value):
        return ""
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def _segment_ticks(ax: Axes, names: list[str]) -> None:
    rotate = len(names) > 4 or max((len(n) for n in names), default=0) > 10
    angle = (45 if len(names) > 8 else 30) if rotate else 0
    ax.set_xticks(range(len(names)), names, rotation=angle, ha="right" if rotate else "center",
                  rotation_mode="anchor" if rotate else "default")


def _bars(ax: Axes, values: pd.Series, colors: dict, ylabel: str, labels: list[str]) -> None:
    names = [str(s) for s in values.index]
    bars = ax.bar(range(len(names)), values.to_numpy(dtype=float), color=[colors[s] for s in names],
                  edgecolor="black", linewidth=0.5)
    ax.bar_label(bars, labels=labels, padding=2, fontsize=9)
    ax.margins(y=0.15)
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    _segment_ticks(ax, names)


def _boxes(ax: Axes, stats: pd.DataFrame, present: list[str], colors: dict, ylabel: str) -> None:
    """Tukey boxes from :func:`box_stats` rows (no fliers), at each segment's place in ``present``."""
    where = {name: i for i, name in enumerate(present)}
    if len(stats):
        rows = [{"label": r.segment, "med": r.median, "q1": r.q1, "q3": r.q3, "whislo": r.lower,
                 "whishi": r.upper} for r in stats.itertuples()]
        box = ax.bxp(rows, positions=[where[r] for r in stats["segment"]], widths=0.6, patch_artist=True,
                     showfliers=False, medianprops={"color": "black", "gid": "median"},
                     capprops={"gid": "whisker-cap"})
        for patch, name in zip(box["boxes"], stats["segment"]):
            patch.set_facecolor(colors[name])
            patch.set_alpha(0.85)
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_xlim(-0.6, len(present) - 0.4)
    _segment_ticks(ax, present)


def _heatmap(fig: Figure, ax: Axes, raw: pd.DataFrame, norm: pd.DataFrame) -> None:
    """The scaled means (:func:`normalised_profiles`) as colours, annotated with the raw means."""
    values, scaled = raw.to_numpy(dtype=float), norm.to_numpy(dtype=float)
    image = ax.imshow(scaled, aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
    for (i, j), value in np.ndenumerate(values):
        if np.isfinite(value):
            ax.text(j, i, _compact(value), ha="center", va="center", fontsize=9,
                    color="white" if scaled[i, j] < 0.55 else "black")
    ax.set_xticks(range(len(raw.columns)), [f"mean {f.replace('_', ' ')}" for f in raw.columns], rotation=15)
    ax.set_yticks(range(len(raw)), [str(s) for s in raw.index])
    ax.tick_params(length=0)
    colorbar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.01)
    colorbar.set_label("scaled across segments (0 = lowest, 1 = highest)")
