"""BI files of a run (Tableau: a Hyper extract, a workbook and the packaged workbook)."""

from .tableau import TABLEAU_FILES, write_tableau

__all__ = ["TABLEAU_FILES", "write_tableau"]
