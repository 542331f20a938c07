"""Projects for BI tools over a run's output files."""

from .powerbi import write_powerbi

__all__ = ["write_powerbi"]
