"""`edgecnn handoff`: the bundle an app developer receives."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from edgecnn_cli._common import JsonOption, print_json, user_errors

BuiltRunArgument = Annotated[Path, typer.Argument(help="Run folder written by `edgecnn build`.", show_default=False)]
HandoffOutOption = Annotated[
    Optional[Path], typer.Option("--out", "-o", help="Folder for the bundle \\[default: RUN_DIR/handoff].")
]


def handoff(run_dir: BuiltRunArgument, out: HandoffOutOption = None, as_json: JsonOption = False):
    """Bundle a built run for an app developer: the best file under the budgets, the float files, labels.txt,
    MODEL_CARD.md, and Android, iOS, Node/web and Python snippets filled in for them.

    Example: edgecnn handoff runs/digits --out digits-handoff
    """
    with user_errors():
        from edgecnn.handoff import write_handoff

        bundle = write_handoff(run_dir, out)
        typer.echo(f"handoff: {bundle.folder} ({len(bundle.files)} files; phone SDKs: {bundle.phone.filename}"
                   + (f", ONNX Runtime: {bundle.web.filename}" if bundle.web else "") + ")", err=True)
        if as_json:
            print_json({"folder": str(bundle.folder), "phone": bundle.phone.filename,
                        "onnx": bundle.web.filename if bundle.web else None, "files": [str(p) for p in bundle.files]})
