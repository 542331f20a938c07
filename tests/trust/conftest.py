"""The bad-input corpus (issue 14): each case is a small file made inside the test, the command
line it is given, the named exit code and a fragment of the one-line message it must produce.

Every case runs against an output folder that already holds a complete earlier run; after the
failure that folder must be byte-for-byte what it was (nothing lost, nothing mixed, nothing left
behind). Cases that must succeed use :func:`run_ok` instead and assert on what was read.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from customersense.cli.main import cli

# A small valid file: 16 customers over 8 days (the same shape as tests/cli/test_cli.py's).
GOOD_CSV = "customer_id,order_id,timestamp,amount\n" + "".join(
    f"c{i},{100 + i},2021-01-0{1 + i % 8} 09:00,{3 * i + 1}\n" for i in range(16)
) + "c1,200,2021-01-08 10:00,20\nc2,201,2021-01-07 11:00,5\n"

# The fast path: the corpus is about reading and failing, not about figures.
FAST = ("--quiet", "--no-plots", "--no-dashboards", "--no-validate", "--no-clv")


def invoke(*args):
    return CliRunner().invoke(cli, ["run", *map(str, args)])


def digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (hidden ones included), by relative path."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def previous_run(tmp_path_factory) -> Path:
    """One complete earlier run that every failing case must leave intact."""
    root = tmp_path_factory.mktemp("previous")
    (root / "good.csv").write_text(GOOD_CSV)
    result = invoke(root / "good.csv", "--out", root / "out", *FAST)
    assert result.exit_code == 0, result.output
    return root / "out"


@pytest.fixture
def fails(tmp_path, monkeypatch, previous_run):
    """``fails(files, args, code, fragment)``: write ``files`` (name -> str or bytes) into a fresh
    folder, run ``customersense run *args --out OUT`` there with OUT holding a copy of an earlier
    complete run, and check: the named exit code, exactly one line containing ``fragment``, no
    traceback, and OUT unchanged. Returns the CLI result."""

    def check(files: dict[str, str | bytes], args, code: int, fragment: str, *, fast: bool = True):
        out = tmp_path / "out"
        shutil.copytree(previous_run, out)
        before = digest(out)
        for name, content in files.items():
            target = tmp_path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            (target.write_bytes if isinstance(content, bytes) else target.write_text)(content)
        monkeypatch.chdir(tmp_path)
        result = invoke(*args, "--out", out, *(FAST if fast else ("--quiet",)))
        lines = result.output.strip().splitlines()
        assert result.exit_code == code, result.output
        assert len(lines) == 1 and fragment in lines[0], result.output
        assert "Traceback" not in result.output
        assert digest(out) == before
        return result

    return check


@pytest.fixture
def run_ok(tmp_path, monkeypatch):
    """``run_ok(files, args)``: write ``files``, run into ``tmp_path/out`` and return that folder
    (the run must succeed)."""

    def go(files: dict[str, str | bytes], args, *, fast: bool = True) -> Path:
        for name, content in files.items():
            (tmp_path / name).write_bytes(content) if isinstance(content, bytes) else (tmp_path / name).write_text(content)
        monkeypatch.chdir(tmp_path)
        out = tmp_path / "out"
        result = invoke(*args, "--out", out, *(FAST if fast else ("--quiet",)))
        assert result.exit_code == 0, result.output
        return out

    return go
