"""``serve(...)``: the app under uvicorn, one process, with SIGHUP reloading the model.

The API key comes from ``$CUSTOMERSENSE_API_KEY`` or a file (:func:`api_key`); without one the
service refuses to start unless authentication is switched off, which is allowed only on a
loopback address.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from ..errors import ConfigError, CustomerSenseError
from .middleware import ACCESS_LOGGER

ENV_KEY = "CUSTOMERSENSE_API_KEY"
log = logging.getLogger("customersense.api")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api_key(key_file: str | None, no_auth: bool, host: str, environ=os.environ) -> str | None:
    """The key the service will require (None: no authentication), or a ConfigError saying why not."""
    if no_auth:
        if not is_loopback(host):
            raise ConfigError(f"--no-auth is refused on {host}: without authentication the service may only "
                              "listen on a loopback address (127.0.0.1, ::1, localhost)")
        return None
    if key_file is not None:
        try:
            key = Path(key_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"--api-key-file {key_file}: cannot be read ({exc.strerror or exc})") from None
        if not key:
            raise ConfigError(f"--api-key-file {key_file}: the file is empty")
        return key
    key = environ.get(ENV_KEY, "").strip()
    if not key:
        raise ConfigError(f"no API key: set ${ENV_KEY} or pass --api-key-file FILE "
                          "(or --no-auth on a loopback address)")
    return key


def serve(model_dir: str | Path, *, host: str = "127.0.0.1", port: int = 8000, api_key: str | None,
          max_batch: int = 1000, max_body_bytes: int = 5_000_000) -> None:
    """Serve the bundle in ``model_dir`` until SIGINT/SIGTERM; SIGHUP reloads it."""
    import uvicorn

    from .app import create_app

    app = create_app(model_dir, api_key=api_key, max_batch=max_batch, max_body_bytes=max_body_bytes)
    _log_to_stderr()

    def reload() -> None:
        try:
            new, old = app.state.models.reload()
            log.info(f"model reloaded: {old} -> {new}")
        except CustomerSenseError as exc:
            log.error(f"model not reloaded, {app.state.models.current.spec['model_version']} stays: {exc}")

    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=reload, daemon=True).start())
    log.info(f"serving model {app.state.models.current.spec['model_version']} on http://{host}:{port}"
             f"{'' if api_key else ' WITHOUT authentication'}")
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, access_log=False, log_level="warning",
                                  workers=1)).run()


def _log_to_stderr() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("customersense.api", ACCESS_LOGGER):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        if not logger.handlers:
            logger.addHandler(handler)
    logging.getLogger(ACCESS_LOGGER).propagate = False
