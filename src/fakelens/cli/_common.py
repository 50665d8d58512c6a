"""The shared pieces of the CLI: the Typer app, consoles, and the one-line error rule."""

from __future__ import annotations

import functools
import os
import sys
import traceback
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.text import Text

from fakelens.errors import FakelensError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Find forged faces in images and videos.")
err_console = Console(stderr=True)
out_console = Console()

VERDICT_STYLE = {"fake": "bold red", "real": "green", "no_face": "dim", "error": "yellow"}
DEBUG_HINT = "run with fakelens --debug (or FAKELENS_DEBUG=1) for the traceback"
_state = {"debug": False}  # set by the app's callback on every invocation


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
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show the full traceback of a failure (also: FAKELENS_DEBUG=1)."),
    ] = False,
):
    """Find forged faces in images and videos."""
    _state["debug"] = debug


def debug_enabled() -> bool:
    return _state["debug"] or os.environ.get("FAKELENS_DEBUG", "").strip() not in ("", "0")


def print_error(message: str) -> None:
    # Text, not markup: a path may contain [brackets]; soft_wrap keeps the error on one line
    err_console.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)


def _is_model_failure(err: BaseException) -> bool:
    scanner = sys.modules.get("fakelens.models.file_scanner")  # not imported: cannot be one
    return scanner is not None and isinstance(err, scanner.ModelFailure)


def one_line_errors(func):
    """Turn failures into ``error: <one line>`` and exit code 2; ``--debug`` adds the traceback.

    Bad input (FakelensError, OSError, ValueError, RuntimeError) says what to change. A failure of the
    model, or anything unplanned, is a bug and not the input's fault: its line says so and how to see
    the traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise  # exits and usage errors, not failures (typer's Exit and Abort are RuntimeErrors)
        except Exception as err:
            if debug_enabled():
                sys.stderr.write("".join(traceback.format_exception(err)))
            print_error(_one_line(err))
            raise typer.Exit(2) from None

    return wrapper


def _one_line(err: Exception) -> str:
    if isinstance(err, FakelensError):
        return err.message
    if isinstance(err, OSError):  # output folder missing, permission denied, disk full ...
        where = f"'{err.filename}': " if err.filename else ""
        return f"{where}{err.strerror or err}"
    if _is_model_failure(err):
        return f"{err}; {DEBUG_HINT}"
    if isinstance(err, ValueError | RuntimeError):
        return " ".join(str(err).split())
    detail = " ".join(str(err).split())[:300]
    return f"unexpected {type(err).__name__}" + (f": {detail}" if detail else "") + f"; {DEBUG_HINT}"


def fmt_metric(value: float | None) -> str:
    """A metric cell: four decimals, or n/a where the metric is undefined (one class only)."""
    return "n/a" if value is None else f"{value:.4f}"
