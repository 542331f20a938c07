"""``customersense serve`` as a child process on a loopback port: start it, wait until
``/healthz`` answers, stop it by its pid. For tests, benchmarks and supervisors that run the
real service."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .server import ENV_KEY

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start(model_dir: str | Path, key: str | None, *args: str, port: int | None = None,
          stderr=subprocess.PIPE) -> tuple[subprocess.Popen, str]:
    """The service on 127.0.0.1 (``key`` None: ``--no-auth``), answering; (process, base URL)."""
    port = port or free_port()
    src = Path(__file__).resolve().parents[2]  # this package's source, wherever it is installed from
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(src), os.environ.get("PYTHONPATH")) if p)}
    env.pop(ENV_KEY, None)
    if key is not None:
        env[ENV_KEY] = key
    command = [sys.executable, "-m", "customersense", "serve", "--model", str(model_dir), "--host", HOST,
               "--port", str(port), *(["--no-auth"] if key is None else []), *args]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    base = f"http://{HOST}:{port}"
    try:
        wait_healthy(proc, base)
    except BaseException:
        stop(proc)
        raise
    return proc, base


def wait_healthy(proc: subprocess.Popen, base: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"customersense serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as r:
                return json.loads(r.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise RuntimeError(f"customersense serve did not answer {base}/healthz within {timeout:g} s")


def stop(proc: subprocess.Popen) -> None:
    """Terminate, wait, kill if it does not end."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
