"""Are the segments real? Bootstrap stability, the gap statistic and a test against a null.

- **Stability** (clusterboot, Hennig 2007): resample customers with replacement, re-fit K-Means
  with the same k, and for each original cluster take the Jaccard similarity to its best-matching
  bootstrap cluster (on the resampled customers); average over resamples. Below 0.6 a cluster is
  *unstable*, 0.6-0.75 *weak*, above 0.75 *stable*. The mean adjusted Rand index between the
  original and the bootstrap labels is reported too.
- **Gap statistic** (Tibshirani, Walther & Hastie 2001): gap(k) = E*[log W_k] - log W_k, with W_k
  the within-cluster sum of squares and E* over reference data drawn uniformly from the box
  aligned with the data's principal components (it keeps the data's scale and orientation).
  Rule: the smallest k whose gap is within one standard error of the largest gap
  ("global SE max"). The textbook "first k with gap(k) >= gap(k+1) - s(k+1)" is not used: it
  stops at k = 1 on clustered data whenever the gap dips at k = 2.
- **Significance**: the statistic log W_1 - log W_k (how much k clusters reduce the dispersion) on
  the data against the same statistic on reference data from the same null; p = (1 + number of
  null values >= observed) / (1 + B). A single unimodal blob reduces dispersion less than the
  uniform null does, so it comes out not significant; real clusters reduce it far more.

Everything runs on at most ``max_customers`` customers (a seeded random sample above that, and
the report says so), so validation stays affordable on any data size.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import ThreadpoolController, threadpool_limits

from ..progress import ProgressFn
from .metrics import SilhouetteEstimate, silhouette

UNSTABLE_BELOW = 0.6
STABLE_ABOVE = 0.75
ALPHA = 0.05


@dataclass(frozen=True)
class ValidationSettings:
    n_bootstrap: int = 50
    n_null: int = 99
    gap_references: int = 20
    k_max: int = 10
    max_customers: int = 5000
    n_init: int = 2
    random_state: int = 0


@dataclass(frozen=True)
class ValidationReport:
    k: int
    n_customers: int
    n_used: int
    sampled: bool
    settings: ValidationSettings
    jaccard: list[float]             # per cluster, mean over resamples
    jaccard_std: list[float]
    stability: list[str]             # "stable" / "weak" / "unstable" per cluster
    mean_ari: float
    gap_k: list[int]
    gap: list[float]
    gap_se: list[float]
    k_gap: int
    observed_statistic: float
    null_statistics: list[float]
    p_value: float
    silhouette: SilhouetteEstimate
    segment_names: list[str] = field(default_factory=list)

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA

    @property
    def gap_phrase(self) -> str:
        """What the gap statistic says: its k, or, when that k is the last one tried (the gap still
        within a standard error of its highest value there), that it found no optimum in the range."""
        if len(self.gap_k) > 1 and self.k_gap == max(self.gap_k):
            return f"gap statistic: no optimum within k = {min(self.gap_k)}..{max(self.gap_k)} (still rising at the edge)"
        return f"gap statistic picks k = {self.k_gap}"

    def verdict(self) -> str:
        if not self.significant:
            return (
                f"no segment structure beyond chance (p = {self.p_value:.2f} against a uniform null; "
                f"{self.gap_phrase}): treat the classic RFM segments as the reference"
            )
        names = self.segment_names or [f"cluster {i}" for i in range(self.k)]
        weak = [n for n, s in zip(names, self.stability) if s != "stable"]
        if not weak:
            stab = f"all stable (Jaccard >= {min(self.jaccard):.2f})"
        else:
            stab = "; ".join(
                f"{n} {s} (Jaccard {j:.2f})" for n, s, j in zip(names, self.stability, self.jaccard) if s != "stable"
            ) + f"; the other {self.k - len(weak)} stable"
        p = "p < 0.01" if self.p_value < 0.01 else f"p = {self.p_value:.3f}"
        return f"{self.k} segments, {stab}, significant against the null ({p}); {self.gap_phrase}"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["silhouette"] = self.silhouette.to_dict()
        d["significant"] = self.significant
        d["verdict"] = self.verdict()
        d["gap"] = self.gap_phrase
        d["thresholds"] = {"unstable_below": UNSTABLE_BELOW, "stable_above": STABLE_ABOVE, "alpha": ALPHA}
        d["methods"] = {
            "stability": "bootstrap of customers, K-Means re-fit with the same k, best-match Jaccard per cluster (Hennig 2007)",
            "gap": "Tibshirani, Walther & Hastie (2001), uniform reference over the principal-component box, rule: smallest k within one SE of the largest gap",
            "significance": "statistic log W_1 - log W_k against the same uniform principal-component-box null; p = (1 + #null >= observed) / (1 + B)",
        }
        return d


def reference_sample(Z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uniform draw over the box spanned by the data's principal components."""
    mean = Z.mean(axis=0)
    _, _, vt = np.linalg.svd(Z - mean, full_matrices=False)
    proj = (Z - mean) @ vt.T
    lo, hi = proj.min(axis=0), proj.max(axis=0)
    return rng.uniform(lo, hi, size=proj.shape) @ vt + mean


def log_dispersion(Z: np.ndarray, k: int, n_init: int, seed: int) -> float:
    """log W_k: log of the within-cluster sum of squares of a k-cluster K-Means fit."""
    if k == 1:
        return float(np.log(((Z - Z.mean(axis=0)) ** 2).sum()))
    return float(np.log(KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(Z).inertia_))


def gap_statistic(Z: np.ndarray, k_max: int, references: int, n_init: int, rng: np.random.Generator,
                  fits: FitRunner | None = None):
    ks = list(range(1, k_max + 1))
    refs = [reference_sample(Z, rng) for _ in range(references)]
    seeds = rng.integers(0, 2**31 - 1, size=len(ks))
    jobs = [(data, k, int(s)) for data in (Z, *refs) for k, s in zip(ks, seeds)]
    logw_all = np.array((fits or FitRunner()).map(lambda j: log_dispersion(j[0], j[1], n_init, j[2]), jobs))
    logw, ref_logw = logw_all[:len(ks)], logw_all[len(ks):].reshape(references, len(ks))
    gap = ref_logw.mean(axis=0) - logw
    se = ref_logw.std(axis=0) * np.sqrt(1 + 1 / references)
    best = int(np.argmax(gap))
    k_gap = next(k for k, g in zip(ks, gap) if g >= gap[best] - se[best])
    return ks, gap, se, k_gap


def stability(Z: np.ndarray, labels: np.ndarray, k: int, n_bootstrap: int, n_init: int, rng: np.random.Generator,
              fits: FitRunner | None = None):
    n = len(Z)
    # every random draw first, in a fixed order, so the fits can run in any order on any thread
    draws = [(rng.integers(0, n, size=n), int(rng.integers(0, 2**31 - 1))) for _ in range(n_bootstrap)]

    def refit(draw):
        idx, seed = draw
        model = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(Z[idx])
        uniq = np.unique(idx)
        return labels[uniq], model.predict(Z[uniq])

    jac = [[] for _ in range(k)]
    aris = []
    for orig, boot in (fits or FitRunner()).map(refit, draws):
        aris.append(adjusted_rand_score(orig, boot))
        table = np.zeros((k, k))
        np.add.at(table, (orig, boot), 1)
        size_o, size_b = table.sum(axis=1), table.sum(axis=0)
        union = size_o[:, None] + size_b[None, :] - table
        with np.errstate(invalid="ignore", divide="ignore"):
            j = np.where(union > 0, table / union, 0.0)
        for c in range(k):
            if size_o[c] > 0:
                jac[c].append(float(j[c].max()))
    means = [float(np.mean(v)) if v else 0.0 for v in jac]
    stds = [float(np.std(v)) if v else 0.0 for v in jac]
    return means, stds, float(np.mean(aris))


def _status(j: float) -> str:
    return "unstable" if j < UNSTABLE_BELOW else ("weak" if j <= STABLE_ABOVE else "stable")


def validate_clustering(
    Z: np.ndarray, labels: np.ndarray, settings: ValidationSettings | None = None, segment_names=None,
    progress: ProgressFn | None = None, workers: int | None = None,
) -> ValidationReport:
    """Validate a clustering of the (scaled) customer matrix ``Z`` with labels 0..k-1.

    The few hundred small K-Means fits run on ``workers`` threads (default: every core), each
    fit on one OpenMP thread; every random draw is made up front in a fixed order, so the report
    is identical for any number of workers. ``progress(done, total, "fits")`` hears each fit.
    """
    s = settings or ValidationSettings()
    with threadpool_limits(limits=1):
        return _validate(Z, labels, s, segment_names, FitRunner(workers, progress))


def _validate(Z, labels, s: ValidationSettings, segment_names, fits: FitRunner) -> ValidationReport:
    Z = np.asarray(Z, dtype=float)
    labels = np.asarray(labels)
    k = int(labels.max()) + 1
    if k < 2:
        raise ValueError(f"labels: validation needs at least 2 clusters; got {k}")
    rng = np.random.default_rng(s.random_state)
    n = len(Z)
    if n > s.max_customers:
        keep = np.sort(rng.choice(n, s.max_customers, replace=False))
        Z, labels = Z[keep], labels[keep]
    k_max = min(s.k_max, len(Z) - 1)
    fits.total = s.n_bootstrap + (1 + s.gap_references) * k_max + 2 + 2 * s.n_null
    means, stds, ari = stability(Z, labels, k, s.n_bootstrap, s.n_init, rng, fits)
    ks, gap, se, k_gap = gap_statistic(Z, k_max, s.gap_references, s.n_init, rng, fits)
    seed = int(rng.integers(0, 2**31 - 1))
    nulls = [reference_sample(Z, rng) for _ in range(s.n_null)]
    jobs = [(data, kk) for data in (Z, *nulls) for kk in (1, k)]
    logw = fits.map(lambda j: log_dispersion(j[0], j[1], s.n_init, seed), jobs)
    observed = logw[0] - logw[1]
    null = [logw[i] - logw[i + 1] for i in range(2, len(logw), 2)]
    p = (1 + sum(v >= observed for v in null)) / (1 + s.n_null)
    return ValidationReport(
        k=k, n_customers=n, n_used=len(Z), sampled=n > s.max_customers, settings=s,
        jaccard=means, jaccard_std=stds, stability=[_status(j) for j in means], mean_ari=ari,
        gap_k=ks, gap=[float(g) for g in gap], gap_se=[float(x) for x in se], k_gap=k_gap,
        observed_statistic=float(observed), null_statistics=[float(v) for v in null], p_value=float(p),
        silhouette=silhouette(Z, labels, random_state=s.random_state),
        segment_names=list(segment_names or []),
    )


class FitRunner:
    """Maps a function over items on a thread pool, in order, one OpenMP thread per fit."""

    def __init__(self, workers: int | None = 1, progress: ProgressFn | None = None) -> None:
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self.progress, self.total, self.done = progress, 0, 0
        self._controller = ThreadpoolController() if self.workers > 1 else None
        self._lock = threading.Lock()

    def map(self, fn, items) -> list:
        items = list(items)
        if self.workers <= 1 or len(items) < 2:
            return [self._one(fn, item) for item in items]
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return list(pool.map(lambda item: self._one(fn, item), items))

    def _one(self, fn, item):
        if self._controller is None:
            out = fn(item)
        else:  # OpenMP's thread limit is per thread: set it in this worker
            with self._controller.limit(limits=1, user_api="openmp"):
                out = fn(item)
        if self.progress is not None:
            with self._lock:
                self.done += 1
                self.progress(self.done, max(self.total, self.done), "fits")
        return out
