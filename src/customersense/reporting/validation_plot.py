"""``validation_analysis.png``: gap curve, per-segment stability and the observed quality against
the null distribution. Draws a ValidationReport; computes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .dashboards import segment_colors
from .figures import SAVE_DPI, freeze_layout

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..evaluation.validation import ValidationReport

VALIDATION_TITLES = (
    "Gap statistic (Tibshirani et al. 2001)",
    "Segment stability (bootstrap Jaccard)",
    "Observed clustering vs the null",
)


def validation_figure(report: ValidationReport, *, caption: str) -> Figure:
    """The three panels of :data:`VALIDATION_TITLES`, titled with ``caption`` and the verdict."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(17, 5.5), dpi=SAVE_DPI, layout="constrained")
    sample = f" (sample of {report.n_used:,} of {report.n_customers:,} customers)" if report.sampled else ""
    fig.suptitle(f"Are the segments real?{sample}\n{caption}\n{report.verdict()}", fontsize=12)
    ax_gap, ax_stab, ax_null = fig.subplots(1, 3)

    ax_gap.errorbar(report.gap_k, report.gap, yerr=report.gap_se, marker="o", capsize=3, label="gap(k) ± s(k)")
    at_edge = not report.gap_phrase.endswith(f"picks k = {report.k_gap}")
    gap_label = f"gap rule: no optimum (k = {report.k_gap} is the edge)" if at_edge else f"gap rule: k = {report.k_gap}"
    ax_gap.axvline(report.k_gap, color="tab:green", linestyle=":", label=gap_label)
    ax_gap.axvline(report.k, color="tab:red", linestyle="--", label=f"chosen k = {report.k}")
    ax_gap.set(title=VALIDATION_TITLES[0], xlabel="number of clusters k", ylabel="gap(k)")
    ax_gap.set_xticks(report.gap_k)
    ax_gap.legend(loc="best", fontsize=9)
    ax_gap.grid(alpha=0.3)

    names = report.segment_names or [f"cluster {i}" for i in range(report.k)]
    colors = segment_colors(names)
    y = np.arange(len(names))
    ax_stab.barh(y, report.jaccard, xerr=report.jaccard_std, color=[colors[n] for n in names],
                 edgecolor="black", linewidth=0.5, capsize=3)
    for yi, j, status in zip(y, report.jaccard, report.stability):
        ax_stab.text(0.02, yi, f"{j:.2f} {status}", va="center", ha="left", fontsize=10,
                     bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 2})
    ax_stab.axvline(0.6, color="tab:red", linestyle="--", linewidth=1, label="0.6: unstable below")
    ax_stab.axvline(0.75, color="tab:green", linestyle="--", linewidth=1, label="0.75: stable above")
    ax_stab.set_yticks(y, names)
    ax_stab.invert_yaxis()
    ax_stab.set(title=VALIDATION_TITLES[1], xlim=(0, 1.05),
                xlabel=f"mean Jaccard over {report.settings.n_bootstrap} resamples (mean ARI {report.mean_ari:.2f})")
    ax_stab.legend(loc="lower right", fontsize=9)

    ax_null.hist(report.null_statistics, bins=20, color="0.7", edgecolor="0.4",
                 label=f"null: uniform reference data ({len(report.null_statistics)} fits)")
    ax_null.axvline(report.observed_statistic, color="tab:red", linewidth=2,
                    label=f"observed (p = {report.p_value:.3f})")
    ax_null.set(title=VALIDATION_TITLES[2], ylabel="reference data sets",
                xlabel=f"log W(1) - log W({report.k}): dispersion removed by {report.k} clusters")
    ax_null.legend(loc="best", fontsize=9)
    return freeze_layout(fig)
