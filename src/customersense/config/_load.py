"""Building a Config from a TOML file and overrides (CLI flags).

Precedence: defaults < file < overrides. File values are validated strictly (TOML has real
integers, booleans and dates: ``k = "4"`` is an error, not 4). Relative paths in a file
(the keys declared ``path=True``: input.source, input.campaign_history, rfm.segment_map, output.dir,
output.save_model) are relative to
the file's folder; overrides are taken as given (relative to the current directory).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import ConfigError
from ._base import iter_keys
from ._describe import describe

C = TypeVar("C", bound=BaseModel)

# Flags that replace the file's input as a whole: a SOURCE on the command line drops the file's dataset.
_ONE_INPUT = ("source", "dataset")


def load(config: type[C], path: str | Path | None, overrides: Mapping[str, Mapping[str, Any]] | None) -> C:
    """``config`` built from the file at ``path`` and then ``overrides``; see config.load_config."""
    raw: dict[str, Any] = {}
    origins: dict[tuple[str, str], str] = {}  # (section, key) -> the file it came from
    if path is not None:
        path = Path(path)
        raw = _read_toml(path)
        if "mapping" in raw:  # [mapping] is short for [input.mapping]
            _merge(raw, "input", {"mapping": raw.pop("mapping")})
        _relative_to_file(config, raw, path.parent)
        origins = {(s, k): str(path) for s, values in raw.items() if isinstance(values, dict) for k in values}
        origins.update({(s, ""): str(path) for s in raw})  # the section itself
    for section, values in (overrides or {}).items():
        values = {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in values.items() if v is not None}
        if section == "mapping":
            section, values = "input", ({"mapping": dict(values)} if values else {})
        if section == "input" and set(_ONE_INPUT) & values.keys() and isinstance(raw.get("input"), dict):
            for key in _ONE_INPUT:
                raw["input"].pop(key, None)
        _merge(raw, section, values)
        for key in values:
            origins.pop((section, key), None)
    try:
        return config.model_validate(raw, strict=True)
    except ValidationError as exc:
        sections = {name: field.annotation for name, field in config.model_fields.items()}
        raise ConfigError(describe(exc, sections, raw, origins=origins)) from None


def _merge(raw: dict[str, Any], section: str, values: Mapping[str, Any]) -> None:
    target = raw.setdefault(section, {})
    if not isinstance(target, dict):
        return  # a broken section in the file: its own message says so
    for key, value in values.items():
        old = target.get(key)
        target[key] = {**old, **value} if isinstance(old, dict) and isinstance(value, Mapping) else value


def _relative_to_file(config: type[BaseModel], raw: dict[str, Any], folder: Path) -> None:
    for key in iter_keys(config):
        values = raw.get(key.section)
        if not key.meta.get("path") or not isinstance(values, dict):
            continue
        value = values.get(key.name)
        if isinstance(value, str) and value and "://" not in value:
            local = Path(value).expanduser()
            values[key.name] = str(local if local.is_absolute() else folder / local)


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
