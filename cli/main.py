"""The `edgecnn` command. Each command is parse, one `edgecnn.api` call, print. Commands import the
library inside their bodies: numpy, pydantic and Pillow cost 0.3-0.8 s that `edgecnn --help` must not pay."""

from __future__ import annotations

import atexit
import os
import re
import signal
import sys

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

from edgecnn_cli.build import build
from edgecnn_cli.cache import cache_app
from edgecnn_cli.data import data_app
from edgecnn_cli.handoff import handoff
from edgecnn_cli.inspect import inspect
from edgecnn_cli.models import models
from edgecnn_cli.predict import predict
from edgecnn_cli.stages import export, optimize, train
from edgecnn_cli.sweep import sweep
from edgecnn_cli.verify import verify

_option_type = TyperOption.display_type_rich


def _flag_shows_no_type(option: TyperOption, ctx):
    """An on/off flag takes no value: typer's help would print `<bool>` beside it, as if it took one."""
    return None if option.is_flag else _option_type(option, ctx)


_argument_type = TyperArgument.display_type_rich


def _list_as_repeats(argument: TyperArgument, ctx):
    """`<list[Path]>` is Python, not help: a repeatable argument shows as `<path>...`."""
    shown = _argument_type(argument, ctx)
    if shown and shown.startswith("<list[") and shown.endswith("]>"):
        return f"<{shown[6:-2].lower()}>..."
    return shown


TyperOption.display_type_rich = _flag_shows_no_type
TyperArgument.display_type_rich = _list_as_repeats

_STAGE_VALUE = re.compile(r"[a-z]+(:\w+)?")


def optional_force_value(args: list[str]) -> list[str]:
    """`--force` alone means every stage: click options cannot take an optional value, so a `--force` not
    followed by a stage name (`train`, `optimize:qat_int8`) gets `all`."""
    given = []
    for index, arg in enumerate(args):
        given.append(arg)
        following = args[index + 1] if index + 1 < len(args) else ""
        if arg == "--force" and not _STAGE_VALUE.fullmatch(following):
            given.append("all")
    return given


class OneLineErrors(TyperGroup):
    """Usage errors (unknown command or option, bad value) as one line, keeping click's "did you mean",
    like every other edgecnn error: a CI log shows the culprit, not a five-line usage box."""

    def main(self, args=None, *rest, standalone_mode: bool = True, **kwargs):
        args = optional_force_value(sys.argv[1:] if args is None else list(args))
        return self._main(args, *rest, standalone_mode=standalone_mode, **kwargs)

    def _main(self, *args, standalone_mode: bool = True, **kwargs):
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except typer.TyperException as exc:  # click's usage errors, re-exported by typer
            if type(exc).__name__ == "NoArgsIsHelpError":  # `edgecnn` alone: the help, already printed
                sys.exit(exc.exit_code)
            ctx = getattr(exc, "ctx", None)
            where, hint = (f"{ctx.command_path}: ", f" (see {ctx.command_path} --help)") if ctx else ("", "")
            typer.echo(f"error: {where}{' '.join(exc.format_message().split())}{hint}", err=True)
            sys.exit(getattr(exc, "exit_code", 2))
        except typer.Abort:
            typer.echo("interrupted", err=True)
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=OneLineErrors,
    name="edgecnn",
    help="Turn a small image data set into a verified, phone-ready TFLite and ONNX model.\n\n"
    "Example: edgecnn build recipes/digits.yaml",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command(rich_help_panel="Pipeline")(build)
app.command(rich_help_panel="Pipeline")(sweep)
app.command(rich_help_panel="Stages")(train)
app.command(rich_help_panel="Stages")(export)
app.command(rich_help_panel="Stages")(optimize)
app.command(rich_help_panel="Stages")(verify)
app.command(rich_help_panel="Use")(predict)
app.command(rich_help_panel="Use")(handoff)
app.command(rich_help_panel="Use")(inspect)
app.command(rich_help_panel="Reference")(models)
app.add_typer(data_app, name="data", rich_help_panel="Reference")
app.add_typer(cache_app, name="cache", rich_help_panel="Reference")


def _version(value: bool):
    if value:
        from edgecnn import __version__

        typer.echo(f"edgecnn {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version.")):
    """Turn a small image data set into a verified, phone-ready TFLite and ONNX model."""


def run():
    from edgecnn.memory import cap_malloc_arenas

    from edgecnn.errors import stop_on_signal

    cap_malloc_arenas()
    signal.signal(signal.SIGINT, stop_on_signal)
    signal.signal(signal.SIGTERM, stop_on_signal)
    try:
        app()
    except SystemExit as done:
        exit_now(done.code)
    exit_now(0)


def exit_now(code) -> None:
    """Exit with `code`. After TensorFlow was loaded, skip the interpreter's teardown of its modules (1.3-1.6 s
    of a build's wall time, after every file and report is written): run the exit handlers, flush, leave."""
    if "tensorflow" not in sys.modules:
        sys.exit(code)
    if code is not None and not isinstance(code, int):  # sys.exit("message"): printed, exit status 1
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()  # what a normal exit runs first: temporary folders removed, logs flushed
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


if __name__ == "__main__":
    run()
