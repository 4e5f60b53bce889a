"""`edgecnn build`: every stage of a recipe, from data to a verified report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from edgecnn_cli._common import (
    CameraScaleOption, DataSourceOption, JsonOption, OutOption, OverridesOption, QuietOption, RecipeArgument, SkipBadOption,
    camera_overrides, data_overrides, data_source_overrides, print_json, user_errors,
)

ForceOption = Annotated[Optional[list[str]], typer.Option(
    "--force", metavar="[STAGE]", help="Redo stages even if nothing they read changed: alone, every stage; with a "
    "stage (data, train, export, optimize, verify, inspect, report) or STAGE:ARTIFACT (optimize:qat_int8), that "
    "one (repeatable). Downstream stages follow only if its files come out different.")]
CacheOption = Annotated[Optional[Path], typer.Option(
    "--cache", metavar="DIR", help="A cache shared by run folders (also EDGECNN_CACHE): a stage keyed as one "
    "already cached is copied from it instead of recomputed; size-bounded (EDGECNN_CACHE_SIZE, default 2GB). "
    "See `edgecnn cache list`.")]
HandoffOption = Annotated[bool, typer.Option("--handoff", help="Also write the app developer's bundle into "
                                             "RUN_DIR/handoff (as `edgecnn handoff` does) when the budgets are met.")]


def build(recipe: RecipeArgument, out: OutOption = None, overrides: OverridesOption = None,
          as_json: JsonOption = False, quiet: QuietOption = False,
          skip_bad_files: SkipBadOption = False, data: DataSourceOption = None, handoff: HandoffOption = False,
          force: ForceOption = None, cache: CacheOption = None, camera_scale: CameraScaleOption = None):
    """Train, export (TFLite float32/int8, ONNX), make the optimized variants, and verify every artifact
    in its runtime; the report names the best variant under the budgets.

    Building into a run folder again redoes only what changed: each stage whose inputs (the recipe keys it
    reads, the data, the stages before it, library versions) are unchanged and whose files are intact is
    reused, and each line says why a stage ran.

    Example: edgecnn build recipes/digits.yaml --set train.epochs=5 --out runs/quick
    """
    with user_errors():
        from edgecnn import api
        from edgecnn.report import print_report
        from edgecnn.verify.judge import enforce_gate

        built = api.build(recipe, out, data_source_overrides(data) + data_overrides(overrides, skip_bad_files)
                          + camera_overrides(camera_scale),
                          show_progress=not quiet, force=force, cache=cache, handoff=handoff)
        if not quiet:
            print_report(built.report)
            typer.echo(f"report: {built.folder / 'report.json'}  ({built.report.timings_s.total:.1f} s)", err=True)
        if as_json:
            print_json(built.report.to_dict())
        enforce_gate(built.report)  # a missed budget: exit 1, and no bundle was written
        if built.handoff is not None:
            typer.echo(f"handoff: {built.handoff.folder} (phone SDKs: {built.handoff.phone.filename})", err=True)
