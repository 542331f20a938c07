"""Scoring over HTTP gives exactly the training run's own values for its customers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from customersense.api import create_app

from .conftest import AUTH, KEY, feature_rows, transaction_rows

COMPARED = ["segment", "cluster", "rfm_segment", "r_score", "f_score", "m_score", "is_anomaly", "anomaly_score",
            "anomaly_reason", "engagement_score", "p_alive", "churn_probability", "expected_purchases",
            "expected_spend", "clv"]
# the answer's plain names for the run's columns named by the churn horizon (90 days)
RUN_NAME = {"expected_purchases": "expected_purchases_90d", "expected_spend": "expected_spend_90d"}
FLOATS = ("anomaly_score", "engagement_score", "p_alive", "churn_probability", "expected_purchases", "expected_spend",
          "clv")


def _same(answer: list[dict], expected: pd.DataFrame) -> None:
    got = pd.DataFrame(answer).set_index("customer_id")
    want = expected.set_index("customer_id").loc[got.index]
    for column in COMPARED:
        mine = want[RUN_NAME.get(column, column)]
        w = mine.astype(object).where(mine.notna(), None).tolist()
        g = got[column].astype(object).where(got[column].notna(), None).tolist()
        if column in FLOATS:
            np.testing.assert_allclose(np.array(g, dtype=float), np.array(w, dtype=float), rtol=1e-12,
                                       equal_nan=True, err_msg=column)
        else:
            assert g == w, column


def test_round_trip_gives_the_runs_values(client, trained):
    customers = trained.customers.sample(200, random_state=1)
    r = client.post("/v1/score", json={"customers": feature_rows(customers)}, headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_version"] == client.get("/healthz").json()["model_version"]
    assert [c["customer_id"] for c in body["customers"]] == customers["customer_id"].tolist()
    assert customers["is_anomaly"].any() and customers["clv"].notna().all()  # the sample covers both
    _same(body["customers"], customers)


def test_without_clv_inputs_the_clv_fields_are_null(client, trained):
    rows = [{k: v for k, v in r.items() if not k.startswith("clv_")} for r in feature_rows(trained.customers.head(3))]
    body = client.post("/v1/score", json={"customers": rows}, headers=AUTH).json()
    assert all(c["clv"] is None and c["p_alive"] is None and c["churn_probability"] is None for c in body["customers"])
    assert [c["segment"] for c in body["customers"]] == trained.customers["segment"].head(3).tolist()


def test_transactions_of_one_customer_give_its_run_values(client, trained):
    customer, body = _one_customer(trained)
    r = client.post("/v1/score/transactions", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["as_of"] == trained.as_of.isoformat()
    assert [c["customer_id"] for c in answer["customers"]] == [customer]
    _same(answer["customers"], trained.customers)


def test_missing_feature_is_422_naming_field_and_customer(client, trained):
    rows = feature_rows(trained.customers.head(2))
    del rows[1]["frequency"]
    r = client.post("/v1/score", json={"customers": rows}, headers=AUTH)
    assert r.status_code == 422
    assert "frequency" in r.json()["error"] and rows[1]["customer_id"] in r.json()["error"]
    assert r.json()["detail"] == {"field": "frequency", "customer_id": rows[1]["customer_id"], "index": 1}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}])
def test_v1_routes_need_the_key(client, trained, headers):
    for method, path, body in [("post", "/v1/score", {"customers": feature_rows(trained.customers.head(1))}),
                               ("get", "/v1/model", None), ("post", "/v1/model/reload", None)]:
        r = client.request(method, path, json=body, headers=headers)
        assert r.status_code == 401, path
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"].startswith("API key")
    assert client.get("/healthz").status_code == 200  # no key needed
    assert client.post("/v1/score", json={"customers": feature_rows(trained.customers.head(1))},
                       headers=AUTH).status_code == 200


def test_limits(trained):
    rows = feature_rows(trained.customers.head(6))
    with TestClient(create_app(trained.model, api_key=KEY, max_batch=5, max_body_bytes=4000)) as c:
        r = c.post("/v1/score", json={"customers": rows}, headers=AUTH)
        assert r.status_code == 422
        assert r.json()["error"] == "too many customers: 6 in one request; the limit is 5 (split the request)"
        big = {"customers": feature_rows(trained.customers.head(30))}
        r = c.post("/v1/score", json=big, headers=AUTH)
        assert r.status_code == 413
        assert r.json()["error"].startswith("request body too large: Content-Length is ")
        assert "the limit is 4,000 bytes" in r.json()["error"]

        def chunks():  # no Content-Length: the streamed bytes are counted
            for _ in range(10):
                yield b" " * 1000

        r = c.post("/v1/score", content=chunks(), headers={**AUTH, "Content-Type": "application/json"})
        assert r.status_code == 413
        assert r.json()["error"].startswith("request body too large: more than 10,000 bytes arrived")
        lines = transaction_rows(trained.transactions.head(6))
        r = c.post("/v1/score/transactions", json={"transactions": lines}, headers=AUTH)
        assert r.status_code == 422 and r.json()["error"].startswith("too many transactions: 6")


def test_model_info(client, trained):
    info = client.get("/v1/model", headers=AUTH).json()
    learned = trained.customers["segment"].value_counts()
    segments = {(s["segmentation"], s["segment"]): s for s in info["segments"]}
    assert info["k"] == trained.customers.loc[trained.customers["cluster"] >= 0, "cluster"].nunique()
    for name, n in learned.items():
        assert segments[("learned", name)]["customers"] == n
        assert segments[("learned", name)]["recommendations"]["retention"]
    assert info["clv"] is True and "recency_days" in info["required_columns"]
    profiles = pd.read_csv(trained.out / "segment_profiles.csv")
    assert len(info["segments"]) == len(profiles)


def _one_customer(trained) -> tuple[str, dict]:
    counts = trained.transactions["customer_id"].value_counts()
    customer = counts[(counts > 3) & (counts <= 50)].index[0]
    lines = trained.transactions[trained.transactions["customer_id"] == customer]
    return customer, {"as_of": trained.as_of.isoformat(), "transactions": transaction_rows(lines)}


def test_a_supervised_model_scores_one_customers_transactions_with_its_run_values(trained_supervised):
    trained = trained_supervised
    customer, body = _one_customer(trained)
    assert trained.customers["clv_model"].eq("Gradient boosting (time split)").all()
    with TestClient(create_app(trained.model, api_key=KEY)) as c:
        r = c.post("/v1/score/transactions", json=body, headers=AUTH)
        assert r.status_code == 200, r.text
        answer = r.json()["customers"]
        assert [a["customer_id"] for a in answer] == [customer]
        assert answer[0]["churn_probability"] is not None and answer[0]["p_alive"] is None
        _same(answer, trained.customers)
        # feature rows carry no window features: churn and CLV are null, and GET /v1/model says why
        rows = feature_rows(trained.customers.head(3))
        scored = c.post("/v1/score", json={"customers": rows}, headers=AUTH).json()["customers"]
        assert all(a["churn_probability"] is None and a["clv"] is None for a in scored)
        assert [a["segment"] for a in scored] == trained.customers["segment"].head(3).tolist()
        info = c.get("/v1/model", headers=AUTH).json()
        assert info["clv"] is True and info["clv_inputs"].startswith("transactions only")
        assert "POST /v1/score leaves them null" in info["clv_inputs"]
