"""Open any supported source as a raw Ibis table, then map it to the standard columns.

Formats: CSV/TSV (delimiter, encoding, BOM and gzip decided from the bytes, see :mod:`.text`),
Parquet (file, directory or glob), Excel (.xlsx/.xlsm, legacy .xls), the CDNOW whitespace
format (with or without header), and a table in a DuckDB database file. The container is read
from the file's first bytes, not its name (a mismatch is recorded and shown). Raw transactions
stay in the engine; only workbook cells pass through Arrow on their way in (see :mod:`.excel`).
"""

from __future__ import annotations

import glob
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis

from .. import schema as S
from ..config import InputConfig
from ..datasets import dataset_path
from ..engine import Engine
from ..engine.base import first_line
from ..errors import InputError
from .excel import read_workbook
from .sniff import content_kind, suffix_kind
from .standardise import standardise
from .text import read_delimited, read_head



@dataclass(frozen=True)
class SourceInfo:
    """Where the transactions came from and how they were read."""

    path: str
    format: str
    columns: tuple[str, ...]
    mapping: dict[str, str]
    fingerprint: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "columns": list(self.columns),
            "mapping": self.mapping,
            "fingerprint": self.fingerprint,
            **self.details,
        }


@dataclass(frozen=True)
class Transactions:
    """Transactions in standard columns, as a lazy engine table."""

    table: ibis.Table
    info: SourceInfo


def read_transactions(engine: Engine, cfg: InputConfig, workdir: Path) -> Transactions:
    """Read the configured source (or the embedded default) into standard columns."""
    if cfg.source is None and cfg.table is not None:  # a table of the engine's own catalog
        return _finish(engine, cfg, engine.read_catalog_table(cfg.table), cfg.table, "spark-table",
                       {"table": cfg.table}, {})
    source = cfg.source if cfg.source is not None else str(dataset_path())
    remote = engine.is_remote(source)
    paths = [source] if remote else _resolve_paths(source)
    fmt, details = _detect_format(source, paths, cfg, remote)
    if fmt in ("duckdb", "excel", "xls") and remote:
        raise InputError(f"{source}: the Spark engine reads Parquet and CSV from remote storage; copy it locally")
    if fmt == "parquet":
        raw = _read_parquet(engine, paths)
    elif fmt == "duckdb":
        raw, details["table"] = engine.read_database_table(paths[0], cfg.table)
    elif fmt in ("excel", "xls"):
        raw, details["sheets"] = read_workbook(paths[0], cfg.sheet, legacy=fmt == "xls")
        raw = engine.upload(raw, "excel")  # the cells go into the engine once
    elif fmt == "cdnow":
        raw, details["header"] = _read_cdnow(engine, paths[0])
    else:
        raw, details["csv"] = read_delimited(engine, paths, cfg.encoding, cfg.delimiter, workdir, remote)
    fp = {"uri": source, "hashed": False} if remote else fingerprint(paths)
    return _finish(engine, cfg, raw, source, fmt, fp, details)


def read_frame(engine: Engine, frame, cfg: InputConfig, source: str) -> Transactions:
    """Transactions already in memory (a pandas or Arrow table, e.g. an API request's rows), read
    like a file: placed in the engine, then mapped and parsed by the same rules."""
    fp = {"rows": len(frame), "source": source}
    return _finish(engine, cfg, engine.upload(frame), source, "records", fp, {})


def _finish(engine: Engine, cfg: InputConfig, raw: ibis.Table, source: str, fmt: str, fp: dict,
            details: dict) -> Transactions:
    raw = engine.number_rows(raw)
    table, mapping, parse = standardise(raw, cfg.mapping, source, cfg.date_format, engine, cfg.decimal)
    details["detection"] = parse.pop("columns")
    details["parsing"] = parse
    info = SourceInfo(
        path=source,
        format=fmt,
        columns=tuple(c for c in raw.columns if c != S.ROW_ID),
        mapping=mapping,
        fingerprint=fp,
        details=details,
    )
    return Transactions(table=table, info=info)


def _read_parquet(engine: Engine, paths: list[str]) -> ibis.Table:
    try:
        return engine.read_parquet(paths)
    except InputError:
        raise
    except Exception as exc:
        if engine.is_out_of_memory(exc):
            raise
        raise InputError(f"{paths[0]}: cannot read as Parquet (corrupt or truncated?): {first_line(exc)}") from None


def _resolve_paths(source: str) -> list[str]:
    if any(ch in source for ch in "*?["):
        paths = sorted(glob.glob(source))
        if not paths:
            raise InputError(f"no file matches {source}")
        return paths
    path = Path(source)
    if path.is_dir():
        paths = sorted(str(p) for p in path.glob("*.parquet"))
        if not paths:
            raise InputError(f"{source}: directory has no .parquet files")
        return paths
    if not path.exists():
        raise InputError(f"file not found: {source}")
    if not path.is_file():
        raise InputError(f"{source}: not a regular file")
    return [str(path)]


def _detect_format(source: str, paths: list[str], cfg: InputConfig, remote: bool) -> tuple[str, dict]:
    """The reader for the source, from the files' first bytes (the name only where the bytes say
    nothing: text), and a note when the name says otherwise."""
    named = suffix_kind(paths[0])
    if remote:
        return ("parquet" if named == "parquet" else "excel" if named in ("excel", "xls") else "csv"), {}
    if len(paths) > 1:
        for p in paths:
            if content_kind(p) != "parquet":
                raise InputError(f"{p}: not a Parquet file (no PAR1 magic bytes); only Parquet files "
                                 "can be read together (a folder or a glob)")
        return "parquet", {}
    kind = content_kind(paths[0])
    fmt = _BY_CONTENT.get(kind) if kind else None
    if fmt is None:  # text (or bytes no reader knows)
        if cfg.table is not None:
            raise InputError(f"{source}: --table names a table of a DuckDB database, but this file is "
                             "not a DuckDB database")
        if named in ("parquet", "excel", "xls", "duckdb"):
            return "csv", {"content": f"named {_suffix(paths[0])} but holds text: read as delimited text"}
        if named == "unknown":
            raise InputError(
                f"{source}: unsupported format {_suffix(paths[0])!r}; use .csv, .tsv, .txt, .parquet, .xlsx, "
                ".xls or a DuckDB database (.duckdb with --table)"
            )
        return ("cdnow" if _looks_like_cdnow(paths[0]) else "csv"), {}
    if fmt == "csv":  # gzip: compressed text
        return ("cdnow" if _looks_like_cdnow(paths[0]) else "csv"), {}
    if named not in (fmt, "unknown"):
        return fmt, {"content": f"named {_suffix(paths[0])} but its first bytes are {_KIND_NAMES[kind]}: "
                                f"read as {_KIND_NAMES[kind]}"}
    return fmt, {}


_BY_CONTENT = {"parquet": "parquet", "gzip": "csv", "zip": "excel", "ole2": "xls", "duckdb": "duckdb"}
_KIND_NAMES = {"parquet": "Parquet", "gzip": "gzip", "zip": "an .xlsx workbook", "ole2": "a legacy .xls workbook",
               "duckdb": "a DuckDB database"}


def _suffix(path: str) -> str:
    return Path(path).suffix or "(no extension)"


def fingerprint(paths: list[str]) -> dict[str, Any]:
    """SHA-256 and size of the input file(s), so a run records exactly what it read."""
    digest = hashlib.sha256()
    size = 0
    for p in paths:
        with open(p, "rb") as fh:
            while chunk := fh.read(1 << 22):
                digest.update(chunk)
                size += len(chunk)
    return {"sha256": digest.hexdigest(), "bytes": size, "files": len(paths)}


# --- CDNOW whitespace format -----------------------------------------------------------------

_NUM = re.compile(r"^-?\d+(\.\d+)?$")


def _looks_like_cdnow(path: str) -> bool:
    """Whitespace-separated columns with no other delimiter, data rows all numeric."""
    if not Path(path).is_file():  # remote storage: CDNOW files are read locally
        return False
    text = read_head(path, 65536).decode("latin-1")
    lines = [ln.split() for ln in text.splitlines()[:20] if ln.strip()]
    if len(lines) < 2 or any(ch in text for ch in ",;\t|"):
        return False
    body = lines[1:]
    return len({len(tok) for tok in body}) == 1 and len(body[0]) in (4, 5) and all(
        _NUM.match(t) for tok in body for t in tok
    )


def _read_cdnow(engine: Engine, path: str) -> tuple[ibis.Table, bool]:
    first = read_head(path, 4096).decode("latin-1").splitlines()[0].split()
    has_header = not all(_NUM.match(t) for t in first)
    if has_header:
        names = [t.strip() for t in first]
    elif len(first) == 5:  # the 1/10 sample: master id, sample id, date, CDs, dollars
        names = ["customer_id", "sample_customer_id", "date", "number_of_cds", "dollar_value"]
    else:
        names = ["customer_id", "date", "number_of_cds", "dollar_value"]
    lines = engine.read_lines(path, skip=1 if has_header else 0)
    lines = lines.filter(lines.line.re_search(r"\S"))
    parts = lines.line.re_replace(r"^\s+|\s+$", "").re_split(r"\s+")
    raw = lines.select(**{name: parts[i] for i, name in enumerate(names)})
    return raw, has_header
