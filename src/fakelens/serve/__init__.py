"""``fakelens serve``: the scanner as an HTTP API (FastAPI) with a web page at ``/``."""

from fakelens.serve.app import create_app, load_for, serve
from fakelens.serve.settings import ServeSettings

__all__ = ["ServeSettings", "create_app", "load_for", "serve"]
