"""Building a Config from a TOML file and overrides (CLI flags), and one-line messages for bad values.

Precedence: defaults < file < overrides. File values are validated strictly (TOML has real
integers, booleans and dates: ``k = "4"`` is an error, not 4). Relative paths in a file
(the keys declared ``path=True``: input.source, rfm.segment_map, output.dir) are relative to
the file's folder; overrides are taken as given (relative to the current directory).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from .errors import ConfigError

if TYPE_CHECKING:
    from .config import Config

# Flags that replace the file's input as a whole: a SOURCE on the command line drops the file's dataset.
_ONE_INPUT = ("source", "dataset")


def load_config(path: str | Path | None = None, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Config:
    """Build a :class:`Config` from an optional TOML file and per-section overrides (CLI flags).

    ``overrides`` looks like ``{"cleaning": {"as_of": "2010-06-01"}, "mapping": {"customer_id": "Client"}}``;
    ``None`` values are ignored so that unset flags keep the file's value.
    """
    from .config import Config

    raw: dict[str, Any] = {}
    origins: dict[tuple[str, str], str] = {}  # (section, key) -> the file it came from
    if path is not None:
        path = Path(path)
        raw = _read_toml(path)
        if "mapping" in raw:  # [mapping] is short for [input.mapping]
            _merge(raw, "input", {"mapping": raw.pop("mapping")})
        _relative_to_file(raw, path.parent)
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
        return Config.model_validate(raw, strict=True)
    except ValidationError as exc:
        raise ConfigError(describe(exc, raw, origins=origins)) from None


def _merge(raw: dict[str, Any], section: str, values: Mapping[str, Any]) -> None:
    target = raw.setdefault(section, {})
    if not isinstance(target, dict):
        return  # a broken section in the file: its own message says so
    for key, value in values.items():
        old = target.get(key)
        target[key] = {**old, **value} if isinstance(old, dict) and isinstance(value, Mapping) else value


def _relative_to_file(raw: dict[str, Any], folder: Path) -> None:
    from .config import keys

    for key in keys():
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


def describe(exc: ValidationError, data: Mapping[str, Any] | None = None, *, prefix: tuple[str, ...] = (),
             origins: Mapping[tuple[str, str], str] | None = None) -> str:
    """One line for the first wrong key: where it came from, the key, the value, what to use."""
    from .config import Config, section_model

    data = data or {}
    origins = origins or {}
    errors = exc.errors()
    first = errors[0]
    loc = prefix + tuple(str(p) for p in first["loc"])
    section = loc[0]
    here = _file({origins.get((section, ""))})
    if section not in Config.model_fields:  # an unknown section, or a key outside any section
        value = data.get(section)
        if not isinstance(value, dict):
            return f"{here}{section} = {_toml(value)}: a key outside any section; put it under [section]"
        known = ", ".join(["mapping", *Config.model_fields])
        return f"{here}config section [{section}] is unknown; use {known}"
    values = data.get(section)
    model = section_model(section)
    if len(loc) == 1:  # the section as a whole
        if first["type"] == "value_error":  # a rule across keys, e.g. k_min <= k_max
            files = {f for (s, _), f in origins.items() if s == section}
            return f"{_file(files)}{_reason(first)}"
        return f"{here}[{section}] = {_toml(values)}: expected a table of keys"
    key = loc[1]
    if first["type"] == "extra_forbidden":
        known = ", ".join(sorted(model.model_fields))
        return f"{_file({origins.get((section, key))})}[{section}] {key}: unknown key; known keys: {known}"
    same = [e for e in errors if (prefix + tuple(map(str, e["loc"])))[:2] == (section, key)]
    reason = next((_reason(e) for e in same if e["type"] == "value_error"), None)
    info = model.model_fields[key]
    if reason is None:
        reason = _expected(info.annotation, (info.json_schema_extra or {}).get("expected"))
    value = values.get(key, first["input"]) if isinstance(values, Mapping) else first["input"]
    file = origins.get((section, key))
    if file:
        return f"{file}: [{section}] {key} = {_toml(value)}: {reason}"
    return f"{section}.{key}={value!r}: {reason}"


def _file(files: set[str | None]) -> str:
    found = sorted(f for f in files if f)
    return f"{found[0]}: " if found else ""


def _reason(error: Mapping[str, Any]) -> str:
    return str(error.get("ctx", {}).get("error", error["msg"]))


_PHRASES = {int: "an integer", float: "a number", str: "a string", dt.date: "a date (YYYY-MM-DD)",
            tuple: "a list of strings", Mapping: "a table of strings", dict: "a table of strings"}


def _expected(annotation: Any, expected: str | None = None) -> str:
    """'expected an integer' / "use 'net' or 'ignore'" from a key's type."""
    if expected:
        return f"expected {expected}"
    phrases: list[str] = []
    choices: list[str] = []
    _walk(annotation, phrases, choices)
    if not phrases:
        return f"use {_or(choices)}"
    return f"expected {_or(phrases + choices)}"


def _walk(annotation: Any, phrases: list[str], choices: list[str]) -> None:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        _walk(typing.get_args(annotation)[0], phrases, choices)
    elif origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            _walk(arg, phrases, choices)
    elif origin is Literal:
        choices.extend(repr(a) for a in typing.get_args(annotation))
    elif annotation is bool:
        choices.extend(["true", "false"])
    elif annotation is not type(None):
        phrases.append(_PHRASES.get(origin or annotation, getattr(annotation, "__name__", str(annotation))))


def _or(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _toml(value: Any) -> str:
    """A value as it is written in TOML, so that the message quotes the file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return str(value)
