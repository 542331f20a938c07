"""The pipeline: :func:`run` reads, analyses and writes one run; :func:`session` and
:func:`analyse` are its two halves for callers that keep the engine open themselves;
:func:`score` applies a saved model to new data."""

from ..result import RunResult, ScoreResult
from .run import analyse, run, session
from .score import score

__all__ = ["RunResult", "ScoreResult", "analyse", "run", "score", "session"]
