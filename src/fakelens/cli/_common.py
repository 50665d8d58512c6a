"""The shared pieces of the CLI: the Typer app, consoles, and the one-line error rule."""

from __future__ import annotations

import functools
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from fakelens.errors import FakelensError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Find forged faces in images and videos.")
err_console = Console(stderr=True)
out_console = Console()

VERDICT_STYLE = {"fake": "bold red", "real": "green", "no_face": "dim", "error": "yellow"}


def _version(value: bool) -> None:
    if value:
        from fakelens import __version__

        out_console.print(f"fakelens {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
):
    """Find forged faces in images and videos."""


def print_error(message: str) -> None:
    # Text, not markup: a path may contain [brackets]; soft_wrap keeps the error on one line
    err_console.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)


def one_line_errors(func):
    """Turn expected failures into ``error: <one line>`` and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except FakelensError as err:
            print_error(err.message)
            raise typer.Exit(2) from None
        except OSError as err:  # output folder missing, permission denied, disk full ...
            where = f"'{err.filename}': " if err.filename else ""
            print_error(f"{where}{err.strerror or err}")
            raise typer.Exit(2) from None
        except (ValueError, RuntimeError) as err:
            print_error(" ".join(str(err).split()))
            raise typer.Exit(2) from None

    return wrapper


def fmt_metric(value: float | None) -> str:
    """A metric cell: four decimals, or n/a where the metric is undefined (one class only)."""
    return "n/a" if value is None else f"{value:.4f}"
