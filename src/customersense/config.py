"""One frozen configuration object, built once (defaults < TOML file < CLI flags) and passed down.

TOML layout (every key optional)::

    [input]
    source = "transactions.csv"   # path; omit for the embedded Online Retail II data
    table = "sales"               # table name inside a DuckDB database file
    sheet = "Year 2009-2010"      # Excel sheet, or "all" for every sheet with the same header
    date_format = "%d/%m/%Y %H:%M"  # strptime format when dates are ambiguous text
    encoding = "cp1252"           # CSV text encoding; sniffed when omitted
    [mapping]                     # standard name = your column name
    customer_id = "Client No"
    [cleaning]
    as_of = "2010-12-01"          # exclusive: rows on or after this date are left out
    drop_duplicates = "auto"      # true, false, or "auto": only when the data has order ids
    drop_non_positive_price = true
    returns = "net"               # "net": netted against revenue; "ignore": dropped
    cancel_prefix = "C"
    non_product_codes = ["POST", "M", ...]
    non_product_patterns = ["^gift_"]
    [rfm]
    segment_map = "my_map.csv"
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
    [validation]
    enabled = true
    n_bootstrap = 50              # bootstrap re-fits for cluster stability
    n_null = 99                   # null (uniform reference) fits for the p-value
    gap_references = 20           # reference data sets per k for the gap statistic
    max_customers = 5000          # validate on a seeded sample above this size
    [clv]
    enabled = true
    model = "pareto"              # or "bgnbd"
    time_unit = "weeks"
    calibration_end = "2010-08-01"  # holdout evaluation after this date; default: last third
    horizon_months = 12
    discount_rate = 0.01          # per month
    margin = 1.0                  # profit share of revenue
    [output]
    dir = "outputs"
    csv_max_rows = 1000000
    plots = true
    [engine]
    name = "duckdb"               # or "spark"
    threads = 2                   # DuckDB threads (Spark: use spark_conf)
    spark_master = "local[*]"     # default: $SPARK_MASTER, else the session spark-submit made, else local[*]
    max_collect_customers = 2000000  # Spark: above this, models fit on a sample and score in Spark
    [engine.spark_conf]           # any Spark setting
    "spark.driver.memory" = "4g"
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .schema import DEFAULT_SEGMENT_FEATURES

_MEMORY = re.compile(r"\d+(\.\d+)?\s*([KMGT]i?B)", re.IGNORECASE)

# Stock codes of the Online Retail family that are not products: postage, manual entries,
# discounts, carriage, samples, bad-debt adjustments, bank and marketplace fees, charity.
DEFAULT_NON_PRODUCT_CODES = (
    "POST", "DOT", "M", "C2", "D", "S", "B", "ADJUST", "ADJUST2", "BANK CHARGES",
    "AMAZONFEE", "CRUK", "PADS", "TEST001", "TEST002",
)
# Gift vouchers (gift_0001_10 ...) are money, not products.
DEFAULT_NON_PRODUCT_PATTERNS = ("^gift_",)


@dataclass(frozen=True)
class InputConfig:
    source: str | None = None
    table: str | None = None
    sheet: str | None = None
    date_format: str | None = None
    encoding: str | None = None
    mapping: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CleaningPolicy:
    as_of: dt.date | None = None
    drop_missing_customer: bool = True  # always on: a row without a customer has no owner
    # "auto": identical rows are duplicates only when the data has order ids; in daily data
    # without them (CDNOW), two identical rows are two real purchases on one day.
    drop_duplicates: bool | str = "auto"
    drop_non_positive_price: bool = True
    returns: str = "net"
    cancel_prefix: str = "C"
    non_product_codes: tuple[str, ...] = DEFAULT_NON_PRODUCT_CODES
    non_product_patterns: tuple[str, ...] = DEFAULT_NON_PRODUCT_PATTERNS

    def __post_init__(self) -> None:
        if self.drop_duplicates not in (True, False, "auto"):
            raise ConfigError(f"cleaning.drop_duplicates={self.drop_duplicates!r}: use true, false or 'auto'")
        if self.returns not in ("net", "ignore"):
            raise ConfigError(f"cleaning.returns={self.returns!r}: use 'net' or 'ignore'")
        if not self.drop_missing_customer:
            raise ConfigError("cleaning.drop_missing_customer=false: rows without a customer id cannot be kept")


@dataclass(frozen=True)
class RFMConfig:
    segment_map: str | None = None


@dataclass(frozen=True)
class SegmentationConfig:
    """Learned segments; see customersense.models.segmenter.CustomerSegmenter."""

    enabled: bool = True
    features: tuple[str, ...] = DEFAULT_SEGMENT_FEATURES
    scaler: str = "standard"
    contamination: float | str = 0.05
    k: int | None = None
    k_min: int = 2
    k_max: int = 10
    outliers: str = "assign"
    random_state: int = 42
    silhouette_sample_size: int = 5000
    silhouette_samples: int = 3
    max_fit_samples: int = 200_000

    def __post_init__(self) -> None:
        c = self.contamination
        if not (c == "auto" or (isinstance(c, (int, float)) and 0 <= c <= 0.5)):
            raise ConfigError(f"segmentation.contamination={c!r}: use 'auto' or a number in [0, 0.5]")
        if self.scaler not in ("standard", "robust"):
            raise ConfigError(f"segmentation.scaler={self.scaler!r}: use 'standard' or 'robust'")
        if self.outliers not in ("assign", "separate"):
            raise ConfigError(f"segmentation.outliers={self.outliers!r}: use 'assign' or 'separate'")
        if not 2 <= self.k_min <= self.k_max:
            raise ConfigError(f"segmentation.k_min={self.k_min}, k_max={self.k_max}: need 2 <= k_min <= k_max")
        if self.k is not None and self.k < 2:
            raise ConfigError(f"segmentation.k={self.k}: must be >= 2")
        if not self.features:
            raise ConfigError("segmentation.features: name at least one feature")


@dataclass(frozen=True)
class ValidationConfig:
    """Statistical validation of the learned segments; see customersense.evaluation.validation."""

    enabled: bool = True
    n_bootstrap: int = 50
    n_null: int = 99
    gap_references: int = 20
    max_customers: int = 5000

    def __post_init__(self) -> None:
        for name in ("n_bootstrap", "n_null", "gap_references"):
            if getattr(self, name) < 1:
                raise ConfigError(f"validation.{name}={getattr(self, name)}: must be >= 1")
        if self.max_customers < 50:
            raise ConfigError(f"validation.max_customers={self.max_customers}: must be >= 50")


@dataclass(frozen=True)
class CLVConfig:
    """Customer lifetime value and churn; see customersense.clv.stage."""

    enabled: bool = True
    model: str = "pareto"          # "pareto" (Pareto/NBD) or "bgnbd" (BG/NBD)
    time_unit: str = "weeks"
    calibration_end: dt.date | None = None  # default: the last third of the period is the holdout
    horizon_months: int = 12
    discount_rate: float = 0.01    # per month (30 days)
    margin: float = 1.0            # profit share of revenue; 1.0 gives revenue CLV

    def __post_init__(self) -> None:
        if self.model not in ("pareto", "bgnbd"):
            raise ConfigError(f"clv.model={self.model!r}: use 'pareto' or 'bgnbd'")
        if self.time_unit not in ("weeks", "days"):
            raise ConfigError(f"clv.time_unit={self.time_unit!r}: use 'weeks' or 'days'")
        if self.horizon_months < 1:
            raise ConfigError(f"clv.horizon_months={self.horizon_months}: must be >= 1")
        if not -1 < self.discount_rate < 1:
            raise ConfigError(f"clv.discount_rate={self.discount_rate}: a monthly rate in (-1, 1), e.g. 0.01")
        if not 0 < self.margin <= 1:
            raise ConfigError(f"clv.margin={self.margin}: a share in (0, 1]")


@dataclass(frozen=True)
class OutputConfig:
    dir: str = "outputs"
    csv_max_rows: int = 1_000_000
    plots: bool = True

    def __post_init__(self) -> None:
        if self.csv_max_rows < 0:
            raise ConfigError(f"output.csv_max_rows={self.csv_max_rows}: must be >= 0")


ENGINES = ("duckdb", "spark")


@dataclass(frozen=True)
class EngineConfig:
    """Where transaction-level work runs; see customersense.engine."""

    name: str = "duckdb"
    threads: int | None = None
    # DuckDB's memory cap, e.g. "2GB": beyond it, tables, joins, aggregates and sorts spill to
    # the run's scratch folder. Default: half of the machine's memory (see engine.connect).
    memory_limit: str | None = None
    spark_master: str | None = None
    spark_conf: Mapping[str, str] = field(default_factory=dict)
    # Spark only: customer tables up to this size come back to the driver whole (one row per
    # customer); larger ones are modelled on a sample and scored inside Spark.
    max_collect_customers: int = 2_000_000

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise ConfigError(f"engine.name={self.name!r}: supported engines: {', '.join(ENGINES)}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"engine.threads={self.threads}: must be >= 1")
        if self.memory_limit is not None:
            if not _MEMORY.fullmatch(str(self.memory_limit)):
                raise ConfigError(
                    f"engine.memory_limit={self.memory_limit!r}: use a size such as '2GB', '1500MB' or '4GiB'"
                )
            if self.name == "spark":
                raise ConfigError("engine.memory_limit applies to DuckDB; for Spark set spark.driver.memory "
                                  "and spark.executor.memory in [engine.spark_conf]")
        if not isinstance(self.spark_conf, Mapping):
            raise ConfigError("[engine.spark_conf]: expected \"spark.setting\" = \"value\" pairs")
        if self.max_collect_customers < 1:
            raise ConfigError(f"engine.max_collect_customers={self.max_collect_customers}: must be >= 1")


@dataclass(frozen=True)
class Config:
    input: InputConfig = field(default_factory=InputConfig)
    cleaning: CleaningPolicy = field(default_factory=CleaningPolicy)
    rfm: RFMConfig = field(default_factory=RFMConfig)
    segmentation: SegmentationConfig = field(default_factory=SegmentationConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    clv: CLVConfig = field(default_factory=CLVConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (dates as ISO strings) for run.json."""
        return _jsonable(dataclasses.asdict(self))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def parse_date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ConfigError(f"{where}={value!r}: not a date; use YYYY-MM-DD") from None


_SECTIONS = {
    "input": InputConfig,
    "cleaning": CleaningPolicy,
    "rfm": RFMConfig,
    "segmentation": SegmentationConfig,
    "validation": ValidationConfig,
    "clv": CLVConfig,
    "output": OutputConfig,
    "engine": EngineConfig,
}


def load_config(path: str | Path | None = None, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Config:
    """Build a :class:`Config` from an optional TOML file and per-section overrides (CLI flags).

    ``overrides`` looks like ``{"cleaning": {"as_of": "2010-06-01"}, "mapping": {"customer_id": "Client"}}``;
    ``None`` values are ignored so that unset flags keep the file's value.
    """
    raw: dict[str, dict[str, Any]] = {}
    if path is not None:
        raw = _read_toml(Path(path))
    for section, values in (overrides or {}).items():
        target = raw.setdefault(section, {})
        target.update({k: v for k, v in values.items() if v is not None})
    mapping = raw.pop("mapping", {})
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise ConfigError("[mapping]: expected standard_name = \"your column\" pairs")
    sections: dict[str, Any] = {}
    for name, values in raw.items():
        if name not in _SECTIONS:
            raise ConfigError(f"config section [{name}] is unknown; use {', '.join(['mapping', *_SECTIONS])}")
        sections[name] = _build(name, values)
    input_cfg = sections.get("input", InputConfig())
    if mapping:
        input_cfg = dataclasses.replace(input_cfg, mapping=dict(mapping))
    sections["input"] = input_cfg
    return Config(**sections)


def _build(section: str, values: Mapping[str, Any]) -> Any:
    cls = _SECTIONS[section]
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"[{section}] {unknown[0]}: unknown key; known keys: {', '.join(sorted(names))}")
    values = dict(values)
    if section == "cleaning":
        if values.get("as_of") is not None:
            values["as_of"] = parse_date(values["as_of"], "cleaning.as_of")
        for key in ("non_product_codes", "non_product_patterns"):
            if key in values:
                values[key] = tuple(str(v) for v in values[key])
    if section == "clv" and values.get("calibration_end") is not None:
        values["calibration_end"] = parse_date(values["calibration_end"], "clv.calibration_end")
    if section == "engine" and "spark_conf" in values:
        conf = values["spark_conf"]
        if not isinstance(conf, Mapping):
            raise ConfigError("[engine.spark_conf]: expected \"spark.setting\" = \"value\" pairs")
        values["spark_conf"] = {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in conf.items()}
    if section == "segmentation" and "features" in values:
        values["features"] = tuple(str(v) for v in values["features"])
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"[{section}]: {exc}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
