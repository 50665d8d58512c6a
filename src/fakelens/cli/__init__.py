"""Command line: a thin Typer layer over the Python API. Errors print one line, never a traceback.

The commands live in two modules (analyst: scan/serve/export/models; research: prepare/synth/train/
evaluate/protocol/report); importing them registers them on ``app``.
"""

from __future__ import annotations

from fakelens.cli import analyst, research  # noqa: F401 - registers the commands
from fakelens.cli._common import app

__all__ = ["app"]
