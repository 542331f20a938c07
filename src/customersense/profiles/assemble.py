"""One segmentation's profile rows with everything a marketer reads beside them: pricing signals,
the computed recommendation figures and the playbook text quoting them (used by the in-memory
and the at-scale pipelines alike)."""

from __future__ import annotations

import pandas as pd

from ..models.naming import load_name_rules
from .playbooks import load_playbooks
from .profiles import with_recommendations
from .recommend import load_recommendation_rules, segment_figures


def recommended_profiles(base: pd.DataFrame, customers: pd.DataFrame, column: str, signals: pd.DataFrame,
                         overall_unit_price: float, measured: pd.DataFrame | None,
                         name_basis: dict[str, str] | None = None) -> pd.DataFrame:
    """``base``: the segmentation's profile rows; ``customers``: the customers the figures are
    computed from (every customer, or the model sample at scale) with ``column``; ``signals``:
    the per-segment pricing signals; ``measured``: the latest measured campaign per segment."""
    rules = load_recommendation_rules()
    figures = segment_figures(customers, column, signals["avg_unit_price_paid"], overall_unit_price, rules, measured)
    return with_recommendations(base, signals, load_playbooks(), load_name_rules().descriptions, figures, rules,
                                name_basis)
