"""Options shared by several commands, and the one place errors become exit codes."""

from __future__ import annotations

import contextlib
import enum
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
class Normalization(str, enum.Enum):
    """Input scaling for model files that record none: [0, 1] or [-1, 1]."""

    unit = "unit"
    symmetric = "symmetric"


RecipeArgument = Annotated[Path, typer.Argument(help="Recipe YAML file, e.g. recipes/digits.yaml.", show_default=False)]
RunDirArgument = Annotated[
    Path, typer.Argument(help="Run folder written by `edgecnn train` or `build` (holds recipe.yaml).", show_default=False)
]
OutOption = Annotated[
    Optional[Path], typer.Option("--out", "-o", help="Run folder for the artifacts \\[default: runs/<recipe name>].")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output on stderr.")]


@contextlib.contextmanager
def user_errors():
    """Errors -> one line on stderr and an exit code: 2 bad input, 1 missed budget, 3 anything unforeseen."""
    from edgecnn.errors import EdgeCNNError, Terminated, no_space_cause, raise_if_stop_requested

    try:
        yield
        raise_if_stop_requested()  # a signal whose exception Python dropped in a __del__ still stops with its code
    except EdgeCNNError as exc:
        if os.environ.get("EDGECNN_DEBUG"):
            raise
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (Terminated): every finally has run by now
        signal_name, code = ("SIGTERM", 143) if isinstance(exc, Terminated) else ("Ctrl-C", 130)
        typer.echo(f"interrupted ({signal_name}): no half-written file or lock left; a rerun reuses the finished "
                   "stages", err=True)
        raise typer.Exit(code) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:  # a bug or an unforeseen library failure: still one line, distinct exit code
        if os.environ.get("EDGECNN_DEBUG"):
            raise
        full = no_space_cause(exc)
        if full is not None:  # a library's own write (a converter's scratch files) ran out of space: bad input, 2
            import tempfile

            from edgecnn.errors import DiskFull
            from edgecnn.fileio import out_of_space_text

            error = DiskFull(out_of_space_text(full.filename or tempfile.gettempdir(), full))
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(error.exit_code) from None
        typer.echo(f"error: unexpected {type(exc).__name__}: {exc} (rerun with EDGECNN_DEBUG=1 for the traceback)", err=True)
        raise typer.Exit(INTERNAL_ERROR_EXIT) from None


def print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


def _budget_option(flag: str, text: str):
    return Annotated[Optional[float], typer.Option(flag, help=text, rich_help_panel="Budgets (missed: exit 1)")]


MinAccuracyOption = _budget_option("--min-accuracy", "Lowest test accuracy, 0..1.")
MaxDropOption = _budget_option("--max-accuracy-drop", "Largest accuracy loss versus float, 0..1 (0.01 = one point).")
MinAgreementOption = _budget_option("--min-agreement", "Lowest top-1 agreement with the float model, 0..1.")
MaxP50Option = _budget_option("--max-p50-ms", "Slowest batch-1 p50 in ms, at every thread count.")
MaxP90Option = _budget_option("--max-p90-ms", "Slowest batch-1 p90 in ms, at every thread count.")
MaxSizeOption = _budget_option("--max-size", "Largest file in bytes.")
MaxGzipOption = _budget_option("--max-gzip", "Largest gzip-compressed file in bytes.")
MaxAppGapOption = _budget_option("--max-app-gap", "Largest loss from a .tflite's accuracy to what an app gets through "
                                 "MediaPipe Tasks, 0..1 (0.005 = half a point; needs the clients extra).")
MaxArenaOption = _budget_option("--max-arena-kib", "Largest TensorFlow Lite Micro tensor arena of an int8 .tflite, "
                                "in KiB (needs the mcu extra).")
MaxFlashOption = _budget_option("--max-flash-kib", "Largest int8 .tflite for a microcontroller's flash, in KiB.")
MaxNpuOption = _budget_option("--max-npu-ms", "Slowest inference Vela estimates on each --npu, in ms.")
NpuOption = Annotated[Optional[list[str]], typer.Option(
    "--npu", metavar="ACCELERATOR", help="Estimate every int8 .tflite on this Arm Ethos-U with Vela (repeatable), "
    "e.g. ethos-u55-128, ethos-u65-256 (needs the mcu extra; system configs through --set verify.npu=...).",
    rich_help_panel="Microcontrollers and NPUs")]


def npu_overrides(npus: list[str] | None) -> list[tuple[str, list[str]]]:
    return [("verify.npu", list(npus))] if npus else []


CameraScaleOption = Annotated[Optional[float], typer.Option(
    "--camera-scale", min=1.0, max=16.0, help="Camera frames for the MediaPipe Tasks check are the test split's "
    "source images enlarged this many times \\[default: 4].")]


def camera_overrides(camera_scale: float | None) -> list[tuple[str, float]]:
    return [] if camera_scale is None else [("verify.camera_scale", camera_scale)]


JunitOption = Annotated[
    Optional[Path], typer.Option("--junit", help="Also write the budget checks as JUnit XML here (a junit.xml is "
                                 "always written beside report.json).")
]


def budget_overrides(**limits) -> list[tuple[str, float | int]]:
    """CLI budget flags -> (verify.budgets.KEY, value) overrides, typed (flags win over the recipe)."""
    keys = {"min_accuracy": "min_accuracy", "max_accuracy_drop": "max_accuracy_drop", "min_agreement": "min_agreement",
            "max_p50_ms": "max_latency_p50_ms", "max_p90_ms": "max_latency_p90_ms", "max_size": "max_size_bytes",
            "max_gzip": "max_gzip_bytes", "max_app_gap": "max_app_gap", "max_arena_kib": "max_arena_kib",
            "max_flash_kib": "max_flash_kib", "max_npu_ms": "max_npu_ms"}
    return [(f"verify.budgets.{keys[flag]}", int(value) if keys[flag].endswith("bytes") else value)
            for flag, value in limits.items() if value is not None]


SkipBadOption = Annotated[bool, typer.Option(
    "--skip-bad-files", help="Skip unreadable images, bad list rows and images filed under two labels "
    "(counted and listed in the report) instead of stopping at the first one.")]


def data_overrides(overrides: list[str] | None, skip_bad_files: bool) -> list:
    """`--set` texts and the data flags' typed overrides, so the merged recipe records them."""
    return [*(overrides or []), *([("data.skip_bad_files", True)] if skip_bad_files else [])]


DataSourceOption = Annotated[Optional[str], typer.Option(
    "--data", help="Train on this instead of the recipe's source: digits, shapes, mnist, fashion_mnist, cifar10, "
    "an image folder, a .csv/.json list or an .npz file.")]


def data_source_overrides(spec: str | None) -> list[tuple[str, str | None]]:
    """`--data photos/` -> overrides of data.source and data.path (before any --set, which wins)."""
    if spec is None:
        return []
    from edgecnn.data.sources import data_section_for

    section = data_section_for(spec)
    return [("data.source", section["source"]), ("data.path", section.get("path"))]
