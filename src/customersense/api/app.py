"""The HTTP service: ``create_app(model_dir, api_key=...)`` builds the FastAPI app.

Routes (every ``/v1`` route needs ``Authorization: Bearer <key>`` unless the key is None):

- ``POST /v1/score``: customers with their features -> their segments, scores and CLV;
- ``POST /v1/score/transactions``: transaction lines -> the same, features computed by the run's
  own stages as of ``as_of``;
- ``GET /v1/model``: the model's version, training facts, segments, profiles and recommendations;
- ``POST /v1/model/reload``: load the bundle folder again (a bundle that cannot be used is
  refused with 409 and the current model keeps serving);
- ``GET /healthz`` (no key), ``GET /metrics`` (Prometheus text, no key).

Every error answers ``{"error": "one line", "detail": ...}``.
"""

from __future__ import annotations

import hmac
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import CustomerSenseError, ModelError
from .middleware import ACCESS_KEY, BodyLimit, Metrics, Observed
from .schemas import (ErrorBody, Health, ModelInfo, Reloaded, ScoreRequest, ScoreResponse, TransactionsRequest,
                      TransactionsScoreResponse)
from .scoring import ModelHolder, answer, customer_columns, customers_from_transactions, model_info


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail=None, headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.detail, self.headers = status, error, detail, headers


def _doc(*codes: int) -> dict:
    text = {401: "Missing or wrong API key.", 409: "The bundle cannot be used; the current model stays.",
            413: "Request body too large.", 422: "The request cannot be scored (invalid body, too many rows, "
            "a missing feature, unusable data).", 500: "Internal error."}
    return {c: {"model": ErrorBody, "description": text[c]} for c in codes}


def create_app(model_dir: str | Path, *, api_key: str | None, max_batch: int = 1000,
               max_body_bytes: int = 5_000_000) -> FastAPI:
    """The app serving the bundle in ``model_dir``; ``api_key`` None: no authentication."""
    holder = ModelHolder(model_dir)
    metrics = Metrics()
    bearer = HTTPBearer(auto_error=False, description="The service's API key.")

    def authorised(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if api_key is None:
            return
        given = credentials.credentials.encode() if credentials is not None else b""
        if not hmac.compare_digest(given, api_key.encode()):
            why = "missing" if credentials is None else "wrong"
            raise ApiError(401, f"API key {why}: send the header 'Authorization: Bearer <key>'",
                           headers={"WWW-Authenticate": "Bearer"})

    app = FastAPI(title="CustomerSense", version=__version__,
                  description="Score customers with a saved CustomerSense model.")
    app.state.models = holder
    app.state.metrics = metrics
    v1 = [Depends(authorised)]

    def started(request: Request, rows: int, what: str):
        if rows > max_batch:
            raise ApiError(422, f"too many {what}: {rows:,} in one request; the limit is {max_batch:,} "
                                "(split the request)", {"limit": max_batch, "received": rows})
        model = holder.current  # this request's model, whatever a reload does meanwhile
        request.scope.get(ACCESS_KEY, {}).update(model_version=model.spec["model_version"])
        return model

    def scored(request: Request, model, customers) -> list[dict]:
        rows = answer(model, customers)
        request.scope.get(ACCESS_KEY, {}).update(customers=len(rows))
        return rows

    @app.post("/v1/score", response_model=ScoreResponse, dependencies=v1, responses=_doc(401, 413, 422, 500),
              tags=["score"])
    def score(body: ScoreRequest, request: Request):
        """Score customers given their features (as in a run's customer_segments)."""
        model = started(request, len(body.customers), "customers")
        rows = scored(request, model, customer_columns(model, body.customers))
        return JSONResponse({"customers": rows, "model_version": model.spec["model_version"]})

    @app.post("/v1/score/transactions", response_model=TransactionsScoreResponse, dependencies=v1,
              responses=_doc(401, 413, 422, 500), tags=["score"])
    def score_transactions(body: TransactionsRequest, request: Request):
        """Score the customers of transaction lines: cleaned and turned into features by the
        training run's rules, as of ``as_of`` (default: the day after the last line)."""
        model = started(request, len(body.transactions), "transactions")
        customers, as_of = customers_from_transactions(model, body.transactions, body.as_of)
        rows = scored(request, model, customers)
        return JSONResponse({"customers": rows, "model_version": model.spec["model_version"],
                             "as_of": as_of.isoformat()})

    @app.get("/v1/model", response_model=ModelInfo, dependencies=v1, responses=_doc(401, 500), tags=["model"])
    def model() -> ModelInfo:
        """The model served: version, training facts, segments with profiles and recommendations."""
        return model_info(holder.current)

    @app.post("/v1/model/reload", response_model=Reloaded, dependencies=v1, responses=_doc(401, 409, 500),
              tags=["model"])
    def reload() -> Reloaded:
        """Load the bundle folder again; requests in flight finish with the model they started with."""
        try:
            new, old = holder.reload()
        except ModelError as exc:
            raise ApiError(409, f"model not reloaded: {exc}",
                           {"model_version": holder.current.spec["model_version"]}) from None
        return Reloaded(model_version=new, previous_model_version=old)

    @app.get("/healthz", response_model=Health, tags=["service"])
    def healthz() -> Health:
        return Health(status="ok", model_version=holder.current.spec["model_version"])

    @app.get("/metrics", response_class=PlainTextResponse, tags=["service"],
             responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}})
    def prometheus() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    _handlers(app)
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    app.add_middleware(Observed, metrics=metrics, paths={r.path for r in app.routes})
    return app


def _error(status: int, error: str, detail=None, headers=None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": jsonable_encoder(detail)}, status_code=status, headers=headers)


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_, exc: ApiError):
        return _error(exc.status, exc.error, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_, exc: RequestValidationError):
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        detail = [{k: e.get(k) for k in ("type", "loc", "msg")} for e in errors]
        return _error(422, f"invalid request: {where}: {first.get('msg')}{more}", detail)

    @app.exception_handler(CustomerSenseError)
    async def unusable(_, exc: CustomerSenseError):
        return _error(422, str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                      getattr(exc, "detail", None))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_, exc: StarletteHTTPException):
        return _error(exc.status_code, str(exc.detail), None, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def internal(_, exc: Exception):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return _error(500, f"internal error: {type(exc).__name__}: {first}")
