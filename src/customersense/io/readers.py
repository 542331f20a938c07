"""Open any supported source as a raw Ibis table, then map it to the standard columns.

Formats: CSV/TSV (delimiter, encoding and BOM sniffed), Parquet (file, directory or glob),
Excel (.xlsx/.xlsm), the CDNOW whitespace format (with or without header), and a table in
a DuckDB database file. Raw transactions stay in the engine; only Excel cells pass through
Arrow on their way in, because no embedded engine reads .xlsx without a network extension.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from .. import schema as S
from ..config import InputConfig
from ..datasets import dataset_path
from ..engine import Engine
from ..engine.base import first_line
from ..errors import InputError
from .standardise import standardise

CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".dat", ".csv.gz", ".tsv.gz", ".txt.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
DUCKDB_SUFFIXES = (".duckdb", ".ddb", ".db")
_SNIFF_BYTES = 1 << 20


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
    fmt = _detect_format(source, paths, cfg)
    details: dict[str, Any] = {}
    if fmt in ("duckdb", "excel") and remote:
        raise InputError(f"{source}: the Spark engine reads Parquet and CSV from remote storage; copy it locally")
    if fmt == "parquet":
        raw = engine.read_parquet(paths)
    elif fmt == "duckdb":
        raw, details["table"] = engine.read_database_table(paths[0], cfg.table)
    elif fmt == "excel":
        raw, details["sheets"] = _read_excel(paths[0], cfg.sheet)
        raw = engine.upload(raw, "excel")  # the cells go into the engine once
    elif fmt == "cdnow":
        raw, details["header"] = _read_cdnow(engine, paths[0])
    else:
        raw, details["csv"] = _read_csv(engine, paths, cfg.encoding, workdir, remote)
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
    table, mapping, parse = standardise(raw, cfg.mapping, source, cfg.date_format, engine)
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


def _detect_format(source: str, paths: list[str], cfg: InputConfig) -> str:
    name = Path(paths[0]).name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if len(paths) > 1:
        raise InputError(f"{source}: several files match; only Parquet files can be read together")
    if name.endswith(EXCEL_SUFFIXES):
        return "excel"
    if name.endswith(DUCKDB_SUFFIXES) or cfg.table is not None:
        return "duckdb"
    if name.endswith(CSV_SUFFIXES):
        return "cdnow" if _looks_like_cdnow(paths[0]) else "csv"
    if name.endswith(".xls"):
        raise InputError(f"{source}: legacy .xls is not supported; save it as .xlsx or CSV")
    raise InputError(
        f"{source}: unsupported format {Path(name).suffix or '(no extension)'!r}; "
        "use .csv, .tsv, .txt, .parquet, .xlsx or a DuckDB database (.duckdb with --table)"
    )


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


# --- CSV -----------------------------------------------------------------------------------

def sniff_encoding(head: bytes) -> str:
    """Guess a text encoding from the first bytes: BOM first, then strict UTF-8, else cp1252."""
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the end of the sniffed block is still UTF-8.
        if exc.start < len(head) - 4:
            return "cp1252"
    return "utf-8"


def _read_head(path: str) -> bytes:
    opener = _open_binary(path)
    with opener as fh:
        return fh.read(_SNIFF_BYTES)


def _open_binary(path: str):
    if path.endswith(".gz"):
        import gzip

        return gzip.open(path, "rb")
    return open(path, "rb")


def _sniff_delimiter(text: str) -> str | None:
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    if not lines:
        return None
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|").delimiter
    except csv.Error:
        return None


def _read_csv(engine: Engine, paths: list[str], encoding: str | None, workdir: Path,
              remote: bool = False) -> tuple[ibis.Table, dict]:
    path = paths[0]
    if remote:  # only the engine can see it: sniff from its first lines, assume UTF-8
        enc, text = encoding or "utf-8", engine.head_text(path)
    else:
        head = _read_head(path)
        enc = encoding or sniff_encoding(head)
        text = head.decode(enc if enc != "utf-16" else "utf-16", errors="replace")
    delim = _sniff_delimiter(text)
    if delim is None:
        raise InputError(f"{path}: cannot find the column delimiter (tried , ; tab |) in the first lines")
    read_path = path
    if not remote and enc.replace("-", "").lower() not in engine.utf8_encodings:
        read_path = str(_transcode(path, enc, workdir))
    try:
        raw = engine.read_csv(read_path, delim)
    except InputError:
        raise
    except Exception as exc:  # the engine's own message is the most precise one
        if engine.is_out_of_memory(exc):
            raise  # not the file's fault: the run says so (pipeline.session)
        raise InputError(f"{path}: cannot read as CSV: {first_line(exc)}") from None
    return raw, {"delimiter": delim, "encoding": enc}


def _transcode(path: str, encoding: str, workdir: Path) -> Path:
    """Stream a non-UTF-8 file into UTF-8 in the run's work directory (bounded memory)."""
    import codecs

    target = workdir / (Path(path).name + ".utf8.csv")
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    try:
        with _open_binary(path) as src, open(target, "w", encoding="utf-8", newline="") as dst:
            while chunk := src.read(1 << 22):
                dst.write(decoder.decode(chunk))
                offset += len(chunk)
            dst.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: byte {offset + exc.start} is not valid {encoding}; pass the right --encoding"
        ) from None
    except LookupError:
        raise InputError(f"{path}: unknown encoding {encoding!r}") from None
    return target


# --- CDNOW whitespace format -----------------------------------------------------------------

_NUM = re.compile(r"^-?\d+(\.\d+)?$")


def _looks_like_cdnow(path: str) -> bool:
    """Whitespace-separated columns with no other delimiter, data rows all numeric."""
    if not Path(path).is_file():  # remote storage: CDNOW files are read locally
        return False
    text = _read_head(path)[:65536].decode("latin-1")
    lines = [ln.split() for ln in text.splitlines()[:20] if ln.strip()]
    if len(lines) < 2 or any(ch in text for ch in ",;\t|"):
        return False
    body = lines[1:]
    return len({len(tok) for tok in body}) == 1 and len(body[0]) in (4, 5) and all(
        _NUM.match(t) for tok in body for t in tok
    )


def _read_cdnow(engine: Engine, path: str) -> tuple[ibis.Table, bool]:
    first = _read_head(path)[:4096].decode("latin-1").splitlines()[0].split()
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


# --- Excel -------------------------------------------------------------------------------------

def _read_excel(path: str, sheet: str | None) -> tuple[ibis.Table, list[str]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise InputError(f"{path}: cannot open as Excel: {first_line(exc)}") from None
    try:
        names = book.sheetnames
        if sheet is None:
            chosen = names[:1]
        elif sheet == "all":
            chosen = names
        elif sheet in names:
            chosen = [sheet]
        else:
            raise InputError(f"{path}: no sheet {sheet!r}; sheets: {', '.join(names)}")
        header: list[str] | None = None
        columns: list[list[str | None]] = []
        for name in chosen:
            rows = book[name].iter_rows(values_only=True)
            first = next(rows, None)
            if first is None:
                continue
            this = [str(c).strip() if c is not None else f"column_{i + 1}" for i, c in enumerate(first)]
            if header is None:
                header = this
                columns = [[] for _ in header]
            elif this != header:
                raise InputError(f"{path}: sheet {name!r} has other columns than sheet {chosen[0]!r}")
            for row in rows:
                if all(v is None for v in row):
                    continue
                for i in range(len(header)):
                    columns[i].append(_cell_text(row[i] if i < len(row) else None))
    finally:
        book.close()
    if header is None:
        raise InputError(f"{path}: the workbook has no rows")
    arrow = pa.table({name: pa.array(col, type=pa.string()) for name, col in zip(header, columns)})
    return ibis.memtable(arrow), chosen


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
