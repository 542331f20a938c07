"""ASGI layers around the app: request metrics, one JSON access-log line per request, and the
body-size limit.

Both are plain ASGI middleware (no per-request task or body re-wrapping by Starlette): the
metrics layer is outermost, so a request refused for its size is counted and logged too.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

ACCESS_LOGGER = "customersense.api.access"
ACCESS_KEY = "customersense.access"  # scope key: the route writes model_version and customers there
access_log = logging.getLogger(ACCESS_LOGGER)


class Metrics:
    """The app's own Prometheus registry (several apps in one process do not collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("customersense_api_requests", "HTTP requests by path and status.",
                                ["method", "path", "status"], registry=self.registry)
        self.errors = Counter("customersense_api_errors", "Requests answered with a 4xx or 5xx status.",
                              ["path", "status"], registry=self.registry)
        self.latency = Histogram("customersense_api_request_seconds", "Request latency in seconds.", ["path"],
                                 buckets=(.001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10),
                                 registry=self.registry)
        self.customers = Counter("customersense_api_customers_scored", "Customers scored.", ["path"],
                                 registry=self.registry)


class Observed:
    """Counts, times and logs every HTTP request. ``paths``: the app's routes; any other path is
    labelled "other" (keeps the metrics' label sets small)."""

    def __init__(self, app, metrics: Metrics, paths: set[str]) -> None:
        self.app, self.metrics, self.paths = app, metrics, paths

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        info: dict[str, Any] = {}
        scope[ACCESS_KEY] = info
        status = 500

        async def sending(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - start
            path = scope["path"] if scope["path"] in self.paths else "other"
            m = self.metrics
            m.requests.labels(scope["method"], path, str(status)).inc()
            m.latency.labels(path).observe(seconds)
            if status >= 400:
                m.errors.labels(path, str(status)).inc()
            if info.get("customers"):
                m.customers.labels(path).inc(info["customers"])
            access_log.info(json.dumps({
                "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z",
                "method": scope["method"], "path": scope["path"], "status": status,
                "ms": round(seconds * 1000, 3), "model_version": info.get("model_version"),
                "customers": info.get("customers"),
            }))


class BodyLimit:
    """Refuses a body over ``limit`` bytes with 413: at once when Content-Length says so, else
    while the body streams in (chunked uploads are counted). The body is read here, then handed
    to the app in one piece."""

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send, int(declared))
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(send, size, streamed=True)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body, sent = b"".join(chunks), False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send, size: int, streamed: bool = False) -> None:
        what = f"more than {size:,} bytes arrived" if streamed else f"Content-Length is {size:,} bytes"
        body = json.dumps({"error": f"request body too large: {what}; the limit is {self.limit:,} bytes "
                                    "(send fewer customers or transactions per request)",
                           "detail": {"limit_bytes": self.limit}}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
