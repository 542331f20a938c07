"""Delimited text: the encoding and delimiter decided from the bytes (or given), compressed or
non-UTF-8 files staged as UTF-8 in the run's work folder, then read by the engine as text columns.
"""

from __future__ import annotations

import codecs
import gzip
from pathlib import Path

import ibis

from ..engine import Engine
from ..engine.base import first_line
from ..errors import InputError
from .sniff import content_kind, sniff_delimiter, sniff_encoding

SNIFF_BYTES = 1 << 20


def open_binary(path: str):
    """The file's bytes, decompressed when its content (not its name) is gzip."""
    return gzip.open(path, "rb") if content_kind(path) == "gzip" else open(path, "rb")


def read_head(path: str, size: int = SNIFF_BYTES) -> bytes:
    try:
        with open_binary(path) as fh:
            return fh.read(size)
    except (OSError, EOFError) as exc:  # a truncated or corrupt gzip stream
        raise InputError(f"{path}: cannot decompress (gzip): {first_line(exc)}") from None


def read_delimited(engine: Engine, paths: list[str], encoding: str | None, delimiter: str | None,
                   workdir: Path, remote: bool = False) -> tuple[ibis.Table, dict]:
    """The file as text columns, and how it was read (encoding, delimiter, compression, evidence)."""
    path = paths[0]
    details: dict = {}
    if remote:  # only the engine can see it: sniff from its first lines, assume UTF-8
        enc, text = encoding or "utf-8", engine.head_text(path)
        details["encoding_evidence"] = "given" if encoding else "remote file: assumed UTF-8"
    else:
        head = read_head(path)
        if not head.strip():
            raise InputError(f"{path}: the file is empty; export the transactions with a header row")
        if encoding:
            enc, details["encoding_evidence"] = encoding, "--encoding"
        else:
            enc, details["encoding_evidence"] = sniff_encoding(head)
        text = _decode_head(head, enc, path)
        if "\x00" in text:
            raise InputError(f"{path}: not a text file (NUL bytes after decoding as {enc}); "
                             "pass the right --encoding or export it as CSV")
    delim, details["delimiter_evidence"] = sniff_delimiter(text, delimiter)
    if delim is None:
        raise InputError(f"{path}: cannot find the column delimiter (tried , ; tab |) in the first lines "
                         f"read as {enc}; pass --delimiter (and --encoding if the text looks garbled)")
    gz = not remote and content_kind(path) == "gzip"
    read_path = path
    staged = not remote and (enc.replace("-", "").replace("_", "").lower() not in engine.utf8_encodings
                             or (gz and not path.lower().endswith(".gz")))
    if staged:
        read_path = str(_stage_utf8(path, enc, workdir))
    try:
        raw = engine.read_csv(read_path, delim)
    except InputError:
        raise
    except Exception as exc:  # the engine's own message is the most precise one
        if engine.is_out_of_memory(exc):
            raise  # not the file's fault: the run says so (pipeline.session)
        raise InputError(f"{path}: cannot read as CSV ({enc}, delimiter {delim!r}): {first_line(exc)}") from None
    details.update(delimiter=delim, encoding=enc)
    if gz:
        details["compression"] = "gzip (from the file's first bytes)"
    if staged:
        details["staged_as_utf8"] = True
    return raw, details


def _decode_head(head: bytes, enc: str, path: str) -> str:
    try:
        decoder = codecs.getincrementaldecoder(enc)(errors="strict")
        return decoder.decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: byte {exc.start} is not valid {enc}; pass the right --encoding "
                         "(e.g. utf-8, cp1252, utf-16)") from None


def _stage_utf8(path: str, encoding: str, workdir: Path) -> Path:
    """Stream the file (decompressed, decoded) into UTF-8 in the run's work folder (bounded memory)."""
    target = workdir / (Path(path).name + ".utf8.csv")
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    try:
        with open_binary(path) as src, open(target, "w", encoding="utf-8", newline="") as dst:
            while chunk := src.read(1 << 22):
                dst.write(decoder.decode(chunk))
                offset += len(chunk)
            dst.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: byte {offset + exc.start} is not valid {encoding}; pass the right --encoding"
        ) from None
    except (OSError, EOFError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # the work folder's disk: an output problem, reported by the run
        raise InputError(f"{path}: cannot decompress (gzip): {first_line(exc)}") from None
    return target
