"""Real public datasets shipped inside the package.

- ``online_retail_ii``: UCI "Online Retail II" (dataset 502), sheet "Year 2009-2010", 525,461 raw
  rows of a UK online gift retailer, 2009-12-01 .. 2010-12-09. Creator: Daqing Chen, London South
  Bank University. License CC BY 4.0. Citation: Chen, Sain & Guo (2012), Journal of Database
  Marketing & Customer Strategy Management 19(3). This is the default input of ``customersense run``.
- ``cdnow_master`` / ``cdnow_sample``: purchases up to 1998-06-30 of the 23,570 customers who first
  bought at CDNOW in 1997 Q1, and the 1/10 sample of 2,357 customers used in the literature.
  Source: Fader & Hardie (2001), "Forecasting Repeat Sales at CDNOW", Interfaces 31(3); files as
  distributed in the Lifetimes 0.11.3 package (MIT).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from ..errors import ConfigError

DATASETS = {
    "online_retail_ii": "online_retail_II_2009_2010.parquet",
    "cdnow_master": "CDNOW_master.txt",
    "cdnow_sample": "CDNOW_sample.txt",
}
DEFAULT_DATASET = "online_retail_ii"
# How titles name each dataset, and the currency of its amounts.
TITLES = {
    "online_retail_ii": ("Online Retail II (UCI), 2009-2010", "GBP"),
    "cdnow_master": ("CDNOW master, 1997-1998", "USD"),
    "cdnow_sample": ("CDNOW sample, 1997-1998", "USD"),
}


def dataset_path(name: str = DEFAULT_DATASET) -> Path:
    """Path of an embedded dataset file."""
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; embedded datasets: {', '.join(DATASETS)}")
    return Path(str(files(__package__).joinpath("data", DATASETS[name])))


def _embedded(source: str | Path | None) -> str | None:
    if source is None:
        return None
    for name in DATASETS:
        if Path(source) == dataset_path(name):
            return name
    return None


def dataset_title(source: str | Path | None) -> str:
    """An embedded dataset's title, else the source's file (or table) name."""
    name = _embedded(source)
    if name is not None:
        return TITLES[name][0]
    return Path(str(source)).name if source else "transactions"


def dataset_currency(source: str | Path | None) -> str | None:
    """The currency of an embedded dataset's amounts; None for any other source."""
    name = _embedded(source)
    return TITLES[name][1] if name is not None else None
