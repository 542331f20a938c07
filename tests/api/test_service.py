"""Reloading, metrics and the access log of the service."""

from __future__ import annotations

import json
import logging

from fastapi.testclient import TestClient

from customersense.api import create_app
from customersense.scoring import load_bundle
from customersense.scoring.bundle import save_bundle
from customersense.scoring.model import ScoringModel

from .conftest import AUTH, KEY, feature_rows


def test_reload_swaps_in_a_new_bundle_and_refuses_a_tampered_one(model_dir, trained):
    with TestClient(create_app(model_dir, api_key=KEY)) as c:
        old = c.get("/healthz").json()["model_version"]
        model = load_bundle(model_dir)
        profiles = [{**p, "strategy": p["strategy"] + " (revised)"} for p in model.spec["profiles"]]
        new = save_bundle(ScoringModel(spec={**model.spec, "profiles": profiles}, arrays=model.arrays), model_dir)
        assert new != old
        r = c.post("/v1/model/reload", headers=AUTH)
        assert r.status_code == 200 and r.json() == {"model_version": new, "previous_model_version": old}
        assert c.get("/healthz").json()["model_version"] == new
        assert c.get("/v1/model", headers=AUTH).json()["segments"][0]["strategy"].endswith("(revised)")

        spec = model_dir / "model.json"
        spec.write_text(spec.read_text().replace("(revised)", "(tampered)"))
        r = c.post("/v1/model/reload", headers=AUTH)
        assert r.status_code == 409
        assert "content hash does not match" in r.json()["error"]
        assert r.json()["detail"] == {"model_version": new}
        rows = feature_rows(trained.customers.head(3))
        r = c.post("/v1/score", json={"customers": rows}, headers=AUTH)
        assert r.status_code == 200 and r.json()["model_version"] == new
        assert [x["segment"] for x in r.json()["customers"]] == trained.customers["segment"].head(3).tolist()


def test_metrics_count_requests(client, trained):
    rows = feature_rows(trained.customers.head(4))
    for _ in range(3):
        assert client.post("/v1/score", json={"customers": rows}, headers=AUTH).status_code == 200
    client.get("/v1/model")  # 401
    text = client.get("/metrics").text
    assert 'customersense_api_requests_total{method="POST",path="/v1/score",status="200"} 3.0' in text
    assert 'customersense_api_requests_total{method="GET",path="/v1/model",status="401"} 1.0' in text
    assert 'customersense_api_errors_total{path="/v1/model",status="401"} 1.0' in text
    assert 'customersense_api_customers_scored_total{path="/v1/score"} 12.0' in text
    assert 'customersense_api_request_seconds_count{path="/v1/score"} 3.0' in text


def test_access_log_is_one_json_line_per_request(client, trained, caplog):
    with caplog.at_level(logging.INFO, logger="customersense.api.access"):
        client.post("/v1/score", json={"customers": feature_rows(trained.customers.head(2))}, headers=AUTH)
        client.get("/healthz")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "customersense.api.access"]
    assert [(x["method"], x["path"], x["status"]) for x in lines] == [("POST", "/v1/score", 200),
                                                                       ("GET", "/healthz", 200)]
    assert lines[0]["customers"] == 2 and lines[0]["model_version"] == client.get("/healthz").json()["model_version"]
    assert lines[0]["ms"] > 0 and lines[0]["time"].endswith("Z")
