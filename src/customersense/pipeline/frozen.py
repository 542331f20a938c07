"""A run's fitted rules frozen into a :class:`~customersense.scoring.ScoringModel` (the bundle
written as ``model/``), with what the bundle must say about its training data."""

from __future__ import annotations

import pandas as pd

from ..config import Config
from ..features import FEATURE_COLUMNS
from ..scoring import ScoringModel, freeze


def frozen_model(config: Config, source, cleaning, customers: pd.DataFrame, rfm, segment_map, learned, clv,
                 profiles: pd.DataFrame) -> ScoringModel:
    """The run's fitted rules as a :class:`~customersense.scoring.ScoringModel` (the model bundle)."""
    from .. import __version__

    info = {
        "customersense_version": __version__,
        "trained_on": {"as_of": cleaning.as_of.isoformat(), "as_of_source": cleaning.as_of_source,
                       "customers": len(customers), "rows_in": cleaning.rows_in, "rows_kept": cleaning.rows_kept,
                       "input": {"path": source.path, "format": source.format, "fingerprint": source.fingerprint,
                                 "mapping": source.mapping}},
        "as_of_rule": "features as of the date given, else the day after the last transaction; "
                      "rows on or after as_of are left out",
        "input": {"mapping": dict(config.input.mapping), "date_format": config.input.date_format},
        "cleaning": config.cleaning.model_dump(mode="json", exclude={"as_of"}),
        "features": {"columns": list(FEATURE_COLUMNS), "definitions": "customersense.features.customer"},
    }
    return freeze(info=info, customers=customers, rfm=rfm, segment_map=segment_map, learned=learned, clv=clv,
                  clv_settings=config.clv.model_dump(mode="json"), profiles=profiles)
