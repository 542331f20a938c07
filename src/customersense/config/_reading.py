"""The reading settings: where the transactions come from and how they are read ([input]),
and the cleaning policy ([cleaning]). Part of the one settings definition (see the package)."""

from __future__ import annotations

import codecs
import datetime as dt
import tomllib
from collections.abc import Mapping
from importlib.resources import files
from typing import ClassVar, Literal

from pydantic import field_validator, model_validator

from ..datasets import DATASETS, dataset_path
from ._base import Date, Names, PathText, Section, setting

# Cleaning markers (stock codes that are not products) are data: config/data/non_product_codes.toml.
_MARKERS = tomllib.loads(files(__package__).joinpath("data", "non_product_codes.toml").read_text(encoding="utf-8"))
DEFAULT_NON_PRODUCT_CODES: tuple[str, ...] = tuple(_MARKERS["codes"])
DEFAULT_NON_PRODUCT_PATTERNS: tuple[str, ...] = tuple(_MARKERS["patterns"])
Dataset = Literal[tuple(DATASETS)]  # type: ignore[valid-type]


class InputConfig(Section):
    section: ClassVar[str] = "input"
    help_group: ClassVar[str] = "Input"

    source: PathText | None = setting(None, "Transactions: a file, a folder of files or a glob (CSV, Parquet, "
                                 "Excel, DuckDB).", flag="SOURCE", shown="the embedded dataset",
                                 path=True)
    dataset: Dataset | None = setting(None, "Run on an embedded dataset instead of SOURCE "
                                  "(see `customersense datasets`).", shown="online_retail_ii")
    table: str | None = setting(None, "Table in a DuckDB database file; with --engine spark and no SOURCE, "
                                "a Spark catalog table.")
    allow_views: bool = setting(False, "Read a view of a DuckDB database file too, not only its base tables (a "
                                "view runs a query, which can read other files of this machine).")
    sheet: str | None = setting(None, "Excel sheet name, or 'all' for every sheet with the same header.",
                                shown="the first sheet")
    date_format: str | None = setting(None, "strptime format of text dates, e.g. '%d/%m/%Y %H:%M'.",
                                      shown="detected")
    encoding: str | None = setting(None, "CSV text encoding (a Python codec name: utf-8, cp1252, utf-16, ...).",
                                   shown="sniffed")
    delimiter: str | None = setting(None, "CSV column delimiter: ',', ';', 'tab' or '|'.", shown="sniffed")
    decimal: Literal["auto", ".", ","] = setting(
        "auto", "Decimal mark of text numbers; 'auto': decided per column from its values (1.050,50 with a "
        "comma, 1,050.50 with a point).")
    currency: str | None = setting(None, "Currency of the amounts (a code or symbol, e.g. GBP), named in every "
                                   "title and money format.", shown="GBP for the embedded dataset, else unnamed")
    mapping: Mapping[str, str] = setting(help="Map a standard column to yours; repeatable.", flag="--map",
                                         metavar="STD=COLUMN", factory=dict,
                                         expected='standard_name = "your column" pairs')
    campaign_history: PathText | None = setting(
        "campaign_history.csv", "Measured campaign results, written by `customersense campaign analyze`; read "
        "when the file exists, so a segment's recommendation shows its last measured uplift instead of a "
        "prior. An empty value reads none.", metavar="FILE", path=True)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f"unknown encoding {value!r}; use a Python codec name such as utf-8, "
                                 "cp1252, latin-1 or utf-16") from None
        return value

    @field_validator("delimiter")
    @classmethod
    def _one_delimiter(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = {"tab": "\t", "\\t": "\t"}.get(value, value)
        if value not in (",", ";", "\t", "|"):
            raise ValueError(f"delimiter {value!r}: use ',', ';', 'tab' or '|'")
        return value

    @model_validator(mode="after")
    def _one_input(self) -> InputConfig:
        if self.dataset is not None:
            path = str(dataset_path(self.dataset))
            if self.source not in (None, path):
                raise ValueError("input: give either a source or a dataset, not both")
            object.__setattr__(self, "source", path)  # frozen; set once, while being built
        return self


class CleaningPolicy(Section):
    section: ClassVar[str] = "cleaning"
    help_group: ClassVar[str] = "Cleaning"

    as_of: Date | None = setting(None, "Snapshot date YYYY-MM-DD (exclusive): rows on or after it are "
                                 "left out.", shown="the day after the last transaction")
    drop_missing_customer: bool = setting(True, "A row without a customer has no owner: always dropped.",
                                          flag=False)
    # "auto": identical rows are duplicates only when the data has order ids; in daily data
    # without them (CDNOW), two identical rows are two real purchases on one day.
    drop_duplicates: bool | Literal["auto"] = setting("auto", "Drop identical rows; 'auto': only when the "
                                                      "data has order ids.")
    drop_non_positive_price: bool = setting(True, "Drop rows with a zero or negative unit price.")
    zero_value: Literal["auto", "purchase", "drop"] = setting(
        "auto", "Rows worth zero: purchases, or dropped; 'auto': dropped where the data has unit prices "
        "(a free line), purchases where it has only amounts (CDNOW's free CDs).")
    date_floor: Date = setting(dt.date(1970, 1, 1), "Dates before this, and after the run's own day, are "
                               "implausible: their rows are dropped (implausible_date).")
    max_abs_amount: float = setting(1e12, "Amounts, quantities or prices beyond this size (and NaN or "
                                    "infinite ones) are implausible: dropped (implausible_amount).")
    returns: Literal["net", "ignore"] = setting("net", "Net returns against revenue, or drop them.")
    cancel_prefix: str = setting("auto", "Order-id prefix of cancellations; 'auto': the markers of "
                                 "cleaning/data/returns.toml, each where the data supports it; '' for none.")
    non_product_codes: Names = setting(DEFAULT_NON_PRODUCT_CODES, "Stock codes that are not products.",
                                       flag=False)
    non_product_patterns: Names = setting(DEFAULT_NON_PRODUCT_PATTERNS, "Regexes of stock codes that are "
                                          "not products.", flag=False)

    @field_validator("drop_missing_customer")
    @classmethod
    def _keep_rule(cls, value: bool) -> bool:
        if not value:
            raise ValueError("rows without a customer id cannot be kept")
        return value
