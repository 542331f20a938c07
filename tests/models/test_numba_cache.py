"""numba's compiled kernels are cached in a per-user folder, never written into the package."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import customersense

PACKAGE = Path(customersense.__file__).resolve().parent

RUN_KERNELS = """
    import numpy as np
    from sklearn.ensemble import IsolationForest
    from customersense.clv import _pareto
    from customersense.models.anomaly import AnomalyDetector

    Z = np.random.default_rng(0).normal(size=(500, 5))
    det = AnomalyDetector(0.05, random_state=0)
    det.forest_ = IsolationForest(n_estimators=10, random_state=0).fit(Z)
    assert np.array_equal(det.score_samples(Z, method="compiled"), det.forest_.score_samples(Z))
    x = np.array([0.0, 1, 2, 5, 9]); T = np.full(5, 30.0); tx = np.where(x > 0, 12.0, 0.0)
    data = _pareto.ParetoData(x, tx, T)
    for params in ((0.55, 10.6, 0.6, 11.7), (0.55, 20.0, 0.6, 3.0), (0.5, 1.0, 3.0, 200.0)):
        value, grad = _pareto.loglik_grad(np.array(params), data, np.ones(5))
        assert np.isfinite(value) and np.isfinite(grad).all()
"""

WHERE = """
    from customersense.clv import _hyp2f1, _pareto_kernel
    from customersense.models import _iforest_kernel
    for f in (_iforest_kernel.path_lengths, _pareto_kernel.row_terms, _hyp2f1.log_s_grad):
        impl = getattr(f._cache, "_impl", None)
        print(impl.locator.get_cache_path() if impl is not None else "no cache")
"""


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _python(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "XDG_"))}
    # Python's own bytecode cache is left out: an installed package has its .pyc written by the
    # installer; this test is about what a run writes.
    environ.update(HOME=str(tmp_path / "home"), PYTHONDONTWRITEBYTECODE="1", **env)
    # the package under test, whatever the working folder (PYTHONPATH=src is relative)
    environ["PYTHONPATH"] = os.pathsep.join([str(PACKAGE.parent), *filter(None, [os.environ.get("PYTHONPATH")])])
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            env=environ, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    return result


def test_running_the_kernels_writes_nothing_into_the_package(tmp_path):
    before = _files(PACKAGE)
    _python(RUN_KERNELS, tmp_path, XDG_CACHE_HOME=str(tmp_path / "cache"))
    assert _files(PACKAGE) - before == set()
    cached = _files(tmp_path / "cache" / "customersense" / "numba")
    for kernel in ("_iforest_kernel.path_lengths", "_pareto_kernel.row_terms", "_hyp2f1.log_s_grad"):
        assert any(kernel in name and name.endswith(".nbc") for name in cached), (kernel, cached)


def test_cache_folder_default_users_own_and_none_when_unwritable(tmp_path):
    home = tmp_path / "home" / ".cache" / "customersense" / "numba"
    out = _python(WHERE, tmp_path).stdout.split()  # no XDG_CACHE_HOME: ~/.cache
    assert len(out) == 3 and all(Path(p).parent == home for p in out), out
    own = tmp_path / "own"
    out = _python(WHERE, tmp_path, NUMBA_CACHE_DIR=str(own)).stdout.split()  # the user's choice wins
    assert len(out) == 3 and all(Path(p).parent == own for p in out), out
    blocked = tmp_path / "a_file"
    blocked.write_text("")  # a cache folder that cannot be made: no caching, not the package's folder
    out = _python(WHERE, tmp_path, XDG_CACHE_HOME=str(blocked)).stdout.splitlines()
    assert out == ["no cache"] * 3
