"""Scoring with a saved model: a run frozen into plain arrays and JSON (:mod:`.model`), written and
verified on disk (:mod:`.bundle`), applied to new customers or new transactions (:mod:`.inputs`)."""

from .bundle import load_bundle, save_bundle, write_bundle
from .model import ScoringModel, freeze

__all__ = ["ScoringModel", "freeze", "load_bundle", "save_bundle", "write_bundle"]
