"""The pipeline: :func:`run` reads, analyses and writes one run; :func:`session` and
:func:`analyse` are its two halves for callers that keep the engine open themselves."""

from ..result import RunResult
from .run import analyse, run, session

__all__ = ["RunResult", "analyse", "run", "session"]
