"""Dashboard figures for a customer segmentation: they take result tables and draw, nothing more.

Matplotlib is imported lazily inside the functions, and figures are built with
``matplotlib.figure.Figure`` directly (no pyplot), so no global backend or figure state is touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .figures import SAVE_DPI, freeze_layout, save_figure  # noqa: F401  (save_figure: public here too)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

SAMPLE_CAP = 5_000
SAMPLE_SEED = 0
OUTLIERS = "Outliers"
OUTLIER_COLOR = (0.62, 0.62, 0.62, 1.0)
PROFILE_FEATURES = (
    "recency_days", "frequency", "monetary", "avg_order_value", "tenure_days", "engagement_score",
)
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
    customers: pd.DataFrame, profiles: pd.DataFrame, segment_order: list[str]
) -> Figure:
    """Seven-panel overview of a segmentation (see ``DASHBOARD_TITLES``) with one figure legend."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    import mpl_toolkits.mplot3d  # noqa: F401  (registers the "3d" projection)

    seg = customers["segment"].astype(str)
    profiles = profiles.assign(segment=profiles["segment"].astype(str))
    order = list(dict.fromkeys(str(s) for s in segment_order))
    extra = sorted((set(seg.unique()) | set(profiles["segment"])) - set(order))
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
    _bars(ax_rev, prof["revenue"], colors, "revenue (net; bar labels: share of total)",
          [f"{v:.1%}" if pd.notna(v) else "" for v in prof["revenue_share"]])
    for ax in (ax_count, ax_rev):
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v)))
    ax_rev.axhline(0, color="black", linewidth=0.6)
    ax_count.set_title(DASHBOARD_TITLES[0])
    ax_rev.set_title(DASHBOARD_TITLES[1])

    groups = {str(k): g for k, g in customers.groupby(seg, sort=False, observed=True)}
    _boxes(ax_eng, groups, "engagement_score", order, colors, "engagement score (0-100)")
    ax_eng.set_title(DASHBOARD_TITLES[4])
    _boxes(ax_rec, groups, "recency_days", order, colors, "recency (days)")
    ax_rec.set_title(DASHBOARD_TITLES[6])

    _heatmap(fig, ax_heat, prof)
    ax_heat.set_title(DASHBOARD_TITLES[3])

    sample = _sample(customers)
    note = (f"sample of {len(sample):,} of {len(customers):,} customers" if len(sample) < len(customers)
            else f"all {len(customers):,} customers")
    sample_seg = sample["segment"].astype(str).to_numpy()
    rec = np.log10(1 + np.clip(sample["recency_days"].to_numpy(dtype=float), 0, None))
    freq_raw = sample["frequency"].to_numpy(dtype=float)
    freq = np.log10(1 + np.clip(freq_raw, 0, None))
    mon_raw = sample["monetary"].to_numpy(dtype=float)
    mon = np.sign(mon_raw) * np.log10(1 + np.abs(mon_raw))
    for name in order:
        mask = sample_seg == name
        if mask.any():
            ax_3d.scatter(rec[mask], freq[mask], mon[mask], s=6, alpha=0.55, color=colors[name],
                          depthshade=False, label=name)
            ax_fm.scatter(freq_raw[mask], mon_raw[mask], s=8, alpha=0.5, color=colors[name],
                          linewidths=0, label=name)
    ax_3d.set_xlabel("log10(1 + recency days)")
    ax_3d.set_ylabel("log10(1 + frequency)")
    ax_3d.set_zlabel("sign x log10(1 + |monetary|)")
    for axis in (ax_3d.xaxis, ax_3d.yaxis, ax_3d.zaxis):
        axis.set_major_locator(MaxNLocator(5))
    ax_3d.view_init(elev=22, azim=-55)
    ax_3d.set_title(DASHBOARD_TITLES[2], pad=16)
    ax_3d.set_box_aspect((1.25, 1.0, 0.85), zoom=1.2)
    ax_3d.text2D(0.5, 1.0, note, transform=ax_3d.transAxes, ha="center", va="bottom", fontsize=9,
                 color="dimgray")

    ax_fm.set_xscale("log" if len(freq_raw) and np.nanmin(freq_raw) > 0 else "symlog")
    ax_fm.set_yscale("symlog", linthresh=1.0)
    ax_fm.axhline(0, color="black", linewidth=0.6)
    ax_fm.set_xlabel("frequency (orders, log scale)")
    ax_fm.set_ylabel("monetary (net revenue, symlog scale)")
    ax_fm.grid(True, which="major", alpha=0.3)
    ax_fm.set_title(DASHBOARD_TITLES[5], pad=16)
    ax_fm.text(0.5, 1.0, note, transform=ax_fm.transAxes, ha="center", va="bottom", fontsize=9,
               color="dimgray")

    handles = [Patch(facecolor=colors[s], edgecolor="none", label=s) for s in order]
    rows = max(1, -(-len(order) // 8))
    fig.legend(handles=handles, loc="outside lower center", ncol=max(1, -(-len(order) // rows)),
               frameon=False, fontsize=11)
    fig.suptitle("Customer segmentation dashboard", fontsize=18, fontweight="bold")
    return freeze_layout(fig)


def k_selection_figure(selection: pd.DataFrame, chosen_k: int) -> Figure:
    """Four panels (see ``K_SELECTION_TITLES``): each metric against k, the chosen k dashed."""
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
    fig.suptitle("Choosing the number of segments", fontsize=16, fontweight="bold")
    return freeze_layout(fig)


def _sample(customers: pd.DataFrame, cap: int = SAMPLE_CAP) -> pd.DataFrame:
    """Deterministic subsample of at most ``cap`` rows, in the original row order."""
    n = len(customers)
    if n <= cap:
        return customers
    rows = np.sort(np.random.default_rng(SAMPLE_SEED).choice(n, size=cap, replace=False))
    return customers.iloc[rows]


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


def _boxes(ax: Axes, groups: dict, column: str, order: list[str], colors: dict, ylabel: str) -> None:
    present = [s for s in order if s in groups]
    data = [groups[s][column].dropna().to_numpy(dtype=float) for s in present]
    keep = [i for i, d in enumerate(data) if len(d)]
    if keep:
        box = ax.boxplot([data[i] for i in keep], positions=keep, widths=0.6, patch_artist=True,
                         showfliers=False, medianprops={"color": "black"})
        for patch, i in zip(box["boxes"], keep):
            patch.set_facecolor(colors[present[i]])
            patch.set_alpha(0.85)
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_xlim(-0.6, len(present) - 0.4)
    _segment_ticks(ax, present)


def _heatmap(fig: Figure, ax: Axes, prof: pd.DataFrame) -> None:
    """Mean of each feature per segment, each column min-max scaled across segments (a constant
    column shows 0.5); cells annotated with the raw means."""
    feats = [f for f in PROFILE_FEATURES if f"mean_{f}" in prof.columns]
    raw = prof[[f"mean_{f}" for f in feats]].to_numpy(dtype=float)
    lo, hi = np.nanmin(raw, axis=0, initial=np.inf), np.nanmax(raw, axis=0, initial=-np.inf)
    span = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.where(span > 0, (raw - lo) / np.where(span > 0, span, 1.0), 0.5)
    norm[np.isnan(raw)] = np.nan
    image = ax.imshow(norm, aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
    for (i, j), value in np.ndenumerate(raw):
        if np.isfinite(value):
            ax.text(j, i, _compact(value), ha="center", va="center", fontsize=9,
                    color="white" if norm[i, j] < 0.55 else "black")
    ax.set_xticks(range(len(feats)), [f"mean {f.replace('_', ' ')}" for f in feats], rotation=15)
    ax.set_yticks(range(len(prof)), [str(s) for s in prof.index])
    ax.tick_params(length=0)
    colorbar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.01)
    colorbar.set_label("scaled across segments (0 = lowest, 1 = highest)")
