"""What a file holds, decided from its bytes rather than its name: the container (Parquet,
gzip, a zip workbook, a legacy .xls, a DuckDB database, or text), the text encoding and the
column delimiter. Every guess comes with the evidence that made it, recorded by the reader.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

# Magic numbers of the containers a transaction log arrives in.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"PAR1", "parquet"),
    (0, b"\x1f\x8b", "gzip"),
    (0, b"PK\x03\x04", "zip"),  # .xlsx / .xlsm (an OOXML package)
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole2"),  # legacy .xls (and other Office 97 files)
    (8, b"DUCK", "duckdb"),
)
DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def content_kind(path: str) -> str | None:
    """The container named by the file's first bytes, or None for plain text (or an empty file)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return None
    for offset, magic, kind in _MAGIC:
        if head[offset:offset + len(magic)] == magic:
            return kind
    return None


def sniff_encoding(head: bytes) -> tuple[str, str]:
    """Guess a text encoding from the first bytes, with the evidence: a byte-order mark; NUL bytes
    in every other position (UTF-16 without a BOM); strict UTF-8; else cp1252 (Windows Western,
    which decodes every byte)."""
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig", "UTF-8 byte-order mark"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16", "UTF-16 byte-order mark"
    sample = head[:8192]
    pairs = len(sample) // 2
    if pairs >= 4:
        even = sum(1 for b in sample[0:2 * pairs:2] if b == 0) / pairs
        odd = sum(1 for b in sample[1:2 * pairs:2] if b == 0) / pairs
        if odd > 0.3 and even < 0.05:
            return "utf-16-le", f"no BOM; {odd:.0%} of the odd bytes are NUL (UTF-16 little-endian)"
        if even > 0.3 and odd < 0.05:
            return "utf-16-be", f"no BOM; {even:.0%} of the even bytes are NUL (UTF-16 big-endian)"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the end of the sniffed block is still UTF-8.
        if exc.start < len(head) - 4:
            why = f"byte {exc.start} is not UTF-8 (0x{head[exc.start]:02x})"
            try:
                head.decode("cp1252")
            except UnicodeDecodeError:  # bytes Windows-1252 leaves undefined: Latin-1 maps them all
                return "latin-1", f"{why}, nor Windows-1252; read as Latin-1"
            return "cp1252", f"{why}; read as Windows-1252"
    return "utf-8", "valid UTF-8"


def sniff_delimiter(text: str, forced: str | None = None) -> tuple[str | None, str]:
    """The delimiter that splits the first lines into the same number (> 1) of fields, quotes
    respected (RFC 4180), with the evidence. Ties go to the order comma, semicolon, tab, pipe."""
    lines = [ln for ln in text.splitlines()[:200] if ln.strip()]
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sniffed block may cut the last line
    if forced is not None:
        return forced, f"{_DELIMITER_NAMES.get(forced, repr(forced))} (--delimiter)"
    if not lines:
        return None, "no lines"
    best: tuple[float, int, str] | None = None
    for rank, delim in enumerate(DELIMITERS):
        try:
            counts = [len(row) for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=delim)]
        except csv.Error:
            continue
        header = counts[0] if counts else 0
        if header < 2:
            continue
        share = sum(1 for c in counts if c == header) / len(counts)
        key = (share, header, -rank)
        if best is None or key > best:
            best = key
    if best is None or best[0] < 0.5:
        return None, "no delimiter gives two or more columns on most lines"
    share, fields, rank = best
    delim = DELIMITERS[-rank]
    return delim, f"{_DELIMITER_NAMES[delim]}: {fields} columns on {share:.0%} of the first {len(lines)} lines"


def suffix_kind(name: str) -> str:
    """What the file's name says it is."""
    lower = Path(name).name.lower()
    for kind, suffixes in _SUFFIXES.items():
        if lower.endswith(suffixes):
            return kind
    return "unknown"


_SUFFIXES: dict[str, tuple[str, ...]] = {
    "parquet": (".parquet", ".pq"),
    "excel": (".xlsx", ".xlsm"),
    "xls": (".xls",),
    "duckdb": (".duckdb", ".ddb", ".db"),
    "csv": (".csv", ".tsv", ".txt", ".dat", ".csv.gz", ".tsv.gz", ".txt.gz"),
}
