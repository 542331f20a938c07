"""The HTTP service over a saved model: ``create_app`` (FastAPI) and ``serve`` (uvicorn)."""

from .app import create_app
from .server import serve

__all__ = ["create_app", "serve"]
