"""Campaign A/B tests: plan (stratified assignment, power), simulate, and read (uplift, ROI)."""

from .analysis import analyse, holm, srm
from .design import assign, power_table
from .outcomes import outcomes
from .simulate import simulate_campaign

__all__ = ["analyse", "assign", "holm", "outcomes", "power_table", "simulate_campaign", "srm"]
