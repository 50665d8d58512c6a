"""``python -m fakelens.cli`` runs the CLI (the load benchmark starts servers this way)."""

from fakelens.cli import app

app()
