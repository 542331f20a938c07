"""The settings, defined once: TOML keys, CLI flags and their help are generated from these models.

One frozen :class:`Config` is built once (defaults < TOML file < CLI flags, see
:func:`load_config`) and passed down. Each section is a frozen pydantic model; each key's
``setting(...)`` gives its default, its help text and, for the command line:

* the flag is the key with dashes: ``clv.horizon_months`` -> ``--horizon-months``;
  a true/false key becomes ``--key/--no-key``;
* exceptions are written at the key as ``flag="--..."`` (generic names that repeat across
  sections: ``enabled``, ``dir``, ``name``, ``model``; and ``--map``), ``flag="SOURCE"`` for the
  positional argument; ``flag=False`` keeps a key in the file only (lists, tables, tuning knobs).

TOML layout (every key optional; tests/config/test_config.py checks it lists every key)::

    [input]
    source = "transactions.csv"   # path, relative to this file; omit for the embedded data
    dataset = "cdnow_sample"      # an embedded dataset instead of source
    table = "sales"               # table name inside a DuckDB database file
    allow_views = false           # read a view of that file too (a view can read other files)
    sheet = "Year 2009-2010"      # Excel sheet, or "all" for every sheet with the same header
    date_format = "%d/%m/%Y %H:%M"  # strptime format when dates are ambiguous text
    currency = "GBP"              # named in titles and money formats
    encoding = "cp1252"           # CSV text encoding; sniffed when omitted
    delimiter = ";"               # CSV column delimiter (, ; tab |); sniffed when omitted
    decimal = "auto"              # decimal mark of text numbers: "auto", "." or ","
    campaign_history = "campaign_history.csv"  # measured campaigns (campaign analyze); "" for none
    [mapping]                     # standard name = your column name (or [input.mapping])
    customer_id = "Client No"
    [cleaning]
    as_of = 2010-12-01            # exclusive: rows on or after this date are left out
    drop_missing_customer = true  # always on: a row without a customer has no owner
    drop_duplicates = "auto"      # true, false, or "auto": only when the data has order ids
    drop_non_positive_price = true
    zero_value = "auto"           # "purchase", "drop", or "auto": drop where unit prices exist
    date_floor = 1970-01-01       # earlier dates (and dates after the run's day) are implausible
    max_abs_amount = 1e12         # larger amounts, NaN and infinities are implausible
    returns = "net"               # "net": netted against revenue; "ignore": dropped
    cancel_prefix = "auto"        # "auto": cleaning/data/returns.toml where the data supports it
    non_product_codes = ["POST", "M", ...]
    non_product_patterns = ["^gift_"]
    [rfm]
    segment_map = "my_map.csv"    # relative to this file
    [segmentation]
    enabled = true
    features = ["recency_days", "frequency", "monetary", "avg_order_value", "tenure_days"]
    scaler = "standard"           # or "robust"
    contamination = 0.05          # share of customers flagged as anomalies, or "auto"
    k = 4                         # fix k; omit to choose it from the data
    k_min = 2
    k_max = 10
    outliers = "assign"           # or "separate": anomalies form their own "Outliers" segment
    random_state = 42
    silhouette_sample_size = 5000
    silhouette_samples = 3
    max_fit_samples = 200000
    [validation]
    enabled = true
    n_bootstrap = 50              # bootstrap re-fits for cluster stability
    n_null = 99                   # null (uniform reference) fits for the p-value
    gap_references = 20           # reference data sets per k for the gap statistic
    max_customers = 5000          # validate on a seeded sample above this size
    [clv]
    enabled = true
    model = "auto"                # chosen by the holdout; or "pareto", "bgnbd", "mbgnbd", "supervised"
    holdout_days = 90             # churn horizon H: the last H days rank the candidates
    penalizer = 0.01              # L2 penalty of the BTYD fits; default: chosen by the holdout
    time_unit = "weeks"           # or "days"
    calibration_end = 2010-08-01  # holdout after this date instead of the last holdout_days
    horizon_months = 12
    discount_rate = 0.01          # per month
    margin = 1.0                  # profit share of revenue
    fit_sample = 200000           # above this many customers the models fit on a seeded sample; 0: all
    [representations]
    trajectories = false          # trajectory segments (monthly spend shapes)
    trajectory_months = 12
    embeddings = false            # basket-embedding segments
    holdout = false               # judge the representations on a time-split holdout
    horizon_days = 90
    [output]
    dir = "outputs"               # relative to this file
    csv_max_rows = 1000000
    transactions_max_rows = 1000000  # above it no transactions_with_segments; -1: always, 0: never
    workbook_max_rows = 100000    # customers in customersense.xlsx; -1: as many as Excel holds
    plots = true
    plots_worker = true           # draw them in a second process while the tables are written
    dashboards = true             # report.html, customersense.xlsx, tableau/, powerbi/
    csv_bom = false               # a UTF-8 byte-order mark for Excel's double-click
    save_model = "models/2010-12" # the model bundle elsewhere (default: DIR/model)
    [engine]
    name = "duckdb"               # or "spark"
    threads = 2                   # DuckDB threads (Spark: use spark_conf)
    memory_limit = "2GB"          # DuckDB memory cap; beyond it the engine spills to disk
    spark_master = "local[*]"     # default: $SPARK_MASTER, else the session spark-submit made, else local[*]
    max_collect_customers = 2000000  # Spark: above this, models fit on a sample and score in Spark
    [engine.spark_conf]           # any Spark setting
    "spark.driver.memory" = "4g"

Dates may be TOML dates or "YYYY-MM-DD" strings. Values are not coerced: ``k = "4"`` is an error.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from ..choices import CONTAMINATION_RULE, K_MIN, K_RANGE_RULE, OUTLIER_MODES, SCALERS, contamination_ok, k_range_ok
from ..errors import ConfigError
from ..schema import DEFAULT_SEGMENT_FEATURES
from . import _load
from ._reading import DEFAULT_NON_PRODUCT_CODES, DEFAULT_NON_PRODUCT_PATTERNS, CleaningPolicy, InputConfig
from ._base import Date, Key, Names, PathText, RaisesConfigError, Section, at_least, iter_keys, setting

_MEMORY = re.compile(r"\d+(\.\d+)?\s*([KMGT]i?B)", re.IGNORECASE)

Engine = Literal["duckdb", "spark"]
ENGINES: tuple[str, ...] = typing.get_args(Engine)
Scaler = Literal[SCALERS]  # type: ignore[valid-type]  # choices.py: the estimators check the same
OutlierMode = Literal[OUTLIER_MODES]  # type: ignore[valid-type]


def _spark_conf(value: Any) -> Any:
    """Spark settings are strings; TOML numbers and booleans are written as Spark spells them."""
    if isinstance(value, Mapping):
        return {k: str(v).lower() if isinstance(v, bool) else str(v) if isinstance(v, (int, float)) else v
                for k, v in value.items()}
    return value


class RFMConfig(Section):
    section: ClassVar[str] = "rfm"
    help_group: ClassVar[str] = "Segments"

    segment_map: PathText | None = setting(None, "CSV mapping each of the 125 (R,F,M) cells to a segment.",
                                      shown="the built-in map", metavar="FILE", path=True,
                                      aliases=("--rfm-map",))


class SegmentationConfig(Section):
    """Learned segments; see customersense.models.segmenter.CustomerSegmenter."""

    section: ClassVar[str] = "segmentation"
    help_group: ClassVar[str] = "Segments"

    enabled: bool = setting(True, "Learned segments.", flag="--segments")
    features: Names = setting(DEFAULT_SEGMENT_FEATURES, "Per-customer features the segments are learned "
                              "from.", flag=False)
    scaler: Scaler = setting("standard", "Feature scaling before clustering.")
    contamination: float | Literal["auto"] = setting(0.05, "Share of customers flagged as anomalies, "
                                                     "or 'auto'.", metavar="SHARE|auto")
    k: int | None = setting(None, "Fix the number of learned segments.", shown="chosen from the data")
    k_min: int = setting(2, "Smallest number of segments tried.")
    k_max: int = setting(10, "Largest number of segments tried.")
    outliers: OutlierMode = setting("assign", "Anomalies join their nearest segment "
                                                      "(flagged), or form an 'Outliers' segment.")
    random_state: int = setting(42, "Random seed of the models.", aliases=("--seed",))
    silhouette_sample_size: int = setting(5000, "Customers per silhouette sample.", flag=False)
    silhouette_samples: int = setting(3, "Silhouette samples averaged per k.", flag=False)
    max_fit_samples: int = setting(200_000, "Above this many customers, models fit on a sample.",
                                   flag=False)

    @field_validator("contamination")
    @classmethod
    def _share(cls, value: float | str) -> float | str:
        if not contamination_ok(value):
            raise ValueError(CONTAMINATION_RULE)
        return value

    _k = at_least(K_MIN, "k")

    @field_validator("features")
    @classmethod
    def _features(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("name at least one feature")
        return value

    @model_validator(mode="after")
    def _k_range(self) -> SegmentationConfig:
        if not k_range_ok(self.k_min, self.k_max):
            raise ValueError(f"segmentation.k_min={self.k_min}, k_max={self.k_max}: {K_RANGE_RULE}")
        return self


class ValidationConfig(Section):
    """Statistical validation of the learned segments; see customersense.evaluation.validation."""

    section: ClassVar[str] = "validation"
    help_group: ClassVar[str] = "Validation"

    enabled: bool = setting(True, "Bootstrap stability, gap statistic and null test of the learned "
                            "segments.", flag="--validate")
    n_bootstrap: int = setting(50, "Bootstrap re-fits for cluster stability.", flag=False)
    n_null: int = setting(99, "Null (uniform reference) fits for the p-value.", flag=False)
    gap_references: int = setting(20, "Reference data sets per k for the gap statistic.", flag=False)
    max_customers: int = setting(5000, "Validate on a seeded sample above this many customers.", flag=False)

    _positive = at_least(1, "n_bootstrap", "n_null", "gap_references")
    _sample = at_least(50, "max_customers")


MIN_FIT_SAMPLE = 10_000  # clv.fit_sample: 0 or at least this many customers


class CLVConfig(Section):
    """Customer lifetime value and churn; see customersense.clv.stage."""

    section: ClassVar[str] = "clv"
    help_group: ClassVar[str] = "CLV"

    enabled: bool = setting(True, "Lifetime value and churn models.", flag="--clv")
    model: Literal["auto", "pareto", "bgnbd", "mbgnbd", "supervised"] = setting(
        "auto", "Churn and CLV model; 'auto': the candidate with the best holdout Brier score.", flag="--clv-model")
    holdout_days: int = setting(90, "Churn horizon H in days; the last H days are the holdout.")
    penalizer: float | None = setting(None, "L2 penalty of the BTYD fits (lifetimes' penalizer_coef).",
                                      shown="chosen by the holdout")
    time_unit: Literal["weeks", "days"] = setting("weeks", "Time unit of the transaction model.")
    calibration_end: Date | None = setting(None, "Holdout after this date (sets H).",
                                           shown="the last holdout_days days")
    horizon_months: int = setting(12, "CLV and expected-purchases horizon in months.", aliases=("--horizon",))
    discount_rate: float = setting(0.01, "Monthly (30-day) discount rate for CLV.")
    margin: float = setting(1.0, "Profit share of revenue for CLV; 1.0 gives revenue CLV.")
    fit_sample: int = setting(200_000, "Above this many customers, the churn/CLV candidates are fitted and "
                              "ranked on a seeded sample of about this many; every customer is predicted. "
                              "0: fit on all; else at least 10,000.")

    _horizon = at_least(1, "horizon_months")
    _holdout = at_least(7, "holdout_days")

    @field_validator("penalizer")
    @classmethod
    def _penalizer(cls, value: float | None) -> float | None:
        if value is not None and not 0 <= value <= 10:
            raise ValueError("a penalty in [0, 10], e.g. 0.01")
        return value

    @field_validator("fit_sample")
    @classmethod
    def _fit_sample(cls, value: int) -> int:
        if value != 0 and value < MIN_FIT_SAMPLE:
            raise ValueError(f"0 (fit on every customer) or at least {MIN_FIT_SAMPLE:,}: smaller samples leave the "
                             "churn models' parameters poorly determined")
        return value

    @field_validator("discount_rate")
    @classmethod
    def _rate(cls, value: float) -> float:
        if not -1 < value < 1:
            raise ValueError("a monthly rate in (-1, 1), e.g. 0.01")
        return value

    @field_validator("margin")
    @classmethod
    def _margin(cls, value: float) -> float:
        if not 0 < value <= 1:
            raise ValueError("a share in (0, 1]")
        return value


class RepresentationsConfig(Section):
    """Customer representations beyond RFM; see customersense.evolution. Off by default: on the
    embedded data neither beats the naive baselines on the holdout (docs/evolution.md)."""

    section: ClassVar[str] = "representations"
    help_group: ClassVar[str] = "Representations"

    trajectories: bool = setting(False, "Trajectory segments from each customer's monthly spend "
                                 "(growing, declining, seasonal, steady, one-off).")
    trajectory_months: int = setting(12, "Complete months before as_of in the trajectories.")
    embeddings: bool = setting(False, "Basket-embedding segments: products bought together, customers by "
                               "what they buy.")
    holdout: bool = setting(False, "Judge RFM features alone against + trajectories and + embeddings on a "
                            "time-split holdout (representations.csv).")
    horizon_days: int = setting(90, "Length of the holdout's label windows in days.")

    _months = at_least(3, "trajectory_months")
    _days = at_least(7, "horizon_days")


class OutputConfig(Section):
    section: ClassVar[str] = "output"
    help_group: ClassVar[str] = "Outputs"

    dir: PathText = setting("outputs", "Output folder.", flag="--out", metavar="DIR", path=True)
    csv_max_rows: int = setting(1_000_000, "Write the CSV copies (customers, transactions) only up to this "
                                "many rows; Parquet always.")
    transactions_max_rows: int = setting(1_000_000, "Write transactions_with_segments (Parquet, and CSV up to "
                                         "--csv-max-rows) only up to this many kept rows; -1: always, 0: "
                                         "never. Above it, join customer_segments.parquet to your "
                                         "transactions on customer_id.")
    workbook_max_rows: int = setting(100_000, "The Customers sheet of customersense.xlsx holds at most this "
                                     "many customers (the first in customer order); -1: as many as Excel "
                                     "holds (1,048,575).")
    plots: bool = setting(True, "Draw the PNG dashboards.")
    plots_worker: bool = setting(True, "Draw the PNG dashboards in a second process while the other outputs are "
                                 "written (the same files, sooner on a second core); off: in this process.")
    dashboards: bool = setting(True, "Write the interactive report (report.html), the Excel workbook and the "
                               "Tableau and Power BI files.")
    csv_bom: bool = setting(False, "Start each CSV with a UTF-8 byte-order mark, so that Excel detects UTF-8 "
                            "on a double-click.")
    save_model: PathText | None = setting(None, "Write the model bundle (for `customersense score` and "
                                          "`serve`) to this folder.", shown="DIR/model", metavar="DIR",
                                          path=True)

    _rows = at_least(0, "csv_max_rows")
    _tx_rows = at_least(-1, "transactions_max_rows", "workbook_max_rows")

    def writes_transactions(self, rows: int) -> bool:
        """Whether transactions_with_segments is written for ``rows`` kept rows (-1: always)."""
        return self.transactions_max_rows < 0 or rows <= self.transactions_max_rows


class EngineConfig(Section):
    """Where transaction-level work runs; see customersense.engine."""

    section: ClassVar[str] = "engine"
    help_group: ClassVar[str] = "Engine"

    name: Engine = setting("duckdb", "Where transaction-level work runs.", flag="--engine")
    threads: int | None = setting(None, "Engine threads.", shown="all cores")
    # DuckDB's memory cap, e.g. "2GB": beyond it, tables, joins, aggregates and sorts spill to
    # the run's scratch folder. Default: a quarter of the machine's memory, at most 4 GiB.
    memory_limit: str | None = setting(None, "DuckDB memory cap, e.g. 2GB; beyond it the engine spills to "
                                       "disk.", shown="a quarter of the RAM, at most 4 GiB")
    spark_master: str | None = setting(None, "Spark master URL.",
                                       shown="$SPARK_MASTER, spark-submit's, else local[*]")
    spark_conf: Annotated[Mapping[str, str], BeforeValidator(_spark_conf)] = setting(
        help="Any Spark setting.", flag=False, factory=dict, expected='"spark.setting" = "value" pairs')
    # Spark only: customer tables up to this size come back to the driver whole (one row per
    # customer); larger ones are modelled on a sample and scored inside Spark.
    max_collect_customers: int = setting(2_000_000, "Spark: above this many customers, models fit on a "
                                         "sample and score in Spark.")

    _threads = at_least(1, "threads", "max_collect_customers")

    @field_validator("memory_limit")
    @classmethod
    def _memory(cls, value: str | None) -> str | None:
        if value is not None and not _MEMORY.fullmatch(value):
            raise ValueError("use a size such as '2GB', '1500MB' or '4GiB'")
        return value

    @model_validator(mode="after")
    def _memory_is_duckdb(self) -> EngineConfig:
        if self.memory_limit is not None and self.name == "spark":
            raise ValueError("engine.memory_limit applies to DuckDB; for Spark set spark.driver.memory "
                             "and spark.executor.memory in [engine.spark_conf]")
        return self


class Config(BaseModel, metaclass=RaisesConfigError):
    """The whole configuration; :meth:`to_dict` goes into run.json."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input: InputConfig = Field(default_factory=InputConfig)
    cleaning: CleaningPolicy = Field(default_factory=CleaningPolicy)
    rfm: RFMConfig = Field(default_factory=RFMConfig)
    segmentation: SegmentationConfig = Field(default_factory=SegmentationConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    clv: CLVConfig = Field(default_factory=CLVConfig)
    representations: RepresentationsConfig = Field(default_factory=RepresentationsConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (dates as ISO strings) for run.json."""
        return self.model_dump(mode="json")


def keys() -> Iterator[Key]:
    """Every key of the definition, section by section, in definition order."""
    return iter_keys(Config)


def section_model(section: str) -> type[Section]:
    return Config.model_fields[section].annotation


def load_config(path: str | Path | None = None, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Config:
    """Build a :class:`Config` from an optional TOML file and per-section overrides (CLI flags).

    Precedence: defaults < file < overrides. ``overrides`` looks like
    ``{"cleaning": {"as_of": "2010-06-01"}, "mapping": {"customer_id": "Client"}}``; ``None``
    values are ignored so that unset flags keep the file's value. File values are checked
    strictly and relative paths in the file are relative to its folder (see _load.py).
    """
    return _load.load(Config, path, overrides)


__all__ = [
    "CLVConfig", "CleaningPolicy", "Config", "ConfigError", "DEFAULT_NON_PRODUCT_CODES",
    "DEFAULT_NON_PRODUCT_PATTERNS", "ENGINES", "EngineConfig", "InputConfig", "Key", "OutputConfig",
    "RFMConfig", "RepresentationsConfig", "SegmentationConfig", "ValidationConfig", "keys", "load_config", "section_model",
]
