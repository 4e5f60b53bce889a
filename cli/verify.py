"""`edgecnn verify`: a run folder, or any .tflite / .onnx files, checked against budgets for CI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from edgecnn_cli._common import (
    CameraScaleOption, JsonOption, JunitOption, MaxAppGapOption, MaxArenaOption, MaxDropOption, MaxFlashOption,
    MaxGzipOption, MaxNpuOption, MaxP50Option, MaxP90Option, MaxSizeOption, NpuOption, npu_overrides,
    MinAccuracyOption, MinAgreementOption, Normalization, OverridesOption, QuietOption, SkipBadOption,
    budget_overrides, camera_overrides, data_overrides, print_json, user_errors,
)

TargetsArgument = Annotated[
    list[Path], typer.Argument(help="One run folder (holds recipe.yaml), or .tflite / .onnx / .ort files.",
                               show_default=False)
]
VerifyOutOption = Annotated[Optional[Path], typer.Option(
    "--out", "-o", help="Folder for report.json, report.md, junit.xml and confusion.png \\[default: RUN_DIR/verify, or "
    "verify-report for files; numbered (-2, -3, ...) when it exists]. Never a build's run folder.")]
DataOption = Annotated[Optional[str], typer.Option(
    "--data", help="Labelled test images for files: digits, shapes, or a recipe .yaml (its data section and seed). "
    "Without it, files get latency only, on synthetic images of their own input size.", rich_help_panel="Files")]
NormalizationOption = Annotated[Optional[Normalization], typer.Option(
    "--normalization", help="unit ([0,1]) or symmetric ([-1,1]) input scaling for files without edgecnn metadata.",
    rich_help_panel="Files")]
BaselineOption = Annotated[Optional[Path], typer.Option(
    "--baseline", help="An earlier report.json: fail when latency or size grew, or accuracy fell, beyond --tolerance. "
    "Latency from another day or machine is noise; prefer --against.", rich_help_panel="Budgets (missed: exit 1)")]
ToleranceOption = Annotated[str, typer.Option(
    "--tolerance", help="Allowed relative change against --baseline, e.g. 10% or 0.1.",
    rich_help_panel="Budgets (missed: exit 1)")]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the data split for files.", rich_help_panel="Files")]
AgainstOption = Annotated[Optional[list[Path]], typer.Option(
    "--against", metavar="OLD", help="The old run folder, or one old file per file verified: both are timed here, "
    "interleaved, and a slowdown fails only when significant (the CI latency gate that does not flap).",
    rich_help_panel="Against old files (A/B latency)")]
MaxSlowdownOption = Annotated[str, typer.Option(
    "--max-slowdown", help="Largest allowed p50 slowdown against --against, e.g. 5% or 0.05.",
    rich_help_panel="Against old files (A/B latency)")]
AbSecondsOption = Annotated[float, typer.Option(
    "--ab-seconds", help="Time limit per file pair while the verdict is still inconclusive.",
    rich_help_panel="Against old files (A/B latency)")]
GpuCheckOption = Annotated[bool, typer.Option(
    "--gpu-check", help="Run TensorFlow's LiteRT GPU-delegate analyzer on .tflite files now (an 8 s TensorFlow "
    "import) instead of reading the verdict edgecnn's export recorded in the file.")]
WideOption = Annotated[bool, typer.Option("--wide", help="Show every column of the result table, however narrow "
                                          "the terminal.")]


def verify(targets: TargetsArgument, data: DataOption = None, normalization: NormalizationOption = None,
           seed: SeedOption = 0, out: VerifyOutOption = None, overrides: OverridesOption = None,
           as_json: JsonOption = False, quiet: QuietOption = False, wide: WideOption = False, junit: JunitOption = None,
           skip_bad_files: SkipBadOption = False, min_accuracy: MinAccuracyOption = None,
           max_accuracy_drop: MaxDropOption = None, min_agreement: MinAgreementOption = None,
           max_p50_ms: MaxP50Option = None, max_p90_ms: MaxP90Option = None, max_size: MaxSizeOption = None,
           max_gzip: MaxGzipOption = None, baseline: BaselineOption = None, tolerance: ToleranceOption = "10%",
           against: AgainstOption = None, max_slowdown: MaxSlowdownOption = "5%", ab_seconds: AbSecondsOption = 20.0,
           gpu_check: GpuCheckOption = False, max_app_gap: MaxAppGapOption = None,
           camera_scale: CameraScaleOption = None, npu: NpuOption = None, max_arena_kib: MaxArenaOption = None,
           max_flash_kib: MaxFlashOption = None, max_npu_ms: MaxNpuOption = None):
    """Verify a run folder's artifacts, or any image-classification .tflite / .onnx / .ort files, in their own
    runtimes (LiteRT, onnxruntime; no TensorFlow needed). Writes report.json, report.md, junit.xml and
    confusion.png to a folder of its own (--out), never over a build's reports.

    Exit codes: 0 every budget met, 1 a gated artifact missed a budget or is significantly slower than
    --against, 2 bad input.

    Example: edgecnn verify model_int8.tflite --data digits --min-accuracy 0.97 --junit junit.xml

    Example: edgecnn verify runs/new --against runs/main --max-slowdown 5%

    Example: edgecnn verify model_mcu_int8.tflite --data digits --npu ethos-u55-128 --max-arena-kib 64 --max-npu-ms 1
    """
    with user_errors():
        from edgecnn import api
        from edgecnn.report import print_report
        from edgecnn.verify.against import parse_slowdown
        from edgecnn.verify.baseline import parse_tolerance
        from edgecnn.verify.judge import enforce_gate

        limits = budget_overrides(min_accuracy=min_accuracy, max_accuracy_drop=max_accuracy_drop,
                                  min_agreement=min_agreement, max_p50_ms=max_p50_ms, max_p90_ms=max_p90_ms,
                                  max_size=max_size, max_gzip=max_gzip, max_app_gap=max_app_gap,
                                  max_arena_kib=max_arena_kib, max_flash_kib=max_flash_kib, max_npu_ms=max_npu_ms)
        limits += camera_overrides(camera_scale) + npu_overrides(npu)
        if gpu_check:
            limits.append(("verify.gpu_check", "always"))
        verified = api.verify(
            targets, data=data, normalization=normalization and normalization.value, seed=seed, out=out,
            overrides=[*data_overrides(overrides, skip_bad_files), *limits], baseline=baseline,
            tolerance=parse_tolerance(tolerance), against=against, max_slowdown=parse_slowdown(max_slowdown),
            ab_seconds=ab_seconds, junit=junit, show_progress=not quiet)
        if not quiet:
            print_report(verified.report, wide=wide)
            typer.echo(f"reports: {verified.folder}", err=True)
        if as_json:
            print_json(verified.report.to_dict())
        enforce_gate(verified.report)
