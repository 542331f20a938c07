"""Reporting: dashboard figures drawn from segmentation results (matplotlib is imported lazily)."""

from .dashboards import (
    DASHBOARD_TITLES,
    K_SELECTION_TITLES,
    SAMPLE_CAP,
    k_selection_figure,
    save_figure,
    segment_colors,
    segmentation_dashboard,
)

__all__ = [
    "DASHBOARD_TITLES",
    "K_SELECTION_TITLES",
    "SAMPLE_CAP",
    "k_selection_figure",
    "save_figure",
    "segment_colors",
    "segmentation_dashboard",
]
