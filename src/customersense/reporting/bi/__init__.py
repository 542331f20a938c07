"""BI files of a run: Tableau (a Hyper extract, a workbook and the packaged workbook) and a Power BI
project over the run's output files."""

from .powerbi import write_powerbi
from .tableau import TABLEAU_FILES, write_tableau

__all__ = ["TABLEAU_FILES", "write_powerbi", "write_tableau"]
