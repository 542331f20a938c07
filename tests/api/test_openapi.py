"""Property tests over the OpenAPI schema: no server error, every answer as documented.

Each operation gets generated requests (valid ones; invalid bodies too where there is a body) against the ASGI app,
with the API key; at most 25 examples per operation and mode keep the run short.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from customersense.api import create_app

from .conftest import AUTH, KEY

OPERATIONS = ["POST /v1/score", "POST /v1/score/transactions", "GET /v1/model", "POST /v1/model/reload",
              "GET /healthz", "GET /metrics"]


@pytest.fixture(scope="module")
def api_schema(trained):
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(trained.model, api_key=KEY))


def test_schema_lists_every_operation(api_schema):
    found = {f"{op.ok().method.upper()} {op.ok().path}" for op in api_schema.get_all_operations()}
    assert found == set(OPERATIONS)


WITH_BODY = [op for op in OPERATIONS if op.startswith("POST /v1/score")]
CASES = [*((op, GenerationMode.POSITIVE) for op in OPERATIONS), *((op, GenerationMode.NEGATIVE) for op in WITH_BODY)]


@pytest.mark.parametrize(("operation", "mode"), CASES, ids=[f"{op} {mode.value}" for op, mode in CASES])
def test_operation_conforms(api_schema, operation, mode):
    method, path = operation.split()
    op = api_schema[path][method]

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)
    def check(case):
        response = case.call(headers=AUTH)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    check()
