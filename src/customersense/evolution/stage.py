"""The representations stage of a run (settings ``[representations]``): trajectory segments,
basket-embedding segments, and the held-out judgement of both against the RFM features."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import ibis
import pandas as pd

from .. import schema as S
from ..config import RepresentationsConfig
from ..engine.base import Engine
from ..errors import DataError
from .embeddings import BasketEmbeddings, learn_embeddings
from .holdout import evaluate_representations
from .trajectories import TRAJECTORY_FEATURES, TrajectorySegments, learn_trajectories

K_MAX = 8  # both stages sweep k in 2..8


@dataclass
class Representations:
    trajectories: TrajectorySegments | None = None
    embeddings: BasketEmbeddings | None = None
    holdout: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    def columns(self) -> pd.DataFrame | None:
        """Per customer: trajectory_cluster, trajectory, embedding_cluster, embedding_segment."""
        parts = []
        if self.trajectories is not None:
            parts.append(self.trajectories.columns[["trajectory_cluster", "trajectory"]])
        if self.embeddings is not None:
            parts.append(self.embeddings.columns[["embedding_cluster", "embedding_segment"]])
        return pd.concat(parts, axis=1) if parts else None

    def summary(self) -> dict[str, Any]:
        return {
            "trajectories": self.trajectories.summary() if self.trajectories is not None else None,
            "embeddings": self.embeddings.summary() if self.embeddings is not None else None,
            "holdout": None if self.holdout is None else self.holdout.to_dict(orient="records"),
            "notes": self.notes,
        }


def learn_representations(kept: ibis.Table, as_of: dt.date, cfg: RepresentationsConfig, engine: Engine,
                          random_state: int) -> Representations:
    out = Representations()
    if cfg.trajectories:
        try:
            out.trajectories = learn_trajectories(kept, as_of, cfg.trajectory_months, engine, k_range=(2, K_MAX),
                                                  random_state=random_state)
        except ValueError as exc:
            out.notes.append(f"trajectories skipped: {exc}")
    if cfg.embeddings:
        if S.PRODUCT_ID not in kept.columns:
            out.notes.append("basket embeddings skipped: the data has no product column")
        else:
            try:
                out.embeddings = learn_embeddings(kept, engine, random_state=random_state)
            except (DataError, ValueError) as exc:  # e.g. one product per basket: nothing is bought together
                out.notes.append(f"basket embeddings skipped: {exc}")
    if cfg.holdout:
        # the run's own embeddings say whether the data has baskets to embed (None: not tried)
        ok = (out.embeddings is not None) if cfg.embeddings else None
        out.holdout = _holdout(kept, as_of, cfg, engine, random_state, out.notes, ok)
    return out


def _holdout(kept, as_of, cfg, engine, random_state, notes, embeddings_ok: bool | None) -> pd.DataFrame | None:
    """Each representation's block rebuilt from the rows before each snapshot: nothing after it leaks in."""
    ts = kept[S.TIMESTAMP]

    def before(day: dt.date) -> ibis.Table:
        return kept.filter(ts < ibis.literal(dt.datetime.combine(day, dt.time()), "timestamp"))

    def trajectory(day: dt.date) -> pd.DataFrame:
        segs = learn_trajectories(before(day), day, cfg.trajectory_months, engine, k_range=(2, K_MAX),
                                  random_state=random_state, validate=False)
        return segs.columns[list(TRAJECTORY_FEATURES)]

    def embedding(day: dt.date) -> pd.DataFrame:
        emb = learn_embeddings(before(day), engine, random_state=random_state)
        return emb.columns[[c for c in emb.columns.columns if c.startswith("emb_")]]

    blocks = {"trajectory": trajectory}
    if embeddings_ok is None and S.PRODUCT_ID in kept.columns:
        try:  # embeddings need baskets of several products: find out once, on all the rows
            learn_embeddings(kept, engine, random_state=random_state)
            embeddings_ok = True
        except (DataError, ValueError) as exc:
            notes.append(f"representation holdout without basket embeddings: {exc}")
    if embeddings_ok:
        blocks["embedding"] = embedding
    try:
        return evaluate_representations(kept, as_of, blocks, horizon_days=cfg.horizon_days, engine=engine,
                                        random_state=random_state)
    except (DataError, ValueError) as exc:
        notes.append(f"representation holdout skipped: {exc}")
        return None
