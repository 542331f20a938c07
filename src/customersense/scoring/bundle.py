"""A model bundle on disk: plain JSON and ``.npy`` arrays, never pickle, with a content hash.

Layout of the folder (``model/`` in the run's output folder by default)::

    manifest.json     format, format version, package version, model_version, sha256 of each file
    model.json        ScoringModel.spec: settings, RFM edges and map, names, CLV parameters, profiles
    arrays/NAME.npy   ScoringModel.arrays, read with allow_pickle=False

``model_version`` is the first 16 hex digits of the SHA-256 of the files' hashes: the same run
(same input, settings and seed) gives the same bundle bytes and the same version. Loading checks
the format and version, every file's hash, that no file is missing or added, that the arrays are
plain numbers and that their shapes and indexes agree; anything else is a
:class:`~customersense.errors.ModelError` naming the file. The hashes catch changes made after
the bundle was written (a copy gone wrong, an edit); they are not a signature: someone who can
write the folder can rewrite the manifest too, so keep it writable only by its owner.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from .boosting import check_boosting_arrays
from .model import FORMAT, FORMAT_VERSION, SUPERVISED_TARGETS, ScoringModel

MANIFEST = "manifest.json"
SPEC = "model.json"
ARRAYS = "arrays"


def bundle_files(model: ScoringModel) -> dict[str, bytes]:
    """The bundle's files (all but the manifest) as the bytes :func:`write_bundle` writes."""
    files = {SPEC: json.dumps(model.spec, indent=1, sort_keys=True, allow_nan=False).encode() + b"\n"}
    for name in sorted(model.arrays):
        array = np.ascontiguousarray(model.arrays[name])
        if array.dtype.hasobject:
            raise TypeError(f"array {name}: object arrays cannot be saved without pickle")
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        files[f"{ARRAYS}/{name}.npy"] = buffer.getvalue()
    return files


def bundle_version(model: ScoringModel) -> str:
    """The model_version :func:`write_bundle` gives ``model``, without writing it."""
    return _version({name: _sha(data) for name, data in bundle_files(model).items()})


def write_bundle(model: ScoringModel, folder: str | Path) -> str:
    """Write ``model`` into the (new or empty) ``folder``; returns its model_version."""
    folder = Path(folder)
    (folder / ARRAYS).mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for name, data in bundle_files(model).items():
        (folder / name).write_bytes(data)
        files[name] = _sha(data)
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
        try:
            os.replace(staging / "new", folder)
        except OSError:
            if old.exists():
                os.replace(old, folder)  # the previous bundle stays
            raise
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
        if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
            raise ModelError(f"{path}: not a plain numeric array ({getattr(array, 'dtype', type(array).__name__)})")
        arrays[Path(name).stem] = array
    spec["model_version"] = manifest["model_version"]
    _check_shapes(folder, spec, arrays)
    return ScoringModel(spec=spec, arrays=arrays)


def _check_shapes(folder: Path, spec: dict, arrays: dict[str, np.ndarray]) -> None:
    """The arrays agree with each other and with the spec (the forest's feature indexes reach a
    compiled walk that does not check bounds)."""
    def bad(why: str) -> ModelError:
        return ModelError(f"{folder}: the bundle's arrays are inconsistent ({why}); re-run `customersense run`")

    _check_supervised(spec, arrays, bad)
    learned = spec.get("learned")
    if not learned:
        return
    n = len(learned.get("features", []))
    if arrays.get("scaler_center", np.zeros(0)).shape != (n,) or arrays.get("scaler_scale", np.zeros(0)).shape != (n,):
        raise bad("scaler")
    centers = arrays.get("centers")
    medians = arrays.get("segment_medians", np.zeros(0))
    if centers is None or centers.ndim != 2 or centers.shape[1] != n or medians.shape != centers.shape:
        raise bad("centres")
    if "iforest_feature" in arrays:
        f, t, v = arrays["iforest_feature"], arrays["iforest_threshold"], arrays["iforest_value"]
        if f.ndim != 2 or t.shape != f.shape or v.shape != (f.shape[0], f.shape[1] + 1) or f.dtype != np.int32 \
                or t.dtype != np.float32 or (f.size and (f.min() < 0 or f.max() >= n)) \
                or (f.shape[1] + 1) & f.shape[1]:
            raise bad("isolation forest")


def _check_supervised(spec: dict, arrays: dict[str, np.ndarray], bad) -> None:
    """The saved supervised model's boosting arrays form models of its features (a constant
    target has none)."""
    supervised = (spec.get("clv") or {}).get("supervised")
    if not supervised:
        return
    for target in SUPERVISED_TARGETS:
        if target in supervised.get("constants", {}):
            continue
        prefix = f"sv_{target}"
        try:
            check_boosting_arrays(arrays, prefix)
        except ValueError as exc:
            raise bad(str(exc)) from None
        if int(arrays[f"{prefix}_n_features"][0]) != len(supervised.get("features", [])):
            raise bad(f"{prefix}: not a model of the {len(supervised.get('features', []))} features")


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
