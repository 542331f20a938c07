"""Trajectory clustering: each customer's monthly sequence grouped by its shape.

The engine counts, per customer and calendar month, the purchases (:func:`monthly_activity`);
only that per-customer-month table comes to pandas, and :func:`monthly_matrix` makes it two
dense ``n x m`` arrays (spend, orders; 0 where a customer bought nothing). Every feature is then
one vectorised numpy pass over those arrays (no per-customer Python), so 1M customers x 12
months take a few seconds.

**Spend** is the value of the purchase lines (``line_amount`` of non-returns) in the month; returns
are left out: a return is dated when it comes back, not when the goods were bought, so netting
it would move spend into the wrong month and could make months negative. **Orders** are the
distinct ``order_key`` of the month's purchase lines. A month is **active** when it has an order.

Features (``t`` = 0..m-1, the months of the window):

- ``trend``: a sustained direction. The OLS slope of log1p(spend) on t, times (m - 1) (the
  fitted change over the window), divided by the customer's largest log1p(monthly spend), times
  ``active_share``: unit-free, near +1 for a rise from nothing to the peak bought in every month,
  -1 for the mirror, 0 for flat. log1p: a doubling counts the same at any spend level. The
  factor ``active_share`` damps the slope of a single purchase or a short season, whose sign only
  says where in the window it fell (a one-off in the last month is not a growing customer).
- ``late_share``: spend of the last floor(m/2) months / spend of the first and last floor(m/2)
  months (0.5 flat; 1 all late; 0.5 when both halves are empty).
- ``volatility``: coefficient of variation of monthly spend, population std / mean over the m
  months (0 for identical months, sqrt(m - 1) for a single active month).
- ``seasonality``: peak-season concentration. Spend is folded by calendar month (January of
  every year together), and the share of it in the best 3 consecutive calendar months (circular:
  December, January, February is a season) is rescaled so that spend spread evenly over the year
  is 0 and spend inside one season is 1: (share - 3/12) / (1 - 3/12), clipped to [0, 1]. Chosen
  over a lag-12 autocorrelation, which needs two full years of history and is undefined for the
  default 12-month window. It only means "seasonal" with m >= 12; a one-off is concentrated too,
  and ``active_share`` tells it apart.
- ``active_share``: active months / m.
- ``months_since_last``: months from the last active month to the window's last month (0 = bought
  in the last month), from the recency sequence of :func:`recency_matrix`.
- ``months_since_first``: months from the first active month to the window's last month.
- ``active_months`` (active months), ``window_spend`` and ``window_orders`` (totals).

Clustered (:data:`CLUSTER_FEATURES`, :func:`cluster_matrix`), then standardised: ``trend``,
log1p(``volatility``), ``seasonality`` and sqrt(``active_share``): one direction and three views
of concentration, the skewed two on variance-stabilising scales (a coefficient of variation runs
up to sqrt(m - 1) for one-offs; a share of months is a proportion). ``late_share`` repeats
``trend`` and the months since first / last purchase say where in the window the activity fell,
not its shape (on planted shapes either made the silhouette split one-offs by position); they
are reported for reading (and a names file may use them), not clustered. Customers with no
purchase in the window have no trajectory and are left out.

:class:`TrajectoryClusterer` chooses k with the project's rule (:func:`~customersense.models.
k_selection.sweep_k` / ``choose_k``: highest silhouette), sweeping on a seeded sample and refitting
the chosen k on a larger one, as the customer segmenter does. Clusters are named by shape from
``data/trajectory_names.toml``: the nearest prototype to the cluster's median member (several
clusters may share a shape; the cluster id tells them apart). :func:`learn_trajectories` is the
stage: window, features, clusters, names and :func:`~customersense.evaluation.validation.
validate_clustering` (bootstrap stability, gap statistic, test against a null).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from importlib.resources import files
from numbers import Integral
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.metrics import pairwise_distances_argmin
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from .. import schema as S
from ..choices import K_RANGE_RULE, k_range_ok
from ..cleaning import IS_RETURN, LINE_AMOUNT, ORDER_KEY, PURCHASE_DATE
from ..engine.base import Engine, fetch
from ..errors import ConfigError
from ..evaluation.validation import ValidationReport, ValidationSettings, validate_clustering
from ..features.customer import round6
from ..models.k_selection import choose_k, fit_kmeans, sweep_k
from ..models.segmenter import _sample

TRAJECTORY_FEATURES = (
    "trend", "late_share", "volatility", "seasonality", "active_share", "months_since_last", "months_since_first",
    "active_months", "window_spend", "window_orders",
)
CLUSTER_FEATURES = ("trend", "volatility", "seasonality", "active_share")
SEASON_MONTHS = 3


# -- the monthly sequences ----------------------------------------------------------------------
def monthly_activity(clean: ibis.Table, start: dt.date, end: dt.date) -> ibis.Table:
    """Per customer and calendar month with a purchase in [start, end): ``month`` (months since
    start's month, 0..), ``spend`` (purchase lines, returns excluded; rounded to 1e-6) and
    ``orders`` (distinct order keys), ordered by customer and month."""
    p = clean.filter(~clean[IS_RETURN], clean[PURCHASE_DATE] >= ibis.literal(start, "date"),
                     clean[PURCHASE_DATE] < ibis.literal(end, "date"))
    day = p[PURCHASE_DATE]
    p = p.mutate(month=((day.year() - start.year) * 12 + (day.month() - start.month)).cast("int64"))
    t = p.group_by([S.CUSTOMER_ID, "month"]).aggregate(spend=p[LINE_AMOUNT].sum(), orders=p[ORDER_KEY].nunique())
    return t.mutate(spend=round6(t.spend)).order_by([S.CUSTOMER_ID, "month"])


def monthly_matrix(frame: pd.DataFrame, months: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, spend[n, m], orders[n, m]) from :func:`monthly_activity`'s rows; ids sorted, months
    with no activity 0, rows outside 0..months-1 ignored."""
    frame = frame[(frame["month"] >= 0) & (frame["month"] < months)]
    row, ids = pd.factorize(frame[S.CUSTOMER_ID], sort=True)  # hashing: faster than np.unique on text
    ids = np.asarray(ids)
    cell = row * months + frame["month"].to_numpy(dtype=np.int64)
    size = len(ids) * months

    def dense(column: str) -> np.ndarray:
        values = frame[column].to_numpy(dtype=np.float64)
        return np.bincount(cell, weights=values, minlength=size).reshape(len(ids), months)

    return ids, dense("spend"), dense("orders")


def recency_matrix(orders: np.ndarray, cap: int | None = None) -> np.ndarray:
    """Months since the last active month, at each month's end (0 in an active month); ``cap``
    (default m) before the first active month and at most."""
    n, m = orders.shape
    cap = m if cap is None else cap
    t = np.arange(m)
    last = np.maximum.accumulate(np.where(orders > 0, t, -1), axis=1)
    return np.where(last >= 0, np.minimum(t - last, cap), cap)


def trajectory_features(spend: np.ndarray, orders: np.ndarray, start_month: int = 1) -> pd.DataFrame:
    """:data:`TRAJECTORY_FEATURES` of every row (see the module's docstring); ``start_month``
    (1-12) is the calendar month of column 0, for ``seasonality``."""
    spend = np.maximum(np.asarray(spend, dtype=np.float64), 0.0)
    n, m = spend.shape
    if m < 2:
        raise ValueError(f"months={m}: a trajectory needs at least 2 months")
    active = np.asarray(orders) > 0
    t = np.arange(m, dtype=np.float64)
    tc = t - t.mean()
    logs = np.log1p(spend)
    peak = logs.max(axis=1)
    slope = logs @ tc / (tc @ tc)
    total = spend.sum(axis=1)
    half = m // 2
    early, late = spend[:, :half].sum(axis=1), spend[:, m - half:].sum(axis=1)
    mean = total / m
    season = np.zeros((m, 12))
    season[np.arange(m), (start_month - 1 + np.arange(m)) % 12] = 1.0
    year = spend @ season  # spend per calendar month
    window = sum(np.roll(year, -i, axis=1) for i in range(SEASON_MONTHS)).max(axis=1)
    base = SEASON_MONTHS / 12
    recency = recency_matrix(active)
    first = np.where(active.any(axis=1), active.argmax(axis=1), m)
    with np.errstate(invalid="ignore", divide="ignore"):
        features = {
            "trend": np.where(peak > 0, slope * (m - 1) / peak, 0.0) * active.mean(axis=1),
            "late_share": np.where(early + late > 0, late / (early + late), 0.5),
            "volatility": np.where(mean > 0, spend.std(axis=1) / mean, 0.0),
            "seasonality": np.clip(np.where(total > 0, (window / total - base) / (1 - base), 0.0), 0.0, 1.0),
            "active_share": active.mean(axis=1),
            "months_since_last": recency[:, -1].astype(np.float64),
            "months_since_first": (m - 1 - first).astype(np.float64),
            "active_months": active.sum(axis=1).astype(np.int64),
            "window_spend": total,
            "window_orders": np.asarray(orders, dtype=np.float64).sum(axis=1),
        }
    return pd.DataFrame(features, columns=list(TRAJECTORY_FEATURES))


def cluster_matrix(features: pd.DataFrame) -> np.ndarray:
    """The clustered columns (before standardising): trend, log1p(volatility), seasonality,
    sqrt(active_share)."""
    return np.column_stack([
        features["trend"].to_numpy(dtype=np.float64),
        np.log1p(features["volatility"].to_numpy(dtype=np.float64)),
        features["seasonality"].to_numpy(dtype=np.float64),
        np.sqrt(features["active_share"].to_numpy(dtype=np.float64)),
    ])


# -- the clusterer ------------------------------------------------------------------------------
class TrajectoryClusterer(ClusterMixin, BaseEstimator):
    """K-Means on standardised trajectory features, k chosen by the project's silhouette rule.

    ``X``: a DataFrame with the :data:`CLUSTER_FEATURES` columns (clustered as
    :func:`cluster_matrix`), or any numeric matrix, used as given.
    Above ``sweep_sample_size`` rows the k sweep runs on a seeded sample and the chosen k is
    refitted from the sweep's centres on at most ``max_fit_samples`` rows; every row is then
    assigned to its nearest centre. Clusters are numbered by their centre's ``trend`` (first
    column), highest first. Fitted: ``mean_``, ``scale_``, ``cluster_centers_`` (standardised),
    ``labels_``, ``n_clusters_``, ``k_reason_``, ``selection_`` (one row per k).
    """

    def __init__(self, n_clusters=None, k_range=(2, 8), n_init=4, sweep_sample_size=50_000,
                 max_fit_samples=200_000, silhouette_sample_size=5000, silhouette_samples=3, random_state=None):
        self.n_clusters = n_clusters
        self.k_range = k_range
        self.n_init = n_init
        self.sweep_sample_size = sweep_sample_size
        self.max_fit_samples = max_fit_samples
        self.silhouette_sample_size = silhouette_sample_size
        self.silhouette_samples = silhouette_samples
        self.random_state = random_state

    def fit(self, X, y=None):
        if not k_range_ok(*self.k_range):
            raise ValueError(f"k_range={tuple(self.k_range)}: must be two integers; {K_RANGE_RULE}")
        k = self.n_clusters
        if k is not None and not (isinstance(k, Integral) and k >= 2):
            raise ValueError(f"n_clusters={k!r}: must be None (choose from the data) or an integer >= 2")
        X = self._input(X, reset=True)
        self.mean_ = X.mean(axis=0)
        scale = X.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        Z = (X - self.mean_) / self.scale_
        fit_on = _sample(Z, self.max_fit_samples, self.random_state)
        sweep_on = _sample(fit_on, self.sweep_sample_size, self.random_state)
        k_min, k_max = self.k_range
        k_max = min(k_max, len(np.unique(sweep_on, axis=0)) - 1)
        if k_max < k_min and k is None:
            raise ValueError(f"k_range={tuple(self.k_range)}: only {k_max + 1} distinct trajectories")
        ks = sorted({*range(k_min, k_max + 1), *([k] if k is not None else [])})
        sampled = len(sweep_on) < len(fit_on)
        with threadpool_limits(limits=1 if len(Z) < 100_000 else None):
            self.selection_, models = sweep_k(
                sweep_on, ks, n_init=min(self.n_init, 2) if sampled else self.n_init,
                random_state=self.random_state, silhouette_sample_size=self.silhouette_sample_size,
                silhouette_samples=self.silhouette_samples,
            )
            self.n_clusters_, self.k_reason_ = choose_k(self.selection_, k)
            model = models[self.n_clusters_]
            if sampled:
                model = fit_kmeans(fit_on, self.n_clusters_, 1, self.random_state, init=model.cluster_centers_)
        centers = model.cluster_centers_
        self.cluster_centers_ = centers[np.lexsort((np.arange(len(centers)), -centers[:, 0]))]
        self.labels_ = self._nearest(Z)
        return self

    def _input(self, X, reset: bool) -> np.ndarray:
        if isinstance(X, pd.DataFrame) and all(c in X.columns for c in CLUSTER_FEATURES):
            X = cluster_matrix(X)
        return validate_data(self, X, reset=reset, dtype=np.float64, ensure_min_samples=2 if reset else 1)

    def _nearest(self, Z: np.ndarray) -> np.ndarray:
        return pairwise_distances_argmin(Z, self.cluster_centers_).astype(np.int64)

    def standardise(self, X) -> np.ndarray:
        """X in the standardised space of the centres."""
        check_is_fitted(self)
        return (self._input(X, reset=False) - self.mean_) / self.scale_

    def predict(self, X) -> np.ndarray:
        return self._nearest(self.standardise(X))

    def fit_predict(self, X, y=None) -> np.ndarray:
        return self.fit(X).labels_


# -- names by shape -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ShapePrototype:
    name: str
    position: dict[str, float]
    description: str


def load_trajectory_names(path: str | Path | None = None) -> tuple[dict[str, float], list[ShapePrototype]]:
    """(scale per naming feature, prototypes) from ``data/trajectory_names.toml``, validated."""
    path = Path(path) if path else Path(str(files(__package__).joinpath("data", "trajectory_names.toml")))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read trajectory names: {exc}") from None
    scale = data.get("scale", {})
    if not scale or any(f not in TRAJECTORY_FEATURES for f in scale) or not all(
            isinstance(v, (int, float)) and v > 0 for v in scale.values()):
        raise ConfigError(f"{path}: [scale] must give a positive number for trajectory features {TRAJECTORY_FEATURES}")
    rules = []
    for i, entry in enumerate(data.get("shape", []), start=1):
        name = str(entry.get("name", "")).strip()
        try:
            position = {f: float(entry[f]) for f in scale}
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: shape {i} ({name!r}): needs a number for each of {list(scale)} ({exc})") from None
        if not name:
            raise ConfigError(f"{path}: shape {i}: the name is empty")
        rules.append(ShapePrototype(name, position, str(entry.get("description", ""))))
    if not rules or len({r.name for r in rules}) != len(rules):
        raise ConfigError(f"{path}: needs at least one [[shape]] and unique names")
    return {f: float(v) for f, v in scale.items()}, rules


def name_trajectories(centres: pd.DataFrame, scale: dict[str, float], rules: list[ShapePrototype]) -> dict[int, str]:
    """Each cluster (a row of ``centres``, feature columns) -> the nearest prototype's name, the
    distance summing ((centre - prototype) / scale)^2 over the file's features."""
    dims = list(scale)
    pos = centres[dims].to_numpy(dtype=float) / np.array([scale[f] for f in dims])
    protos = np.array([[r.position[f] / scale[f] for f in dims] for r in rules])
    nearest = ((pos[:, None, :] - protos[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
    return {int(c): rules[j].name for c, j in zip(centres.index, nearest)}


# -- the stage ----------------------------------------------------------------------------------
@dataclass
class TrajectorySegments:
    """``columns``: per customer (index customer_id) trajectory_cluster, trajectory (its shape
    name) and :data:`TRAJECTORY_FEATURES`; ``centres``: per cluster the median member's features."""

    columns: pd.DataFrame
    centres: pd.DataFrame
    names: dict[int, str]
    k: int
    why: str
    selection: pd.DataFrame
    validation: ValidationReport | None
    start: dt.date
    end: dt.date

    def summary(self) -> dict:
        sizes = self.columns["trajectory_cluster"].value_counts()
        return {
            "window": {"start": self.start.isoformat(), "end": self.end.isoformat(),
                       "months": month_count(self.start, self.end)},
            "customers": len(self.columns),
            "k": self.k,
            "why": self.why,
            "clusters": [
                {"cluster": int(c), "name": self.names[int(c)], "customers": int(sizes.get(c, 0)),
                 "centre": {f: round(float(v), 4) for f, v in row.items()}}
                for c, row in self.centres.iterrows()
            ],
            "validation": None if self.validation is None else self.validation.verdict(),
        }


def month_count(start: dt.date, end: dt.date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def window(as_of: dt.date, months: int) -> tuple[dt.date, dt.date]:
    """The ``months`` complete calendar months before as_of's month: [start, end), end = the 1st
    of as_of's month (as_of itself is excluded from the data, so its month is partial)."""
    end = as_of.replace(day=1)
    index = end.year * 12 + end.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1), end


def learn_trajectories(clean: ibis.Table, as_of: dt.date, months: int = 12, engine: Engine | None = None,
                       k_range=(2, 8), random_state=42, validation: ValidationSettings | None = None,
                       names_path: str | Path | None = None, validate: bool = True) -> TrajectorySegments:
    """Trajectory segments of the customers with a purchase in the window (:func:`window`);
    ``validation`` tunes :func:`validate_clustering` (skipped with ``validate=False``)."""
    start, end = window(as_of, months)
    frame = fetch(monthly_activity(clean, start, end), engine)
    ids, spend, orders = monthly_matrix(frame, months)
    if len(ids) < 3:
        raise ValueError(f"{len(ids)} customers bought between {start} and {end}: trajectories need at least 3")
    features = trajectory_features(spend, orders, start.month).set_axis(pd.Index(ids, name=S.CUSTOMER_ID))
    model = TrajectoryClusterer(k_range=k_range, random_state=random_state).fit(features)
    labels = model.labels_
    centres = features.groupby(labels).median()
    centres.index.name = "trajectory_cluster"
    scale, rules = load_trajectory_names(names_path)
    names = name_trajectories(centres, scale, rules)
    report = None
    if validate:
        settings = validation or ValidationSettings(random_state=random_state)
        report = validate_clustering(model.standardise(features), labels, settings,
                                     segment_names=[names[c] for c in range(model.n_clusters_)])
    columns = features.copy()
    columns.insert(0, "trajectory", pd.Series(labels, index=features.index).map(names))
    columns.insert(0, "trajectory_cluster", labels)
    return TrajectorySegments(columns, centres, names, model.n_clusters_, model.k_reason_, model.selection_,
                              report, start, end)
