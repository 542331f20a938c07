"""``score(config, model_dir) -> ScoreResult``: a saved model applied to new data, and written.

The input (``config.input.source``) is new transactions, in any format a run reads, or a
customer table (a run's ``customer_segments``); ``kind`` says which, or "auto" decides from the
columns. Transactions are read, cleaned and turned into customer features by the run's own
stages, with the model's frozen cleaning settings and column mapping, as of
``config.cleaning.as_of`` (else the day after their last transaction). Every customer is then
scored by the frozen rules (:class:`~customersense.scoring.ScoringModel`) and the outputs are
written into ``config.output.dir``, all or nothing.
"""

from __future__ import annotations

from pathlib import Path

from ..config import Config
from ..errors import ConfigError
from ..progress import Reporter, StageClock
from ..reporting.scores import write_scores
from ..result import ScoreResult
from ..scoring import ScoringModel, load_bundle
from ..scoring.inputs import KINDS, ScoringInput, customers_from_transactions, input_kind, read_customers
from .run import session


def score(config: Config, model_dir: str | Path, kind: str = "auto", reporter: Reporter | None = None) -> ScoreResult:
    if kind not in KINDS:
        raise ConfigError(f"--kind {kind}: use one of {', '.join(KINDS)}")
    source = config.input.source
    if source is None:
        raise ConfigError("score: name the INPUT to score (new transactions or a customer table)")
    clock = StageClock(reporter)
    with clock.stage("load", "Loading the model bundle"):
        model = load_bundle(model_dir)
    kind = input_kind(source) if kind == "auto" else kind
    if kind == "customers":
        with clock.stage("read", "Reading the customer table"):
            scoring_input = read_customers(source)
        result = _scored(model, scoring_input, clock, config)
    else:
        with session(config) as (engine, workdir):
            with clock.stage("features", "Reading, cleaning and customer features"):
                scoring_input = customers_from_transactions(engine, model, config.input, config.cleaning.as_of, workdir)
            result = _scored(model, scoring_input, clock, config)
    result.outputs = write_scores(result, config.output.dir)
    return result


def _scored(model: ScoringModel, scoring_input: ScoringInput, clock: StageClock, config: Config) -> ScoreResult:
    with clock.stage("score", "Scoring with the frozen rules"):
        customers = model.score(scoring_input.customers, windows=scoring_input.windows)
    return ScoreResult(model=model, input=scoring_input, customers=customers, clock=clock, config=config)
