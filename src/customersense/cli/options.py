"""The ``run`` command's flags, generated from the settings definition (customersense.config).

Each key with a flag becomes one option in its section's help group: the type, the choices, the
help text and the shown default all come from the key. Options default to None so that an unset
flag keeps the config file's value; the help shows the definition's default instead. A flag's
value is parsed by its type (``--k x`` is a usage error, exit 2); the definition's rules then
check the value (``--k 1``: a configuration error, exit 5).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import click
import cloup

from ..config import Key, keys
from ..config._describe import annotation_parts
from ..errors import ConfigError

_ALIAS = "alias__"


class _Date(click.ParamType):
    name = "date"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"{value!r}: not a date; use YYYY-MM-DD", param, ctx)


class _OrAuto(click.ParamType):
    """A number or 'auto' (segmentation.contamination); true, false or 'auto' (cleaning.drop_duplicates)."""

    def __init__(self, kind: type) -> None:
        self.kind = kind
        self.name = "boolean|auto" if kind is bool else "number|auto"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "[true|false|auto]" if self.kind is bool else "NUMBER|auto"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value == "auto" or not isinstance(value, str):
            return value
        if self.kind is bool and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if self.kind is float:
            try:
                return float(value)
            except ValueError:
                pass
        self.fail(f"{value!r}: use {'true, false' if self.kind is bool else 'a number'} or 'auto'", param, ctx)


class SettingOption(cloup.Option):
    """Shows the definition's default as given: ``[default: on]``, not click's ``[default: (on)]``."""

    def get_help_extra(self, ctx: click.Context) -> Any:
        extra = super().get_help_extra(ctx)
        if isinstance(self.show_default, str) and "default" in extra:
            extra["default"] = self.show_default
        return extra


_TYPES = {int: click.INT, float: click.FLOAT, str: click.STRING, dt.date: _Date()}


def dest(key: Key) -> str:
    return f"{key.section}__{key.name}"


def _shown(key: Key, kinds: list[Any], choices: list[Any]) -> str | None:
    if "shown" in key.meta:
        return key.meta["shown"]
    default = key.info.default
    if kinds == [bool] and not choices:
        return "on" if default else "off"
    return None if default is None or isinstance(default, (tuple, Mapping)) else str(default)


def _declared(key: Key, flag: str) -> tuple[list[str], dict[str, Any]]:
    """The option's names and click attributes, from the key's type, help and default."""
    kinds, choices = annotation_parts(key.info.annotation)
    attrs: dict[str, Any] = {"default": None, "help": key.info.description,
                             "show_default": _shown(key, kinds, choices)}
    decls = [flag]
    if kinds == [bool] and not choices:
        decls = [f"{flag}/--no-{flag[2:]}"]
    elif choices and not kinds:
        attrs["type"] = click.Choice([str(c) for c in choices])
    elif choices:
        attrs["type"] = _OrAuto(kinds[0])
    elif kinds and kinds[0] is Mapping:
        attrs.update(multiple=True, default=(), show_default=None)
    else:
        attrs["type"] = _TYPES[kinds[0]]
    if "metavar" in key.meta:
        attrs["metavar"] = key.meta["metavar"]
    return decls, attrs


def option(key: Key) -> Callable:
    """The option of one key (``key.flag`` starts with ``--``)."""
    decls, attrs = _declared(key, key.flag)
    return cloup.option(*decls, dest(key), cls=SettingOption, **attrs)


def _alias(key: Key, alias: str) -> Callable:
    decls, attrs = _declared(key, alias)
    return cloup.option(*decls, _ALIAS + dest(key), **{**attrs, "hidden": True})


def setting_groups(run_group: list[Callable]) -> Callable:
    """Decorate a command with one option group per help group of the definition, then the run group."""
    groups: dict[str, list[Callable]] = {}
    aliases: list[Callable] = []
    for key in keys():
        if key.flag and key.flag.startswith("--"):
            groups.setdefault(_group(key), []).append(option(key))
            aliases += [_alias(key, a) for a in key.meta.get("aliases", [])]

    def decorate(f: Callable) -> Callable:
        f = cloup.option_group("Run", *run_group, *aliases)(f)
        for title, options in reversed(groups.items()):
            f = cloup.option_group(title, *options)(f)
        return f

    return decorate


def named_for_their_section() -> list[str]:
    """The flags that are not the key with dashes (declared ``flag=`` at the key)."""
    return [k.flag for k in keys() if isinstance(k.meta.get("flag"), str) and k.flag.startswith("--")]


def _group(key: Key) -> str:
    from ..config import section_model

    return section_model(key.section).help_group


def overrides(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{section: {key: value}}`` from the command's parameters (unset flags are None)."""
    from ..schema import parse_mapping_pairs

    found: dict[str, dict[str, Any]] = {}
    by_dest = {dest(k): k for k in keys()}
    for name, value in values.items():
        alias = name.startswith(_ALIAS)
        key = by_dest.get(name.removeprefix(_ALIAS))
        if key is None or value is None or value == ():
            continue
        if alias:
            if values.get(dest(key)) is not None:
                raise click.UsageError(f"{key.meta['aliases'][0]} is the old name of {key.flag}; give one of them")
        if key.dotted == "input.mapping":
            value = parse_mapping_pairs(value)
        elif isinstance(value, tuple):
            raise ConfigError(f"{key.flag}: no parser for repeated values")  # a new Mapping key needs one
        found.setdefault(key.section, {})[key.name] = value
    return found


# The settings that `customersense score` takes (reading, as_of, engine, outputs): the same keys,
# flags and help as `run`.
SCORE_KEYS = ("input.table", "input.sheet", "input.date_format", "input.encoding", "input.mapping",
              "cleaning.as_of", "output.dir", "output.csv_max_rows", "engine.name", "engine.threads",
              "engine.memory_limit")


def score_options(exclude: tuple[str, ...] = ()) -> Callable:
    """Decorate a command (score, evolve) with the options of :data:`SCORE_KEYS`."""
    chosen = [option(k) for k in keys() if k.dotted in SCORE_KEYS and k.dotted not in exclude]

    def decorate(f: Callable) -> Callable:
        for opt in reversed(chosen):
            f = opt(f)
        return f

    return decorate
