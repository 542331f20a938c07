"""One-line messages for bad config values: the file, the key, the value as written, what to use.

``config.toml: [segmentation] k = "4": expected an integer``; without a file (an override or a
constructor), ``segmentation.k=1: must be >= 2``.
"""

from __future__ import annotations

import datetime as dt
import json
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ValidationError


def describe(exc: ValidationError, sections: Mapping[str, type[BaseModel]], data: Mapping[str, Any] | None = None,
             *, prefix: tuple[str, ...] = (), origins: Mapping[tuple[str, str], str] | None = None) -> str:
    """One line for the first wrong key: where it came from, the key, the value, what to use.

    ``sections``: the section models by name; ``data``: the values validated, by section;
    ``prefix``: the section, when ``exc`` comes from one section's model; ``origins``: the file
    each (section, key) came from (absent: an override, named ``section.key=value``).
    """
    data = data or {}
    origins = origins or {}
    errors = exc.errors()
    first = errors[0]
    loc = prefix + tuple(str(p) for p in first["loc"])
    section = loc[0]
    here = _file({origins.get((section, ""))})
    if section not in sections:  # an unknown section, or a key outside any section
        value = data.get(section)
        if not isinstance(value, dict):
            return f"{here}{section} = {_toml(value)}: a key outside any section; put it under [section]"
        known = ", ".join(["mapping", *sections])
        return f"{here}config section [{section}] is unknown; use {known}"
    values = data.get(section)
    model = sections[section]
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
    kinds, literals = annotation_parts(annotation)
    phrases = [_PHRASES.get(k, getattr(k, "__name__", str(k))) for k in kinds if k is not bool]
    choices = (["true", "false"] if bool in kinds else []) + [repr(c) for c in literals]
    if not phrases:
        return f"use {_or(choices)}"
    return f"expected {_or(phrases + choices)}"


def annotation_parts(annotation: Any) -> tuple[list[Any], list[Any]]:
    """(types, literal choices) of a key's annotation, in order, without None and Annotated;
    a generic type as its origin (``tuple[str, ...]`` -> ``tuple``). The help (cli/options.py)
    and the messages here both read a key's type through this."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return annotation_parts(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        kinds: list[Any] = []
        choices: list[Any] = []
        for arg in typing.get_args(annotation):
            k, c = annotation_parts(arg)
            kinds += k
            choices += c
        return kinds, choices
    if origin is Literal:
        return [], list(typing.get_args(annotation))
    return ([] if annotation is type(None) else [origin or annotation]), []


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
