"""Reporting: everything a run writes (tables, JSON, figures; later HTML and BI files), read from
a :class:`customersense.result.RunResult`. It draws and formats; it never computes."""

from .dashboards import (
    DASHBOARD_TITLES,
    K_SELECTION_TITLES,
    SAMPLE_CAP,
    k_selection_figure,
    segment_colors,
    segmentation_dashboard,
)
from .figures import save_figure
from .outputs import OUTPUT_FILES, claim_outputs, run_record, write_outputs

__all__ = [
    "DASHBOARD_TITLES",
    "K_SELECTION_TITLES",
    "OUTPUT_FILES",
    "SAMPLE_CAP",
    "claim_outputs",
    "k_selection_figure",
    "run_record",
    "save_figure",
    "segment_colors",
    "segmentation_dashboard",
    "write_outputs",
]
