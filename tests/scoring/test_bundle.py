"""The model bundle: written by every run, read back verified, and scoring that reproduces the run.

Truth here is the run itself: the customer table the pipeline computed (features, RFM scores, the
fitted segmenter's labels and anomaly flags, the CLV stage's predictions) against what the saved
bundle gives for the same customers through its own code (frozen arrays, numpy forest walk)."""

import datetime as dt
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from threadpoolctl import threadpool_limits

from customersense.cli.main import cli
from customersense.clv.windows import FEATURES
from customersense.config import load_config
from customersense.datasets import dataset_path
from customersense.errors import EXIT_MODEL, ModelError
from customersense.pipeline import run, score
from customersense.rfm import score_rfm
from customersense.scoring import load_bundle

SETTINGS = {"validation": {"enabled": False}, "output": {"plots": False, "dashboards": False}}


def _run(source, out, **extra):
    return run(load_config(None, {**SETTINGS, "input": {"source": str(source)}, "output": {
        **SETTINGS["output"], "dir": str(out)}, **extra}))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run on the embedded CDNOW sample (2,357 customers; every model fits, CLV included)."""
    root = tmp_path_factory.mktemp("trained")
    shutil.copy(dataset_path("cdnow_sample"), root / "tx.txt")
    result = _run(root / "tx.txt", root / "out")
    return root, result


def _score(model_dir, source, out, *args):
    return CliRunner().invoke(cli, ["score", "--quiet", "--model", str(model_dir), str(source), "--out", str(out),
                                    *map(str, args)])


def test_every_run_writes_a_bundle_that_scores_its_customers_exactly(trained, tmp_path):
    root, result = trained
    assert result.clv is not None and result.learned is not None  # the round trip covers every model
    written = pd.read_parquet(root / "out" / "customer_segments.parquet")
    scored = load_bundle(root / "out" / "model").score(written)
    assert list(scored.columns) == list(written.columns)
    pd.testing.assert_frame_equal(scored, written, check_exact=True)  # exact: no tolerance
    assert written["is_anomaly"].sum() > 0 and written["clv"].notna().all()


def test_scoring_the_training_transactions_reproduces_the_run(trained, tmp_path):
    root, result = trained
    res = _score(root / "out" / "model", root / "tx.txt", tmp_path / "s")
    assert res.exit_code == 0, res.output
    written = pd.read_parquet(root / "out" / "customer_segments.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "s" / "customer_scores.parquet"), written, check_exact=True)
    record = json.loads((tmp_path / "s" / "score.json").read_text())
    assert record["model"]["version"] == load_bundle(root / "out" / "model").spec["model_version"]
    assert record["input"]["kind"] == "transactions" and record["as_of"] == result.as_of.isoformat()
    assert record["customers"] == len(written) and record["clv"] == "computed"


def test_the_same_run_gives_the_same_bundle_bytes(trained, tmp_path):
    root, _ = trained
    _run(root / "tx.txt", tmp_path / "again")
    for path in sorted((root / "out" / "model").rglob("*")):
        if path.is_file():
            again = tmp_path / "again" / "model" / path.relative_to(root / "out" / "model")
            assert again.read_bytes() == path.read_bytes(), path.name


def test_a_later_snapshot_is_scored_with_the_frozen_edges(trained, tmp_path):
    """Scoring 60 days later: every customer's R score follows the training edges (bins right-closed
    on -recency), not edges refitted on the new snapshot."""
    root, result = trained
    later = result.as_of + dt.timedelta(days=60)
    res = _score(root / "out" / "model", root / "tx.txt", tmp_path / "s", "--as-of", later)
    assert res.exit_code == 0, res.output
    scored = pd.read_parquet(tmp_path / "s" / "customer_scores.parquet")
    train = pd.read_parquet(root / "out" / "customer_segments.parquet").set_index("customer_id")
    scored = scored.set_index("customer_id").loc[train.index]
    assert (scored["recency_days"] == train["recency_days"] + 60).all()
    edges = {b.score: b.edges for b in result.rfm.bins}
    # by hand: R = 1 + number of edges e (days, descending) with -e < -recency, i.e. recency < e
    r_by_hand = 1 + sum((scored["recency_days"] < e).astype(int) for e in edges["r_score"])
    assert (scored["r_score"] == r_by_hand).all()
    m_by_hand = 1 + sum((scored["monetary"] > e).astype(int) for e in edges["m_score"])
    assert (scored["m_score"] == m_by_hand).all()
    # everyone is 60 days older: no customer scores higher on recency, many lower
    assert (scored["r_score"] <= train["r_score"]).all() and (scored["r_score"] < train["r_score"]).sum() > 100
    # edges refitted on the later snapshot move with it (every recency + 60 days) and would hide the
    # ageing: the same R scores as in training
    refitted = score_rfm(scored.reset_index()).scores["r_score"].to_numpy()
    assert (refitted == train["r_score"].to_numpy()).all()


def test_engagement_is_a_percent_rank_among_the_training_customers(trained):
    root, _ = trained
    model = load_bundle(root / "out" / "model")
    train = pd.read_parquet(root / "out" / "customer_segments.parquet")
    new = train.head(3).copy()
    new["recency_days"] = [0, 10_000, train["recency_days"].median()]
    new["frequency"] = [10_000, 0, train["frequency"].median()]
    new["monetary"] = [1e9, -1e9, train["monetary"].median()]
    got = model.score(new)["engagement_score"].to_numpy()
    n = len(train)

    def pr(values, x):  # training values strictly below x, over n - 1; at most 1
        return min((np.asarray(values) < x).sum(), n - 1) / (n - 1)

    expected = [100 * (0.4 * pr(-train["recency_days"], -r) + 0.3 * pr(train["frequency"], f)
                       + 0.3 * pr(train["monetary"], m)) for r, f, m in new[["recency_days", "frequency", "monetary"]].to_numpy()]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)  # the score is rounded to 1e-6
    assert got[0] == 100.0 and got[1] == 0.0  # beyond every training customer: the ends of [0, 100]


def test_without_clv_inputs_the_clv_columns_are_empty_and_said(trained, tmp_path):
    root, _ = trained
    table = pd.read_parquet(root / "out" / "customer_segments.parquet").drop(columns=["clv_T"])
    table.to_parquet(tmp_path / "c.parquet")
    res = _score(root / "out" / "model", tmp_path / "c.parquet", tmp_path / "s")
    assert res.exit_code == 0, res.output
    scored = pd.read_parquet(tmp_path / "s" / "customer_scores.parquet")
    assert scored["clv"].isna().all() and scored["segment"].notna().all()
    assert "lacks the CLV inputs" in json.loads((tmp_path / "s" / "score.json").read_text())["clv"]


def _copy(trained, tmp_path):
    root, _ = trained
    return shutil.copytree(root / "out" / "model", tmp_path / "model")


@pytest.mark.parametrize("change, message", [
    (lambda m: (m / "model.json").write_text((m / "model.json").read_text().replace('"k": ', '"k": 1')),
     "content hash does not match"),
    (lambda m: np.save(m / "arrays" / "centers.npy", np.load(m / "arrays" / "centers.npy") * 2), "content hash"),
    (lambda m: (m / "arrays" / "extra.npy").write_bytes(b"x"), "not in the manifest: arrays/extra.npy"),
    (lambda m: (m / "arrays" / "centers.npy").unlink(), "missing arrays/centers.npy"),
    (lambda m: (m / "manifest.json").unlink(), "not a CustomerSense model bundle"),
    (lambda m: (m / "manifest.json").write_text('{"format": "sklearn-pickle"}'), "not a CustomerSense model bundle"),
    (lambda m: (m / "manifest.json").write_text(
        (m / "manifest.json").read_text().replace('"format_version": 2', '"format_version": 99')),
     "format version 99"),
])
def test_tampered_or_unknown_bundles_are_refused(trained, tmp_path, change, message):
    model = _copy(trained, tmp_path)
    change(model)
    with pytest.raises(ModelError, match=message):
        load_bundle(model)
    res = _score(model, trained[0] / "out" / "customer_segments.parquet", tmp_path / "s")
    assert res.exit_code == EXIT_MODEL and message.split(":")[0] in res.output
    assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output
    assert not (tmp_path / "s" / "customer_scores.parquet").exists()


def test_a_pickled_array_is_refused_even_with_matching_hashes(trained, tmp_path):
    """Someone who rewrites the manifest too still cannot smuggle in a pickle."""
    import hashlib

    from customersense.scoring.bundle import _version

    model = _copy(trained, tmp_path)
    np.save(model / "arrays" / "centers.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    manifest = json.loads((model / "manifest.json").read_text())
    manifest["files"]["arrays/centers.npy"] = hashlib.sha256((model / "arrays" / "centers.npy").read_bytes()).hexdigest()
    manifest["model_version"] = _version(manifest["files"])
    (model / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="not a plain numeric array"):
        load_bundle(model)


def test_save_model_writes_elsewhere_and_refuses_a_foreign_folder(trained, tmp_path):
    root, _ = trained
    result = _run(root / "tx.txt", tmp_path / "out", output={**SETTINGS["output"], "dir": str(tmp_path / "out"),
                                                                 "save_model": str(tmp_path / "bundle")})
    assert (tmp_path / "bundle" / "manifest.json").is_file() and not (tmp_path / "out" / "model").exists()
    assert load_bundle(tmp_path / "bundle").spec["trained_on"]["customers"] == len(result.customers)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ModelError, match="not empty and not a model bundle"):
        _run(root / "tx.txt", tmp_path / "out2", output={**SETTINGS["output"], "dir": str(tmp_path / "out2"),
                                                             "save_model": str(foreign)})
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_score_library_call_and_missing_input_errors(trained, tmp_path):
    root, _ = trained
    res = _score(root / "out" / "model", tmp_path / "nothing.csv", tmp_path / "s")
    assert res.exit_code == 3 and res.output.startswith("error:")
    res = _score(tmp_path / "no-model", root / "tx.txt", tmp_path / "s")
    assert res.exit_code == EXIT_MODEL and "not a CustomerSense model bundle" in res.output
    config = load_config(None, {"input": {"source": str(root / "out" / "customer_segments.parquet")},
                                "output": {"dir": str(tmp_path / "lib")}})
    result = score(config, root / "out" / "model")
    assert result.input.kind == "customers" and len(result.customers) == trained[1].customers.shape[0]


def test_engagement_as_a_segment_feature_round_trips(tmp_path):
    """A model that segments on engagement_score scores with the frozen engagement, not the input's."""
    table = tmp_path / "tx.txt"
    shutil.copy(dataset_path("cdnow_sample"), table)
    _run(table, tmp_path / "out", segmentation={"features": ["recency_days", "frequency", "monetary",
                                                             "engagement_score"]}, clv={"enabled": False})
    written = pd.read_parquet(tmp_path / "out" / "customer_segments.parquet")
    model = load_bundle(tmp_path / "out" / "model")
    pd.testing.assert_frame_equal(model.score(written.drop(columns=["engagement_score"])), written,
                                  check_exact=True)


def _rewrite_manifest(model):
    """Make the manifest match the files again (what a careless or hostile edit would do)."""
    import hashlib

    from customersense.scoring.bundle import _version

    manifest = json.loads((model / "manifest.json").read_text())
    for name in manifest["files"]:
        manifest["files"][name] = hashlib.sha256((model / name).read_bytes()).hexdigest()
    manifest["model_version"] = _version(manifest["files"])
    (model / "manifest.json").write_text(json.dumps(manifest))


def test_arrays_whose_indexes_disagree_are_refused_even_with_matching_hashes(trained, tmp_path):
    model = _copy(trained, tmp_path)
    feature = np.load(model / "arrays" / "iforest_feature.npy")
    feature[0, 0] = 99  # beyond the 5 features: the compiled walk would read out of bounds
    np.save(model / "arrays" / "iforest_feature.npy", feature)
    _rewrite_manifest(model)
    with pytest.raises(ModelError, match="inconsistent"):
        load_bundle(model)


def test_missing_rfm_values_and_a_table_without_ids_are_one_line_errors(trained, tmp_path):
    root, _ = trained
    table = pd.read_parquet(root / "out" / "customer_segments.parquet")
    gaps = table.copy()
    gaps.loc[3, "monetary"] = np.nan  # would otherwise land in the top M bin
    gaps.to_parquet(tmp_path / "gaps.parquet")
    res = _score(root / "out" / "model", tmp_path / "gaps.parquet", tmp_path / "s")
    assert res.exit_code == 4 and "column monetary has missing" in res.output and "1 row(s)" in res.output
    table.drop(columns=["customer_id"]).to_parquet(tmp_path / "noid.parquet")
    res = _score(root / "out" / "model", tmp_path / "noid.parquet", tmp_path / "s", "--kind", "customers")
    assert res.exit_code == 4 and "no customer_id column" in res.output


def test_save_model_inside_the_output_folder_is_kept(trained, tmp_path):
    root, _ = trained
    out = tmp_path / "out"
    _run(root / "tx.txt", out, output={**SETTINGS["output"], "dir": str(out), "save_model": str(out / "model")})
    assert load_bundle(out / "model").spec["trained_on"]["customers"] > 0


@pytest.fixture(scope="module")
def supervised(trained, tmp_path_factory):
    """The same transactions, the supervised churn model asked for (saved as boosting arrays)."""
    root = tmp_path_factory.mktemp("supervised")
    with threadpool_limits(1):  # OpenMP's waiting threads slow the boosting fits on 2 shared cores
        result = _run(trained[0] / "tx.txt", root / "out", clv={"model": "supervised"})
    return root, result


def test_a_supervised_run_scores_its_transactions_exactly(trained, supervised, tmp_path):
    root, result = supervised
    assert result.clv.record["selection"]["chosen"] == "Gradient boosting (time split)"
    model = load_bundle(root / "out" / "model")
    sv = model.spec["clv"]["supervised"]
    assert model.spec["clv"]["scorable"] is True and sv["features"] == list(FEATURES)
    assert {f"sv_{t}_value" for t in ("churn", "purchases", "spend") if t not in sv["constants"]} <= set(model.arrays)
    res = _score(root / "out" / "model", trained[0] / "tx.txt", tmp_path / "s")
    assert res.exit_code == 0, res.output
    written = pd.read_parquet(root / "out" / "customer_segments.parquet")
    scored = pd.read_parquet(tmp_path / "s" / "customer_scores.parquet")
    assert list(scored.columns) == list(written.columns)  # the window features are not added
    pd.testing.assert_frame_equal(scored, written, check_exact=True)  # exact: no tolerance
    assert written["churn_probability"].notna().all() and written["p_alive"].isna().all()
    assert (written["clv_model"] == "Gradient boosting (time split)").all()
    assert json.loads((tmp_path / "s" / "score.json").read_text())["clv"] == "computed"


def test_a_supervised_model_gives_the_fitted_estimators_predictions(trained, supervised, tmp_path):
    """The frozen arrays predict what the refitted SupervisedCLV itself predicts from the same
    window features (scikit-learn's predict, not the arrays), and p_alive stays empty."""
    root, result = supervised
    config = load_config(None, {"input": {"source": str(trained[0] / "tx.txt")}, "output": {"dir": str(tmp_path)}})
    scored = score(config, root / "out" / "model")
    windows = scored.input.windows
    assert list(windows.columns) == list(FEATURES) and len(windows) == len(scored.customers)
    estimator = result.clv.fitted[0]
    with threadpool_limits(1):
        expected = {"churn_probability": estimator.predict_churn(windows),
                    "expected_purchases_90d": estimator.predict_purchases(windows),
                    "expected_spend_90d": estimator.predict_spend(windows)}
    for column, values in expected.items():
        np.testing.assert_array_equal(scored.customers[column].to_numpy(), np.round(values, 6), err_msg=column)
    assert scored.customers["p_alive"].isna().all()


def test_a_supervised_model_without_window_features_leaves_churn_empty_and_says_why(supervised, tmp_path):
    root, result = supervised
    res = _score(root / "out" / "model", root / "out" / "customer_segments.parquet", tmp_path / "s")
    assert res.exit_code == 0, res.output
    scored = pd.read_parquet(tmp_path / "s" / "customer_scores.parquet")
    assert scored["churn_probability"].isna().all() and scored["clv"].isna().all()
    assert scored["clv_model"].isna().all()
    assert scored["segment"].tolist() == result.customers["segment"].tolist()
    clv = json.loads((tmp_path / "s" / "score.json").read_text())["clv"]
    assert "window features" in clv and "score transactions" in clv


@pytest.mark.parametrize("array, change, message", [
    ("sv_churn_feature", lambda a: np.where(a == a.max(), 99, a).astype(a.dtype), "inconsistent"),
    ("sv_spend_left", lambda a: np.where(a > 0, a + 1, a).astype(a.dtype), "inconsistent"),
])
def test_a_changed_boosting_array_is_refused(supervised, tmp_path, array, change, message):
    model = shutil.copytree(supervised[0] / "out" / "model", tmp_path / "model")
    np.save(model / "arrays" / f"{array}.npy", change(np.load(model / "arrays" / f"{array}.npy")))
    with pytest.raises(ModelError, match="content hash does not match"):
        load_bundle(model)
    _rewrite_manifest(model)  # even with matching hashes
    with pytest.raises(ModelError, match=message):
        load_bundle(model)
