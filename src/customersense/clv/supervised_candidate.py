"""The supervised candidate: :class:`~customersense.clv.supervised.SupervisedCLV` trained by a
time split on the engine's per-customer window features (:mod:`.windows`).

For the holdout it is trained on features as of ``cut - H`` with labels from ``(cut - H, cut]``
and predicts from features as of ``cut`` (``cut = calibration_end``); refitted on all data it
is trained on features as of ``last_day - H`` with labels from ``(last_day - H, last_day]`` and
predicts from features as of ``last_day``.
"""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd

from ..engine.base import Engine
from ..errors import DataError
from .candidates import SUPERVISED, Candidate
from .holdout import Prediction
from .supervised import SupervisedCLV
from .windows import FEATURES, window_features

MIN_TRAINING = 50  # customers known at the training cut, and churners and buyers among them: at least


def fit_supervised(days: ibis.Table, cut: dt.date, horizon_days: int, engine: Engine | None,
                   random_state: int) -> SupervisedCLV:
    """Train on features as of ``cut - H`` and labels from ``(cut - H, cut]``."""
    start = cut - dt.timedelta(days=horizon_days)
    train = window_features(days, start, horizon_days=horizon_days, engine=engine)
    churned = train["label_churn"].to_numpy(bool)
    if len(train) < MIN_TRAINING or min(int(churned.sum()), int((~churned).sum())) < 10:
        raise DataError(
            f"the supervised model needs {MIN_TRAINING}+ customers known by {start} with both churners and buyers "
            f"in the {horizon_days} days after it (has {len(train)}, {int(churned.sum())} churners): "
            "a history of at least twice the holdout is needed")
    return SupervisedCLV(random_state=random_state).fit(
        train[list(FEATURES)], churned, train["label_purchases"].to_numpy(float), train["label_spend"].to_numpy(float))


def predict_supervised(model: SupervisedCLV, days: ibis.Table, cut: dt.date, customer_ids: pd.Series | pd.Index,
                       engine: Engine | None) -> dict[str, np.ndarray]:
    """Churn, purchases and spend in the H days after ``cut`` for ``customer_ids`` (their order)."""
    feats = window_features(days, cut, engine=engine)
    feats = feats.set_index(feats["customer_id"].astype("string")).reindex(pd.Index(customer_ids).astype("string"))
    if feats[list(FEATURES)].isna().all(axis=1).any():
        raise DataError(f"the supervised model has no features as of {cut} for some customers")
    X = feats[list(FEATURES)]
    return model.predict_all(X)


def supervised_candidate(days: ibis.Table, train_end: dt.date, cal_end: dt.date, horizon_days: int,
                         customer_ids: pd.Series, engine: Engine | None, random_state: int) -> Candidate:
    """The supervised candidate's holdout prediction for ``customer_ids`` (known at ``cal_end``)."""
    model = fit_supervised(days, cal_end, horizon_days, engine, random_state)
    pred = predict_supervised(model, days, cal_end, customer_ids, engine)
    fit = {"model": SUPERVISED[1], "training_cut": train_end.isoformat(), "label_end": cal_end.isoformat(),
           "features": list(FEATURES), "training_customers": int(model.n_train_),
           "estimator": {k: v for k, v in model.get_params().items()}}
    return Candidate(SUPERVISED[0], SUPERVISED[1], "supervised",
                     Prediction(churn=pred["churn"], purchases=pred["purchases"], spend=pred["spend"]), fit, (model,))
