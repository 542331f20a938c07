"""`customersense serve` as a real process on 127.0.0.1: starts, answers with the key, stops."""

from __future__ import annotations

import signal
import time

import httpx
from click.testing import CliRunner

from customersense.api.process import start, stop, wait_healthy
from customersense.cli.main import cli
from customersense.scoring import load_bundle
from customersense.scoring.bundle import save_bundle
from customersense.scoring.model import ScoringModel

from .conftest import AUTH, KEY, feature_rows


def test_serve_answers_an_authenticated_request_and_reloads_on_sighup(trained, model_dir):
    proc, base = start(model_dir, KEY)
    try:
        health = wait_healthy(proc, base)
        row = trained.customers.iloc[[0]]
        r = httpx.post(f"{base}/v1/score", json={"customers": feature_rows(row)}, headers=AUTH, timeout=30)
        assert r.status_code == 200, r.text
        assert r.json()["model_version"] == health["model_version"]
        assert r.json()["customers"][0]["segment"] == row["segment"].iloc[0]
        assert httpx.get(f"{base}/v1/model", timeout=10).status_code == 401
        model = load_bundle(model_dir)
        new = save_bundle(ScoringModel(spec={**model.spec, "profiles": model.spec["profiles"][:1]},
                                       arrays=model.arrays), model_dir)
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while httpx.get(f"{base}/healthz", timeout=5).json()["model_version"] != new:
            assert time.monotonic() < deadline, "SIGHUP did not reload the model"
            time.sleep(0.1)
    finally:
        stop(proc)
    assert '"path": "/v1/score", "status": 200' in proc.stderr.read().decode()  # the access log


def test_serve_refuses_to_start_without_a_key(trained, monkeypatch):
    monkeypatch.delenv("CUSTOMERSENSE_API_KEY", raising=False)
    runner = CliRunner()
    r = runner.invoke(cli, ["serve", "--model", str(trained.model)])
    assert r.exit_code == 5 and "no API key" in r.output
    r = runner.invoke(cli, ["serve", "--model", str(trained.model), "--no-auth", "--host", "0.0.0.0"])
    assert r.exit_code == 5 and "--no-auth is refused on 0.0.0.0" in r.output
    r = runner.invoke(cli, ["serve", "--model", str(trained.model), "--api-key-file", "/nonexistent/key"])
    assert r.exit_code == 5 and "--api-key-file /nonexistent/key: cannot be read" in r.output
