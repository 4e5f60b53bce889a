"""`edgecnn verify`: a run folder, or any .tflite / .onnx files, checked against budgets for CI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from edgecnn_cli._common import (
    JsonOption, JunitOption, MaxDropOption, MaxGzipOption, MaxP50Option, MaxP90Option, MaxSizeOption,
    MinAccuracyOption, MinAgreementOption, OutOption, OverridesOption, QuietOption, SkipBadOption, budget_overrides,
    data_overrides, print_json, user_errors,
)

TargetsArgument = Annotated[
    list[Path], typer.Argument(help="One run folder (holds recipe.yaml), or .tflite / .onnx / .ort files.", show_default=False)
]
DataOption = Annotated[Optional[str], typer.Option(
    "--data", help="Labelled test images for files: digits, shapes, or a recipe .yaml (its data section and seed). "
    "Without it, files get latency only.", rich_help_panel="Files")]
NormalizationOption = Annotated[Optional[str], typer.Option(
    "--normalization", help="unit ([0,1]) or symmetric ([-1,1]) input scaling for files without edgecnn metadata.",
    rich_help_panel="Files")]
BaselineOption = Annotated[Optional[Path], typer.Option(
    "--baseline", help="An earlier report.json: fail when latency or size grew, or accuracy fell, beyond --tolerance.",
    rich_help_panel="Budgets (missed: exit 1)")]
ToleranceOption = Annotated[str, typer.Option(
    "--tolerance", help="Allowed relative change against --baseline, e.g. 10% or 0.1.",
    rich_help_panel="Budgets (missed: exit 1)")]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the data split for files.", rich_help_panel="Files")]


def verify(targets: TargetsArgument, data: DataOption = None, normalization: NormalizationOption = None,
           seed: SeedOption = 0, out: OutOption = None, overrides: OverridesOption = None, as_json: JsonOption = False,
           quiet: QuietOption = False, junit: JunitOption = None, skip_bad_files: SkipBadOption = False,
           min_accuracy: MinAccuracyOption = None, max_accuracy_drop: MaxDropOption = None,
           min_agreement: MinAgreementOption = None, max_p50_ms: MaxP50Option = None,
           max_p90_ms: MaxP90Option = None, max_size: MaxSizeOption = None, max_gzip: MaxGzipOption = None,
           baseline: BaselineOption = None, tolerance: ToleranceOption = "10%"):
    """Verify a run folder's artifacts, or any image-classification .tflite / .onnx / .ort files, in their own
    runtimes (LiteRT, onnxruntime; no TensorFlow needed); writes report.json, report.md and junit.xml.

    Exit codes: 0 every budget met, 1 a gated artifact missed a budget, 2 bad input.

    Example: edgecnn verify model_int8.tflite --data digits --max-p50-ms 0.5 --min-accuracy 0.97 --junit junit.xml
    """
    overrides = data_overrides(overrides, skip_bad_files)
    with user_errors():
        from edgecnn.report import add_baseline, enforce_gate, print_report, write_report
        from edgecnn.verify.baseline import load_baseline, parse_tolerance
        from edgecnn.verify.junit import write_junit

        old = load_baseline(baseline) if baseline else None  # bad input fails before any measuring
        allowed = parse_tolerance(tolerance)
        limits = budget_overrides(min_accuracy=min_accuracy, max_accuracy_drop=max_accuracy_drop,
                                  min_agreement=min_agreement, max_p50_ms=max_p50_ms, max_p90_ms=max_p90_ms,
                                  max_size=max_size, max_gzip=max_gzip)
        settings = [*(overrides or []), *limits]
        run_mode = len(targets) == 1 and targets[0].is_dir()
        out_dir = targets[0] if run_mode else (out or Path("verify-report"))
        if run_mode:
            report = _verify_run(out_dir, settings, quiet)
        else:
            report = _verify_files(targets, data, normalization, seed, settings, out_dir, quiet)
        if old is not None:
            write_report(add_baseline(report, old, allowed), out_dir)
        if junit:
            write_junit(report, junit)
        if not quiet:
            print_report(report)
        if as_json:
            print_json(report)
        enforce_gate(report)


def _verify_run(run_dir: Path, settings: list[str], quiet: bool) -> dict:
    from edgecnn.pipeline import load_run_recipe, verify_stage

    return verify_stage(load_run_recipe(run_dir, settings), run_dir, show_progress=not quiet)


def _verify_files(paths, data, normalization, seed, settings, out_dir, quiet) -> dict:
    from edgecnn.errors import RecipeError
    from edgecnn.verify.files import verify_files

    if normalization not in (None, "unit", "symmetric"):
        raise RecipeError(f"--normalization {normalization!r}: expected unit or symmetric")
    accuracy_limits = [s for s in settings if s.split("=")[0].endswith(("min_accuracy", "min_agreement"))]
    if accuracy_limits and not data:
        raise RecipeError(f"{accuracy_limits[0].split('=')[0]}: accuracy budgets need labelled images; add --data")
    return verify_files(paths, data, normalization, seed, settings, out_dir, show_progress=not quiet)
