"""`edgecnn train`, `export` and `optimize`: one stage at a time over a run folder."""

from __future__ import annotations

import typer

from edgecnn.formats import OPTIMIZE_VARIANTS
from edgecnn_cli._common import (
    DataSourceOption, JsonOption, OutOption, OverridesOption, QuietOption, RecipeArgument, RunDirArgument,
    SkipBadOption, data_overrides, data_source_overrides, print_json, user_errors,
)


def train(recipe: RecipeArgument, out: OutOption = None, overrides: OverridesOption = None,
          as_json: JsonOption = False, quiet: QuietOption = False,
          skip_bad_files: SkipBadOption = False, data: DataSourceOption = None):
    """Train the recipe's model; writes model.keras, history.json and the merged recipe.yaml.

    Example: edgecnn train recipes/shapes.yaml --set train.epochs=10
    """
    with user_errors():
        from edgecnn import api

        result = api.train(recipe, out, data_source_overrides(data) + data_overrides(overrides, skip_bad_files),
                           show_progress=not quiet)
        typer.echo(f"trained {result.model_path} in {result.seconds:.1f} s (best epoch {result.best_epoch})", err=True)
        if as_json:
            print_json({"model": str(result.model_path), "best_epoch": result.best_epoch,
                        "seconds": round(result.seconds, 2),
                        "val_accuracy": max(result.history.get("val_accuracy", [0.0]))})


def export(run_dir: RunDirArgument, overrides: OverridesOption = None, as_json: JsonOption = False,
           quiet: QuietOption = False, skip_bad_files: SkipBadOption = False):
    """Export a trained run folder's model.keras to the recipe's formats.

    Example: edgecnn export runs/digits --set "export.formats=\\[tflite_int8]"
    """
    with user_errors():
        from edgecnn import api

        artifacts = api.export(run_dir, data_overrides(overrides, skip_bad_files), show_progress=not quiet)
        if as_json:
            print_json([{"name": a.name, "path": str(a.path), "seconds": round(a.seconds, 2)} for a in artifacts])


def optimize(run_dir: RunDirArgument, overrides: OverridesOption = None, as_json: JsonOption = False,
             quiet: QuietOption = False, skip_bad_files: SkipBadOption = False):
    """Make the recipe's optimized variants (quantized, pruned, clustered) of a trained run folder's model,
    export them under optimized/, then verify every artifact and write the comparison report.

    Variants: @VARIANTS@.

    Example: edgecnn optimize runs/shapes --set "optimize.variants=\\[ptq_int8,qat_int8]"
    """
    with user_errors():
        from edgecnn import api
        from edgecnn.report import print_report
        from edgecnn.verify.judge import enforce_gate

        report = api.optimize(run_dir, data_overrides(overrides, skip_bad_files), show_progress=not quiet).report
        if not quiet:
            print_report(report)
        if as_json:
            print_json(report.to_dict())
        enforce_gate(report)


optimize.__doc__ = optimize.__doc__.replace("@VARIANTS@", ", ".join(OPTIMIZE_VARIANTS))  # the registry's names
