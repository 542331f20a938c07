"""Judging customer representations on held-out time: does a representation predict what
customers do next better than the RFM features alone?

Time split (``H`` = ``horizon_days``, ``end`` = the day after the data):

- **train**: features as of ``end - 2H``, labels from ``[end - 2H, end - H)``;
- **test**: features as of ``end - H``, labels from ``[end - H, end)``, never seen in training.

Labels per customer of the snapshot: **churn** = no purchase in the label window; **spend** = net
revenue in it (purchases minus returns; negative clipped to 0 for the spend model).

For each representation (the RFM features, then each extra block added to them), the same two
models are fitted on train and scored on test, so only the features differ:

- churn: scikit-learn's ``HistGradientBoostingClassifier`` (seeded) -> ROC AUC on test;
- spend: ``HistGradientBoostingRegressor`` with Poisson loss (it predicts the expected spend, so
  totals add up) -> mean absolute error of the spend (in money) and the error of the total, on
  test;
- **stability**: the representation's segments (K-Means on the standardised features, k by the
  project's rule) fitted separately at the two snapshots, compared by the adjusted Rand index on
  the customers of both.

Beside them, the naive baselines: recency alone and frequency alone as churn scores (AUC) and
"same spend as in the last window" (MAE). A representation **helps** when its churn AUC beats
the RFM features' by at least ``MIN_AUC_GAIN`` (its spend MAE not worse by ``MIN_MAE_GAIN``), or
its spend MAE is lower by at least ``MIN_MAE_GAIN`` (a share; its AUC not worse by
``MIN_AUC_GAIN``); otherwise it is reported as not helping and stays off by default.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import ibis
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import adjusted_rand_score, roc_auc_score
from sklearn.preprocessing import StandardScaler

from .. import schema as S
from ..cleaning import IS_RETURN, LINE_AMOUNT
from ..engine.base import Engine, fetch
from ..models.k_selection import choose_k, sweep_k
from .migration import snapshot_features

RFM_FEATURES = ("recency_days", "frequency", "monetary", "avg_order_value", "tenure_days")
MIN_AUC_GAIN = 0.01
MIN_MAE_GAIN = 0.02
# builder(as_of) -> DataFrame indexed by customer_id with the block's numeric columns
Builder = Callable[[dt.date], pd.DataFrame]


def window_labels(kept: ibis.Table, start: dt.date, end: dt.date, engine: Engine | None = None) -> pd.DataFrame:
    """Per customer with rows in ``[start, end)``: ``purchases`` (purchase lines) and net ``spend``
    (engine query)."""
    ts = kept[S.TIMESTAMP]
    t = kept.filter((ts >= ibis.literal(dt.datetime.combine(start, dt.time()), "timestamp"))
                    & (ts < ibis.literal(dt.datetime.combine(end, dt.time()), "timestamp")))
    g = t.group_by(S.CUSTOMER_ID).aggregate(purchases=t.count(where=~t[IS_RETURN]),
                                            spend=t[LINE_AMOUNT].sum().cast("float64"))
    frame = fetch(g.order_by(S.CUSTOMER_ID), engine).astype({S.CUSTOMER_ID: "string"})
    return frame.set_index(S.CUSTOMER_ID)


def evaluate_representations(kept: ibis.Table, end: dt.date, blocks: dict[str, Builder], *, horizon_days: int = 90,
                             engine: Engine | None = None, random_state: int = 42) -> pd.DataFrame:
    """One row per representation ("rfm", then "rfm+<block>" for each block, then all blocks) and
    per baseline, with the metrics of the module doc."""
    h = dt.timedelta(days=horizon_days)
    t2, t1 = end - 2 * h, end - h
    snaps = {}
    for as_of, label_end in ((t2, t1), (t1, end)):
        rfm = snapshot_features(kept, as_of, engine).set_index(S.CUSTOMER_ID)[list(RFM_FEATURES)]
        labels = window_labels(kept, as_of, label_end, engine).reindex(rfm.index)
        extra = {name: build(as_of).reindex(rfm.index) for name, build in blocks.items()}
        snaps[as_of] = (rfm, extra, labels["purchases"].fillna(0).to_numpy() == 0,
                        labels["spend"].fillna(0.0).to_numpy(np.float64))
    (rfm_a, extra_a, churn_a, spend_a), (rfm_b, extra_b, churn_b, spend_b) = snaps[t2], snaps[t1]
    if churn_b.all() or not churn_b.any() or churn_a.all() or not churn_a.any():
        raise ValueError("the label windows hold only churners or only buyers: the churn AUC is not defined")
    combos = {"rfm": []}
    combos.update({f"rfm+{name}": [name] for name in blocks})
    if len(blocks) > 1:
        combos["rfm+" + "+".join(blocks)] = list(blocks)
    rows = []
    for name, parts in combos.items():
        Xa = pd.concat([rfm_a, *(extra_a[p] for p in parts)], axis=1)
        Xb = pd.concat([rfm_b, *(extra_b[p] for p in parts)], axis=1)
        rows.append({"representation": name, "features": Xa.shape[1],
                     **_scores(Xa, Xb, churn_a, churn_b, spend_a, spend_b, random_state)})
    table = pd.DataFrame(rows)
    base = table.iloc[0]
    table["helps"] = [False] + [_helps(r.churn_auc, r.spend_mae, base.churn_auc, base.spend_mae)
                                for r in table.iloc[1:].itertuples()]
    baselines = [
        {"representation": "baseline: recency alone", "churn_auc": roc_auc_score(churn_b, rfm_b["recency_days"])},
        {"representation": "baseline: frequency alone", "churn_auc": roc_auc_score(churn_b, -rfm_b["frequency"])},
        {"representation": "baseline: last window's spend",
         "spend_mae": float(np.abs(np.clip(_last_spend(kept, t2, t1, rfm_b.index, engine), 0, None) - spend_b).mean())},
    ]
    out = pd.concat([table, pd.DataFrame(baselines)], ignore_index=True)
    out.insert(1, "train_as_of", t2)
    out.insert(2, "test_as_of", t1)
    out.insert(3, "customers_train", len(rfm_a))
    out.insert(4, "customers_test", len(rfm_b))
    return out


def _helps(auc: float, mae: float, base_auc: float, base_mae: float) -> bool:
    """Better on one metric by its margin, and not worse on the other by its margin."""
    auc_better, auc_worse = auc >= base_auc + MIN_AUC_GAIN, auc <= base_auc - MIN_AUC_GAIN
    mae_better, mae_worse = mae <= base_mae * (1 - MIN_MAE_GAIN), mae >= base_mae * (1 + MIN_MAE_GAIN)
    return bool((auc_better and not mae_worse) or (mae_better and not auc_worse))


def _last_spend(kept, start, end, index, engine) -> np.ndarray:
    return window_labels(kept, start, end, engine)["spend"].reindex(index).fillna(0.0).to_numpy(np.float64)


def _scores(Xa: pd.DataFrame, Xb: pd.DataFrame, churn_a, churn_b, spend_a, spend_b, seed: int) -> dict:
    A, B = Xa.to_numpy(np.float64), Xb.to_numpy(np.float64)
    clf = HistGradientBoostingClassifier(random_state=seed).fit(A, churn_a)
    auc = roc_auc_score(churn_b, clf.predict_proba(B)[:, 1])
    # Poisson loss: the prediction is the expected spend (so totals add up), never negative
    reg = HistGradientBoostingRegressor(loss="poisson", random_state=seed).fit(A, np.clip(spend_a, 0, None))
    predicted = reg.predict(B)
    total = float(np.clip(spend_b, 0, None).sum())
    return {
        "churn_auc": float(auc),
        "spend_mae": float(np.abs(predicted - np.clip(spend_b, 0, None)).mean()),
        "spend_total_error": float(predicted.sum() / total - 1) if total else float("nan"),
        "stability_ari": _stability(Xa, Xb, seed),
    }


def _stability(Xa: pd.DataFrame, Xb: pd.DataFrame, seed: int) -> float:
    """ARI between the segments fitted at each snapshot, on the customers of both."""
    labels = []
    for X in (Xa, Xb):
        Z = StandardScaler().fit_transform(np.sign(X.to_numpy(np.float64)) * np.log1p(np.abs(X.to_numpy(np.float64))))
        Z = np.nan_to_num(Z)
        selection, models = sweep_k(Z, list(range(2, 7)), n_init=2, random_state=seed,
                                    silhouette_sample_size=2000, silhouette_samples=1)
        k, _ = choose_k(selection)
        labels.append(pd.Series(models[k].labels_, index=X.index))
    common = labels[0].index.intersection(labels[1].index)
    return float(adjusted_rand_score(labels[0][common], labels[1][common]))
