"""``njit`` for the package's kernels, with numba's on-disk cache in a per-user folder.

numba's ``cache=True`` writes the compiled kernels (pickled ``.nbi``/``.nbc`` files) beside the
source, in the installed package's ``__pycache__``: a run would write into the package. Here
``cache=True`` means: cache in ``NUMBA_CACHE_DIR`` when the user set it, else in
``$XDG_CACHE_HOME/customersense/numba`` (``~/.cache/customersense/numba``); when that folder
cannot be written, do not cache at all (numba would fall back to the package's folder).
Compiling costs seconds per kernel (about 1 s for the Isolation Forest walk, several seconds for
the Pareto/NBD kernels on 2 busy cores), so the cache is kept rather than turned off.

numba picks a function's cache folder when it is decorated, from ``numba.config.CACHE_DIR``;
that setting is changed only for the duration of each decoration here, so other numba users in
the same process keep their own.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numba
from numba.core import config


def cache_dir() -> Path | None:
    """The folder for numba's cache: the user's ``NUMBA_CACHE_DIR``, else a per-user cache
    folder; None when no home folder is known."""
    if config.CACHE_DIR:
        return Path(config.CACHE_DIR)
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return Path(xdg) / "customersense" / "numba"
    try:
        return Path.home() / ".cache" / "customersense" / "numba"
    except RuntimeError:  # no home folder
        return None


def _writable(path: Path | None) -> bool:
    if path is None:
        return False
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return False
    return True


def njit(*args, cache: bool = False, **options):
    """``numba.njit``; with ``cache=True`` the cache is in :func:`cache_dir`, or off."""
    if args:  # used bare: @njit
        return njit(cache=cache, **options)(*args)

    def decorate(fn):
        folder = cache_dir() if cache else None
        if not _writable(folder):
            return numba.njit(cache=False, **options)(fn)
        before = config.CACHE_DIR
        config.CACHE_DIR = str(folder)
        try:  # the dispatcher chooses its cache locator (and folder) now
            return numba.njit(cache=True, **options)(fn)
        finally:
            config.CACHE_DIR = before

    return decorate
