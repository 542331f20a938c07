"""``evolve(config, every) -> EvolveResult``: snapshots of the same customers over time, scored by
one frozen model, and the migration between them (see customersense.evolution.migration).

The model is the saved bundle given (``model_dir``), or, without one, the model a run fits as of
the last snapshot (its bundle is written to ``model/`` beside the tables, so the next evolve or
score can reuse it; that fit reads and cleans the data once more). The snapshots come from one
reading and one cleaning with the model's cleaning settings: every snapshot's features from the
cleaned rows before its date, the same customer table as ``customersense score --as-of DATE``
(tested).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from .. import schema as S
from ..cleaning import IS_RETURN, clean
from ..config import CleaningPolicy, Config
from ..errors import ConfigError, DataError
from ..evolution.migration import EVERY, migration_tables, period_activity, snapshot_dates
from ..evolution.snapshots import snapshots_features
from ..io.readers import read_transactions
from ..progress import Reporter, StageClock
from ..reporting.evolution import write_evolution
from ..result import EvolveResult
from ..scoring import ScoringModel, load_bundle
from ..scoring.bundle import bundle_version
from ..scoring.inputs import with_model_reading
from .run import analyse, session

KEPT = (S.CUSTOMER_ID, "recency_days", "frequency", "monetary", "tenure_days", "engagement_score", "r_score",
        "f_score", "m_score", "rfm_segment", "cluster", "segment", "is_anomaly")


def evolve(config: Config, every: str = "month", start: dt.date | None = None, stop: dt.date | None = None,
           model_dir: str | Path | None = None, reporter: Reporter | None = None) -> EvolveResult:
    if every not in EVERY:
        raise ConfigError(f"--every {every}: use one of {', '.join(EVERY)}")
    clock = StageClock(reporter)
    model = load_bundle(model_dir) if model_dir is not None else None
    with session(config) as (engine, workdir):
        clock.watch = engine.watch
        with clock.stage("read", "Reading transactions"):
            cfg = with_model_reading(model, config.input) if model is not None else config.input
            tx = read_transactions(engine, cfg, workdir)
        with clock.stage("clean", "Cleaning"):
            policy = (CleaningPolicy(**model.spec["cleaning"]) if model is not None
                      else config.cleaning.model_copy(update={"as_of": None}))
            cleaned = clean(engine, tx.table, policy, source=tx.info.path)
            kept = cleaned.purchases_and_returns
            purchases = kept.filter(~kept[IS_RETURN])  # a snapshot's customers are buyers
            first = purchases.purchase_date.min().to_pyarrow().as_py()
        dates = snapshot_dates(first, cleaned.report.as_of, every, start, stop)
        if len(dates) < 2:
            raise DataError(f"{tx.info.path}: {len(dates)} {every} start(s) between the first purchase ({first}) and "
                            f"the end of the data ({cleaned.report.as_of}) within --from/--to; need at least two "
                            "snapshots to compare")
        fitted = model is None
        if fitted:
            fit_config = config.model_copy(update={"cleaning": config.cleaning.model_copy(update={"as_of": dates[-1]})})
            model = analyse(fit_config, engine, workdir, reporter).model
        with clock.stage("activity", "Purchases per period"):
            activity = period_activity(kept, dates, engine)
        with clock.stage("features", f"Customer features of {len(dates)} snapshots"):
            # the frozen model scores its own engagement (ranks among its training customers)
            features = snapshots_features(kept, dates, engine, engagement=False)
        snapshots = {}
        with clock.stage("snapshots", f"Scoring {len(dates)} snapshots with the frozen model") as progress:
            for i, day in enumerate(dates):
                snapshots[day] = _scored(model, features.pop(day))
                if progress is not None:
                    progress(i + 1, len(dates), "snapshots")
        with clock.stage("migration", "Transitions, sizes and lifecycle"):
            migration = migration_tables(snapshots, activity, _orders(model))
        clock.watch = None  # the engine closes with the session; the writers do not use it
    result = EvolveResult(model=model, model_fitted=fitted, source=tx.info, cleaning=cleaned.report, every=every,
                          migration=migration, model_version=model.spec.get("model_version") or bundle_version(model),
                          clock=clock, config=config)
    result.outputs = write_evolution(result, config.output.dir)
    return result


def _scored(model: ScoringModel, features: pd.DataFrame) -> pd.DataFrame:
    """The snapshot's :data:`KEPT` columns: its features and the frozen model's scores (the
    numpy path, without the anomaly reasons that evolve does not keep)."""
    columns = {c: features[c].to_numpy(np.float64) for c in features.columns if c != S.CUSTOMER_ID}
    # the ids as they are (an Arrow string array): to numpy and back costs seconds per 1M customers
    scored = {**{c: features[c].array if c == S.CUSTOMER_ID else features[c].to_numpy() for c in features.columns},
              **model.score_arrays(columns, reasons=False)}
    return pd.DataFrame({c: scored[c] for c in KEPT if c in scored})


def _orders(model: ScoringModel) -> dict[str, list[str]]:
    orders = {"rfm": list(dict.fromkeys(model.spec["rfm"]["cells"]))}
    if model.spec["learned"]:
        orders["learned"] = list(model.spec["learned"]["order"])
    return orders
