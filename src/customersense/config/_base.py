"""The building blocks of the settings definition (config/__init__.py): a key, a section, the flag rule."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo

from ..errors import ConfigError
from ._describe import describe


def _to_date(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("not a date; use YYYY-MM-DD") from None
    return value


def _list_to_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _fspath(value: Any) -> Any:
    return os.fspath(value) if isinstance(value, os.PathLike) else value


Date = Annotated[dt.date, BeforeValidator(_to_date)]
PathText = Annotated[str, BeforeValidator(_fspath)]  # a path: str, or a Path from Python
Names = Annotated[tuple[str, ...], BeforeValidator(_list_to_tuple)]


def setting(default: Any = None, help: str = "", *, flag: str | bool | None = None, shown: str | None = None,
            metavar: str | None = None, expected: str | None = None, path: bool = False,
            aliases: tuple[str, ...] = (), factory: Any = None) -> Any:
    """One key: its default, its help and its command line.

    ``flag``: None for the naming rule, ``"--name"`` for an exception, False for file-only.
    ``shown``: the default as the help shows it when the value alone does not say it.
    ``expected``: what a wrong type is told to use, when the type alone does not say it.
    ``path``: a relative value in a config file is relative to the file's folder.
    ``aliases``: old flag names, accepted but hidden.
    """
    extra = {"flag": flag, "shown": shown, "metavar": metavar, "expected": expected, "path": path,
             "aliases": list(aliases)}
    extra = {k: v for k, v in extra.items() if v is not None and v != []}
    if factory is not None:
        return Field(default_factory=factory, description=help, json_schema_extra=extra)
    return Field(default, description=help, json_schema_extra=extra)


class RaisesConfigError(type(BaseModel)):
    """``Section(...)`` raises :class:`ConfigError` naming ``section.key``, as the dataclasses did.

    On the metaclass, not ``__init__``: a custom ``__init__`` would make pydantic validate nested
    sections through it, in lax mode, and file values must be checked strictly.
    """

    def __call__(cls, /, **data: Any) -> Any:
        try:
            return super().__call__(**data)
        except ValidationError as exc:
            section = getattr(cls, "section", None)
            if section is None:  # the whole Config
                sections = {name: field.annotation for name, field in cls.model_fields.items()}
                raise ConfigError(describe(exc, sections, data)) from None
            raise ConfigError(describe(exc, {section: cls}, {section: data}, prefix=(section,))) from None


class Section(BaseModel, metaclass=RaisesConfigError):
    """A frozen config section."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    section: ClassVar[str]
    help_group: ClassVar[str]


def at_least(minimum: int, *names: str) -> Any:
    def check(cls: type, value: int | None) -> int | None:
        if value is not None and value < minimum:
            raise ValueError(f"must be >= {minimum}")
        return value

    return field_validator(*names)(classmethod(check))


@dataclass(frozen=True)
class Key:
    """One key of the definition, e.g. ``clv.horizon_months``, with its command-line flag."""

    section: str
    name: str
    info: FieldInfo

    @property
    def meta(self) -> dict[str, Any]:
        extra = self.info.json_schema_extra
        return extra if isinstance(extra, dict) else {}

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}"

    @property
    def flag(self) -> str | None:
        """The naming rule: the key with dashes, unless the key names its flag (or has none)."""
        flag = self.meta.get("flag")
        if flag is False:
            return None
        return flag or "--" + self.name.replace("_", "-")


def iter_keys(config: type[BaseModel]) -> Iterator[Key]:
    """Every key of a config model, section by section, in definition order."""
    for section, field in config.model_fields.items():
        for name, info in field.annotation.model_fields.items():
            yield Key(section, name, info)
