"""The output folder switched as a whole: a lock, leftovers of killed runs, whose files are whose.

A command's outputs are written into a complete new folder beside the output folder ``OUT``
(``PARENT/.OUT.customersense-staging-<pid>``); the user's own files in ``OUT`` are carried into
it as hard links (the same files, not copies); then ONE system call exchanges the two folders
(``renameat2(RENAME_EXCHANGE)`` on Linux, ``renamex_np(RENAME_SWAP)`` on macOS). Whatever the
moment a run is killed, ``OUT`` holds the complete old set or the complete new set. Where the
file system cannot exchange folders (FAT, some network file systems), two renames are used
(``OUT`` away, the new folder in); a run killed between them leaves no ``OUT`` for an instant,
and the next run puts the complete new set in place before anything else.

- Lock: ``PARENT/.OUT.customersense-lock`` holds the pid of the run writing into ``OUT``; a
  second run is refused (:data:`customersense.errors.EXIT_OUTPUT`) while that pid lives; the
  lock of a dead run is taken over.
- Leftovers (staging folders of dead runs, the scratch folders they spilled into, an old
  ``OUT/.customersense-staging-*``) are removed by the next run that takes the lock.
- Ownership: a file is ours when a manifest of an earlier customersense command in ``OUT``
  lists it (:data:`MANIFESTS`: run.json, score.json, ...; a manifest lists itself). A file
  with an output's name that no manifest lists is the user's: the run is refused, never
  overwritten. Any other file of the user stays (carried into the new folder).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import stat
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import OutputError

#: Manifests of customersense commands: the key listing the files each command wrote.
MANIFESTS = {"run.json": "outputs", "score.json": "outputs", "evolve.json": "outputs",
             "plan.json": "files", "campaign.json": "files"}
#: An output folder may hold at most this many files of the user's own (carried by hard links).
MAX_FOREIGN = 1000
SCRATCH_PREFIX = "customersense-"
_HELD: dict[Path, int] = {}  # locks this process holds -> the thread (a run takes it, its writer again)


def target(out_dir: str | Path) -> Path:
    """The output folder as an absolute path (a symlink followed); ``""`` and folders the run
    works in are refused."""
    if not str(out_dir).strip():
        raise OutputError('--out "" names no folder: give the output folder, e.g. --out outputs')
    out = Path(os.path.realpath(os.path.expanduser(str(out_dir))))
    cwd = Path(os.path.realpath(os.getcwd()))
    if out == out.parent:
        raise OutputError(f"--out {out_dir}: a file system root cannot be an output folder; choose a folder of its own")
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out_dir} is a file, not a folder; choose a folder for the outputs")
    if out.is_dir() and os.path.ismount(out):  # told before any work, not after it
        raise OutputError(f"--out {out_dir} is a mount point: the outputs are switched in by renaming a new folder "
                          "beside it, which cannot cross file systems; use a folder inside it, e.g. "
                          f"--out {Path(str(out_dir)) / 'outputs'}")
    if cwd == out or out in cwd.parents:
        raise OutputError(f"--out {out_dir}: the outputs are switched in as a whole new folder, which a shell inside "
                          "it would not see; run from outside it (cd ..) or choose a folder below this one")
    return out


def lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.customersense-lock"


def staging_name(out: Path, pid: int | None = None) -> Path:
    return out.parent / f".{out.name}.customersense-staging-{os.getpid() if pid is None else pid}"


@contextmanager
def locked(out_dir: str | Path) -> Iterator[Path]:
    """Hold the output folder's lock (re-entrant within one process); leftovers of dead runs are
    removed once it is held."""
    out = target(out_dir)
    me = threading.get_ident()
    if out in _HELD:
        if _HELD[out] != me:
            raise OutputError(f"another run of this process is writing into {out}; choose another --out")
        yield out  # the run holds it; its writer takes it again
        return
    _acquire(out)
    _HELD[out] = me
    try:
        recover(out)
        yield out
    finally:
        del _HELD[out]
        try:
            if _read_pid(lock_path(out)) == os.getpid():
                lock_path(out).unlink()
        except OSError:
            pass


def _acquire(out: Path) -> None:
    path = lock_path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the folder {out.parent}: {exc.strerror or exc}") from None
    for _ in range(5):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            pid = _read_pid(path)
            if pid is not None and pid != os.getpid() and alive(pid):
                raise OutputError(f"another customersense run (pid {pid}) is writing into {out}; wait for it to "
                                  f"finish or choose another --out (lock: {path})") from None
            _take_over(path, pid)
            continue
        except OSError as exc:
            raise OutputError(f"cannot write into {out.parent}: {exc.strerror or exc}; the outputs are prepared "
                              "beside the output folder, so its parent folder must be writable") from None
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{os.getpid()}\n")
        return
    raise OutputError(f"cannot take the lock {path}: other runs keep taking it; try again")


def _take_over(path: Path, stale: int | None) -> None:
    """Remove a dead run's lock; should another run have just replaced it, put theirs back."""
    aside = path.with_name(f"{path.name}.{os.getpid()}")
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return
    if _read_pid(aside) != stale:
        try:
            os.link(aside, path)
        except OSError:
            pass
    aside.unlink(missing_ok=True)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def alive(pid: int) -> bool:
    """The process ``pid`` runs (on this machine)."""
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C there
        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


# ---- leftovers --------------------------------------------------------------------------------

def recover(out: Path) -> list[Path]:
    """Finish or remove what killed runs left: a complete new folder whose swap was cut between
    its two renames is put in place; other staging folders of dead runs are removed."""
    removed = []
    prefix = f".{out.name}.customersense-"
    dead = []
    for entry in sorted(out.parent.glob(prefix + "*"), key=lambda p: "-staging-" not in p.name):
        kind, _, pid_text = entry.name[len(prefix):].rpartition("-")
        if kind not in ("staging", "old") or not pid_text.isdigit():
            continue
        if int(pid_text) != os.getpid() and alive(int(pid_text)):
            continue  # (a leftover named with this run's own pid is an earlier run's: pids are reused)
        if kind == "staging" and not out.exists() and (out.parent / f"{prefix}old-{pid_text}").exists():
            os.replace(entry, out)  # killed between the two renames: the new set is complete
            continue
        dead.append(entry)
    for entry in dead:
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    if out.is_dir():
        for entry in out.glob(".customersense-staging-*"):  # earlier versions staged inside OUT
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


@contextmanager
def scratch_folder() -> Iterator[Path]:
    """A scratch folder for one run (the engine spills there, text is re-encoded there), named
    with the pid; those of dead runs are removed first."""
    root = Path(tempfile.gettempdir())
    for entry in root.glob(SCRATCH_PREFIX + "*"):
        pid = entry.name[len(SCRATCH_PREFIX):].split("-")[0]
        try:
            mine = entry.is_dir() and entry.stat().st_uid == os.getuid()
        except (OSError, AttributeError):
            mine = False
        if mine and pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-") as workdir:
        yield Path(workdir)


# ---- ownership --------------------------------------------------------------------------------

def ours(out: Path) -> set[str]:
    """The names in ``out`` that manifests of earlier customersense commands list."""
    names: set[str] = set()
    for manifest, key in MANIFESTS.items():
        try:
            data = json.loads((out / manifest).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        listed = data.get(key) if isinstance(data, dict) else None
        if isinstance(listed, list) and manifest in listed:
            names.update(str(n).split("/")[0] for n in listed)
    return names


def check_ownership(out: Path, names: Iterable[str]) -> set[str]:
    """Refuse when a file with one of ``names`` is in ``out`` and no manifest lists it; return
    the names that are ours."""
    owned = ours(out)
    for name in names:
        if name not in owned and os.path.lexists(out / name):
            raise OutputError(f"{out / name} was not written by customersense (no run.json or other manifest in "
                              f"{out} lists it); move or rename it, or choose another --out")
    return owned


# ---- the switch -------------------------------------------------------------------------------

def carry_foreign(out: Path, staging: Path, skip: set[str]) -> list[str]:
    """Hard-link every entry of ``out`` not in ``skip`` into ``staging`` (a copy where the file
    system has no hard links); refuse a folder that holds too many files of its own."""
    entries = foreign(out, skip)
    for entry in entries:
        _link(Path(entry.path), staging / entry.name)
    return [e.name for e in entries]


def foreign(out: Path, skip: set[str]) -> list[os.DirEntry]:
    """The user's entries in ``out`` (those not in ``skip``); more than :data:`MAX_FOREIGN`
    files in all are refused."""
    if not out.is_dir():
        return []
    entries = [e for e in os.scandir(out) if e.name not in skip and not e.name.startswith(".customersense-staging-")]
    count = 0
    for entry in entries:
        count += 1 + (sum(len(f) + len(d) for _, d, f in os.walk(entry.path)) if entry.is_dir(follow_symlinks=False) else 0)
        if count > MAX_FOREIGN:
            raise OutputError(f"{out} holds more than {MAX_FOREIGN:,} files that are not customersense outputs; the "
                              "outputs are switched in as a whole folder, so give them a folder of their own (--out)")
    return entries


def _link(src: Path, dst: Path) -> None:
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
    elif src.is_dir():
        dst.mkdir()
        shutil.copystat(src, dst)
        for child in src.iterdir():
            _link(child, dst / child.name)
    else:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)


def switch(staging: Path, out: Path, replaced: set[str]) -> None:
    """Put the complete folder ``staging`` in the place of ``out`` in one step, then remove the
    old folder. ``replaced``: the names of the old folder that were ours; any other entry not
    carried (a file the user made in ``out`` during the switch) is moved across first."""
    if not out.exists():
        os.replace(staging, out)
        return
    try:
        os.chmod(staging, stat.S_IMODE(out.stat().st_mode))
    except OSError:
        pass
    if not exchange(staging, out):
        old = out.parent / staging.name.replace("-staging-", "-old-")
        os.replace(out, old)
        os.replace(staging, out)  # killed between the two: the next run's recover() does this
        staging = old
    for entry in os.scandir(staging):  # now the old folder
        if entry.name not in replaced and not os.path.lexists(out / entry.name):
            os.replace(entry.path, out / entry.name)
    shutil.rmtree(staging, ignore_errors=True)


def exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one system call; False where the system cannot."""
    try:
        if sys.platform.startswith("linux"):
            libc = ctypes.CDLL(None, use_errno=True)
            call = libc.renameat2
            call.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            result = call(-100, os.fsencode(a), -100, os.fsencode(b), 2)  # AT_FDCWD, RENAME_EXCHANGE
        elif sys.platform == "darwin":
            libc = ctypes.CDLL(None, use_errno=True)
            call = libc.renamex_np
            call.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint]
            result = call(os.fsencode(a), os.fsencode(b), 2)  # RENAME_SWAP
        else:
            return False
    except (AttributeError, OSError):
        return False
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(code, os.strerror(code), str(b))
