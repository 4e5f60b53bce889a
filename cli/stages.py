"""`edgecnn train`, `export` and `optimize`: one stage at a time over a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgecnn.formats import OPTIMIZE_VARIANTS
from edgecnn_cli._common import (
    DataSourceOption, JsonOption, OutOption, OverridesOption, QuietOption, SkipBadOption, data_overrides,
    data_source_overrides, print_json, user_errors,
)

RecipeArgument = Annotated[Path, typer.Argument(help="Recipe YAML file.", show_default=False)]
RunDirArgument = Annotated[
    Path, typer.Argument(help="Run folder written by `edgecnn train` or `build` (holds recipe.yaml).", show_default=False)
]


def train(recipe: RecipeArgument, out: OutOption = None, overrides: OverridesOption = None,
          as_json: JsonOption = False, quiet: QuietOption = False,
          skip_bad_files: SkipBadOption = False, data: DataSourceOption = None):
    """Train the recipe's model; writes model.keras, history.json and the merged recipe.yaml.

    Example: edgecnn train recipes/shapes.yaml --set train.epochs=10
    """
    with user_errors():
        overrides = data_source_overrides(data) + data_overrides(overrides, skip_bad_files)
        from edgecnn.pipeline import default_run_dir, train_stage
        from edgecnn.recipe import load_recipe

        parsed = load_recipe(recipe, overrides)
        out_dir = out or default_run_dir(parsed)
        from edgecnn.runlock import run_lock

        with run_lock(out_dir):
            _, result = train_stage(parsed, out_dir, show_progress=not quiet)
        summary = {"model": str(result.model_path), "best_epoch": result.best_epoch, "seconds": round(result.seconds, 2),
                   "val_accuracy": max(result.history.get("val_accuracy", [0.0]))}
        typer.echo(f"trained {result.model_path} in {result.seconds:.1f} s (best epoch {result.best_epoch})", err=True)
        if as_json:
            print_json(summary)


def export(run_dir: RunDirArgument, overrides: OverridesOption = None, as_json: JsonOption = False,
           quiet: QuietOption = False,
          skip_bad_files: SkipBadOption = False):
    """Export a trained run folder's model.keras to the recipe's formats.

    Example: edgecnn export runs/digits --set "export.formats=\\[tflite_int8]"
    """
    overrides = data_overrides(overrides, skip_bad_files)
    with user_errors():
        from edgecnn.pipeline import export_stage
        from edgecnn.run import RunFolder

        parsed = RunFolder(run_dir).load_recipe(overrides)
        from edgecnn.runlock import run_lock

        with run_lock(run_dir):
            artifacts = export_stage(parsed, run_dir, show_progress=not quiet)
            RunFolder(run_dir).save_recipe(parsed)  # verify and later stages see the formats this run now holds
        if as_json:
            print_json([{"name": a.name, "path": str(a.path), "seconds": round(a.seconds, 2)} for a in artifacts])


def optimize(run_dir: RunDirArgument, overrides: OverridesOption = None, as_json: JsonOption = False,
             quiet: QuietOption = False,
          skip_bad_files: SkipBadOption = False):
    """Make the recipe's optimized variants (quantized, pruned, clustered) of a trained run folder's model,
    export them under optimized/, then verify every artifact and write the comparison report.

    Variants: @VARIANTS@.

    Example: edgecnn optimize runs/shapes --set "optimize.variants=\\[ptq_int8,qat_int8]"
    """
    overrides = data_overrides(overrides, skip_bad_files)
    with user_errors():
        from edgecnn.pipeline import optimize_stage, verify_stage
        from edgecnn.report import print_report, write_report
        from edgecnn.verify.judge import enforce_gate
        from edgecnn.run import RunFolder

        parsed = RunFolder(run_dir).load_recipe(overrides)
        from edgecnn.runlock import run_lock

        with run_lock(run_dir):
            optimize_stage(parsed, run_dir, show_progress=not quiet)
            RunFolder(run_dir).save_recipe(parsed)  # verify and later stages see the variants this run now holds
            report = verify_stage(parsed, run_dir, show_progress=not quiet)
            write_report(report, run_dir)  # a build stage: its report belongs to the run folder
        if not quiet:
            print_report(report)
        if as_json:
            print_json(report)
        enforce_gate(report)


optimize.__doc__ = optimize.__doc__.replace("@VARIANTS@", ", ".join(OPTIMIZE_VARIANTS))  # the registry's names
