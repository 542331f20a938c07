"""Recommendation playbooks: a data file mapping segment names to strategy and actions, whose text
may quote the segment's computed figures by placeholder ({free_shipping}, ...; see :mod:`.recommend`)."""

from __future__ import annotations

import string
import tomllib
from importlib.resources import files
from pathlib import Path

from ..errors import ConfigError
from .recommend import FIGURE_PHRASES

FIELDS = ("strategy", "retention", "pricing", "campaigns")


def load_playbooks(path: str | Path | None = None) -> dict[str, dict]:
    """``{segment name: {strategy, retention, pricing, campaigns}}`` plus ``"default"``."""
    path = Path(path) if path else Path(str(files(__package__).joinpath("data", "playbooks.toml")))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read playbooks: {exc}") from None
    books = {"default": data.get("default", {}), **data.get("segments", {})}
    for name, book in books.items():
        missing = [f for f in FIELDS if f not in book]
        if missing:
            raise ConfigError(f"{path}: playbook {name!r} lacks {', '.join(missing)}")
        for field in FIELDS:
            texts = [book[field]] if isinstance(book[field], str) else book[field]
            try:
                unknown = {f for t in texts for _, f, _, _ in string.Formatter().parse(t) if f is not None}
            except ValueError as exc:
                raise ConfigError(f"{path}: playbook {name!r} {field}: {exc}") from None
            if unknown - set(FIGURE_PHRASES):
                raise ConfigError(f"{path}: playbook {name!r} {field}: unknown placeholder "
                                  f"{sorted(unknown - set(FIGURE_PHRASES))[0]!r}; use {', '.join(FIGURE_PHRASES)}")
    return books

