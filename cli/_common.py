"""Options shared by several commands, and the one place errors become exit codes."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

INTERNAL_ERROR_EXIT = 3

OverridesOption = Annotated[
    Optional[list[str]],
    typer.Option("--set", "-s", metavar="KEY=VALUE", help="Override a recipe value, e.g. --set train.epochs=3 (repeatable)."),
]
OutOption = Annotated[
    Optional[Path], typer.Option("--out", "-o", help="Run folder for the artifacts [default: runs/<recipe name>].")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output on stderr.")]


@contextlib.contextmanager
def user_errors():
    """Errors -> one line on stderr and an exit code: 2 bad input, 1 missed budget, 3 anything unforeseen."""
    from edgecnn.errors import EdgeCNNError

    try:
        yield
    except EdgeCNNError as exc:
        if os.environ.get("EDGECNN_DEBUG"):
            raise
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:  # a bug or an unforeseen library failure: still one line, distinct exit code
        if os.environ.get("EDGECNN_DEBUG"):
            raise
        typer.echo(f"error: unexpected {type(exc).__name__}: {exc} (rerun with EDGECNN_DEBUG=1 for the traceback)", err=True)
        raise typer.Exit(INTERNAL_ERROR_EXIT) from None


def print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")
