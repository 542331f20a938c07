"""A model bundle on disk: plain JSON and ``.npy`` arrays, never pickle, with a content hash.

Layout of the folder (``model/`` in the run's output folder by default)::

    manifest.json     format, format version, package version, model_version, sha256 of each file
    model.json        ScoringModel.spec: settings, RFM edges and map, names, CLV parameters, profiles
    arrays/NAME.npy   ScoringModel.arrays, read with allow_pickle=False

``model_version`` is the first 16 hex digits of the SHA-256 of the files' hashes: the same run
(same input, settings and seed) gives the same bundle bytes and the same version. Loading checks
the format and version, every file's hash, that no file is missing or added, and that the arrays
are plain numbers; anything else is a :class:`~customersense.errors.ModelError` naming the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from .model import FORMAT, FORMAT_VERSION, ScoringModel

MANIFEST = "manifest.json"
SPEC = "model.json"
ARRAYS = "arrays"


def write_bundle(model: ScoringModel, folder: str | Path) -> str:
    """Write ``model`` into the (new or empty) ``folder``; returns its model_version."""
    folder = Path(folder)
    (folder / ARRAYS).mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    spec = json.dumps(model.spec, indent=1, sort_keys=True, allow_nan=False).encode() + b"\n"
    (folder / SPEC).write_bytes(spec)
    files[SPEC] = _sha(spec)
    for name in sorted(model.arrays):
        array = np.ascontiguousarray(model.arrays[name])
        if array.dtype.hasobject:
            raise TypeError(f"array {name}: object arrays cannot be saved without pickle")
        path = folder / ARRAYS / f"{name}.npy"
        np.save(path, array, allow_pickle=False)
        files[f"{ARRAYS}/{name}.npy"] = _sha(path.read_bytes())
    version = _version(files)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "customersense_version": model.spec.get("customersense_version"),
        "model_version": version,
        "files": files,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return version


def save_bundle(model: ScoringModel, folder: str | Path) -> str:
    """:func:`write_bundle` into ``folder``, all or nothing: written beside it, then swapped in.
    A folder that is there already must be a bundle (it is replaced) or empty."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()) and not (folder / MANIFEST).is_file():
        raise ModelError(f"{folder}: not empty and not a model bundle; choose another folder for --save-model")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".customersense-model-", dir=folder.parent))
    try:
        version = write_bundle(model, staging / "new")
        old = staging / "old"
        if folder.exists():
            os.replace(folder, old)
        os.replace(staging / "new", folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return version


def load_bundle(folder: str | Path) -> ScoringModel:
    """Read and verify a bundle written by :func:`write_bundle`."""
    folder = Path(folder)
    manifest = _json(folder / MANIFEST, f"{folder}: not a CustomerSense model bundle (no {MANIFEST})")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelError(f"{folder / MANIFEST}: not a CustomerSense model bundle (format {manifest.get('format')!r})"
                         if isinstance(manifest, dict) else f"{folder / MANIFEST}: not a CustomerSense model bundle")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelError(f"{folder}: bundle format version {version!r}; this CustomerSense reads version "
                         f"{FORMAT_VERSION} (re-run `customersense run` to write a new bundle)")
    files = manifest.get("files")
    if not isinstance(files, dict) or SPEC not in files:
        raise ModelError(f"{folder / MANIFEST}: the list of files is missing or incomplete")
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {MANIFEST}
    extra, missing = sorted(present - set(files)), sorted(set(files) - present)
    if missing or extra:
        what = "; ".join(x for x in (f"missing {', '.join(missing)}" if missing else "",
                                     f"not in the manifest: {', '.join(extra)}" if extra else "") if x)
        raise ModelError(f"{folder}: the bundle's files do not match its manifest ({what}); it was changed "
                         "after it was written")
    blobs = {}
    for name, digest in files.items():
        data = (folder / name).read_bytes()
        if _sha(data) != digest:
            raise ModelError(f"{folder / name}: content hash does not match the manifest; the bundle was changed "
                             "after it was written (re-run `customersense run` to write a new one)")
        blobs[name] = data
    if _version(files) != manifest.get("model_version"):
        raise ModelError(f"{folder / MANIFEST}: model_version does not match the files' hashes")
    spec = json.loads(blobs.pop(SPEC))
    arrays = {}
    for name, data in blobs.items():
        path = folder / name
        try:
            array = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise ModelError(f"{path}: not a plain numeric array ({exc})") from None
        arrays[Path(name).stem] = array
    spec["model_version"] = manifest["model_version"]
    return ScoringModel(spec=spec, arrays=arrays)


def _json(path: Path, missing: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(missing) from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: cannot be read as JSON ({exc})") from None


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _version(files: dict[str, str]) -> str:
    lines = "".join(f"{name}\t{digest}\n" for name, digest in sorted(files.items()))
    return hashlib.sha256(lines.encode()).hexdigest()[:16]
