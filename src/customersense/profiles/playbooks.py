"""Recommendation playbooks: a data file mapping segment names to strategy and actions."""

from __future__ import annotations

import tomllib
from importlib.resources import files
from pathlib import Path

from ..errors import ConfigError

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
    return books

