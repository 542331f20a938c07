"""The interactive HTML report: one offline page of plotly panels with a segment filter.

``report_figures(result)`` gives the panels (plotly figures, keyed by stable ids, in page order);
``write_report(result, path)`` writes the self-contained report.html and returns what run.json
records of it."""

from .figures_models import PANEL_ORDER, report_figures, report_panels
from .report import REPORT_FILE, render_report, write_report

__all__ = ["PANEL_ORDER", "REPORT_FILE", "render_report", "report_figures", "report_panels", "write_report"]
