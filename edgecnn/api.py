"""edgecnn as a Python library: every command of the CLI as a plain function (a notebook's entry point).
The CLI is a thin layer over these; they print nothing but progress (`show_progress=False` silences it)
and raise `EdgeCNNError` subclasses on bad input (`BudgetExceeded` only from `enforce_gate`).

    from edgecnn import api

    built = api.build("recipes/digits.yaml", overrides=["train.epochs=3"], out="runs/quick")
    verified = api.verify(["runs/quick/model_int8.tflite"], data="digits", overrides=["verify.budgets.min_accuracy=0.97"])
    api.enforce_gate(verified.report)           # raises BudgetExceeded when a gated budget is missed
    api.predict("runs/quick/model_int8.tflite", ["photo.png"], top_k=3)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edgecnn.artifacts import open_artifact
from edgecnn.data import load_dataset
from edgecnn.errors import RecipeError
from edgecnn.export import EXPORT_FORMATS, ExportedArtifact
from edgecnn.fileio import write_json
from edgecnn.incremental.build import build as build_stages
from edgecnn.incremental.cache import StageCache
from edgecnn.incremental.manifest import Manifest
from edgecnn.pipeline import default_run_dir
from edgecnn.predict import predict_files
from edgecnn.recipe import Override, data_recipe, load_recipe
from edgecnn.report import report_folder, write_report
from edgecnn.run import INSPECT_JSON, RunFolder
from edgecnn.runlock import run_lock
from edgecnn.sweep.results import SweepSummary
from edgecnn.sweep.runner import run_sweep, sweep_recipe
from edgecnn.train import TrainResult
from edgecnn.verify import MCU_DIR
from edgecnn.verify.against import add_against, compare, pair_targets
from edgecnn.verify.baseline import load_baseline
from edgecnn.verify.files import TestImages, verify_files
from edgecnn.verify.judge import add_baseline, enforce_gate, gate_passed
from edgecnn.verify.junit import write_junit
from edgecnn.verify.record import BuildReport

__all__ = ["Reported", "Swept", "build", "enforce_gate", "export", "inspect", "optimize", "predict", "sweep", "train",
           "verify"]

Normalization = Literal["unit", "symmetric"]


@dataclass
class Reported:
    report: BuildReport
    folder: Path  # where report.json, report.md, junit.xml and confusion.png were written
    handoff: object = None  # build(handoff=True): the app developer's bundle, when the budgets were met


@dataclass
class Swept:
    summary: SweepSummary  # sweep.json: the trials' rows, Pareto fronts, best trial, Ray nodes
    folder: Path  # where sweep.json, sweep.md, the Pareto PNGs and the best trial's recipe were written


def build(recipe: str | Path, out: str | Path | None = None, overrides: list[Override] | None = None,
          show_progress: bool = True, force: list[str] | None = None, cache: str | Path | None = None,
          handoff: bool = False) -> Reported:
    """Every stage of a recipe (data, train, export, optimize, verify) into `out` (default runs/NAME). A stage
    whose inputs did not change since the last build into `out` is reused; `force` redoes stages anyway
    (`all`, a stage such as `train`, or `optimize:qat_int8`); `cache` (or EDGECNN_CACHE) names a cache
    folder shared by run folders; `handoff` also writes the app developer's bundle (out/handoff) when every
    budget is met."""
    parsed = load_recipe(recipe, overrides)
    out_dir = Path(out) if out else default_run_dir(parsed)
    shared = StageCache.chosen(Path(cache) if cache else None)
    with run_lock(out_dir):
        built = Reported(build_stages(parsed, out_dir, show_progress, force, shared), out_dir)
    if handoff and gate_passed(built.report):
        from edgecnn.handoff import write_handoff  # lazy: the bundle's writers, only when asked

        built.handoff = write_handoff(out_dir, report=built.report)
    return built


def sweep(recipe: str | Path, out: str | Path | None = None, overrides: list[Override] | None = None,
          grid: list[str] | None = None, address: str | None = None, resume: bool = False,
          cache: str | Path | None = None, show_progress: bool = True) -> Swept:
    """Trials over the recipe's `sweep.space` (and `grid` items `KEY=[...]`) on Ray Tune, each an incremental
    build in `out/trials/`; the report is the sweep's summary (rows, Pareto fronts, best trial), also written
    as sweep.json, sweep.md and PNGs into `out` (default sweeps/NAME). `address` joins a Ray cluster."""
    raw, parsed = sweep_recipe(Path(recipe), overrides, grid)
    folder = Path(out) if out else Path("sweeps") / parsed.name
    shared = StageCache.chosen(Path(cache) if cache else None)
    summary = run_sweep(raw, parsed, folder, address, resume, shared.root if shared else None, show_progress)
    return Swept(summary, folder)


def train(recipe: str | Path, out: str | Path | None = None, overrides: list[Override] | None = None,
          show_progress: bool = True) -> TrainResult:
    """Train the recipe's model into `out`: model.keras, history.json, the merged recipe.yaml, splits.csv (the
    build's data and train stages; reused when nothing they read changed). The result holds no model object:
    `RunFolder(out).load_model()` loads it."""
    parsed = load_recipe(recipe, overrides)
    out_dir = Path(out) if out else default_run_dir(parsed)
    with run_lock(out_dir):
        build_stages(parsed, out_dir, show_progress, stages=("data", "train"))
    run = RunFolder(out_dir)
    record = Manifest(out_dir).record_of("train")
    return TrainResult(None, run.load_history(), run.model_path, record["seconds"], record["best_epoch"])


def export(run_dir: str | Path, overrides: list[Override] | None = None, show_progress: bool = True) -> list:
    """Export a trained run folder's model to its recipe's formats (with `overrides` saved into it): the build's
    export stages, the trained model taken as it is."""
    run = RunFolder(run_dir)
    recipe = run.load_recipe(overrides)
    with run_lock(run.root):
        build_stages(recipe, run.root, show_progress, stages=("export",))
    entries = Manifest(run.root).entries
    return [ExportedArtifact(name, run.artifact(EXPORT_FORMATS[name].filename), EXPORT_FORMATS[name],
                             entries[f"export:{name}"]["seconds"]) for name in recipe.export.formats]


def optimize(run_dir: str | Path, overrides: list[Override] | None = None, show_progress: bool = True) -> Reported:
    """Make the recipe's optimized variants of a trained run folder, verify every artifact and write the report
    (the build's optimize, verify, inspect and report stages; the exports taken as they are)."""
    run = RunFolder(run_dir)
    recipe = run.load_recipe(overrides)
    if not recipe.optimize.variants:
        raise RecipeError(f"{run.root}: the recipe lists no optimize.variants; add some, e.g. "
                          "--set optimize.variants=[ptq_int8,qat_int8]")
    with run_lock(run.root):
        report = build_stages(recipe, run.root, show_progress, stages=("optimize", "verify", "inspect", "report"))
    return Reported(report, run.root)


def verify(targets: list[str | Path], *, data: str | None = None, normalization: Normalization | None = None,
           seed: int = 0, overrides: list[Override] | None = None, out: str | Path | None = None,
           baseline: str | Path | None = None, tolerance: float = 0.1, against: list[str | Path] | None = None,
           max_slowdown: float = 0.05, ab_seconds: float = 20.0, junit: str | Path | None = None,
           show_progress: bool = True) -> Reported:
    """Verify one run folder, or any .tflite / .onnx / .ort files, in their runtimes; budgets come from the
    recipe or `overrides` (verify.budgets.KEY=VALUE). The report goes to a folder of its own, never a build's;
    `junit` also writes its budget checks as JUnit XML there."""
    if junit is not None and Path(junit).is_dir():  # before any measuring
        raise RecipeError(f"--junit {junit}: is a folder; name the XML file to write, e.g. {Path(junit) / 'junit.xml'}")
    targets = [Path(t) for t in targets]
    old = load_baseline(Path(baseline)) if baseline else None  # bad input fails before any measuring
    pairs = pair_targets(targets, [Path(a) for a in against]) if against else None
    run_mode = len(targets) == 1 and targets[0].is_dir()
    folder = report_folder(Path(out) if out else None,
                           RunFolder(targets[0]).verify_dir if run_mode else Path("verify-report"))
    if run_mode:
        report, test = _verify_run(RunFolder(targets[0]), overrides or [], show_progress, images=bool(pairs),
                                   mcu_folder=folder / MCU_DIR)
    else:
        report, test = verify_files(targets, data, normalization, seed, overrides or [], show_progress,
                                    mcu_folder=folder / MCU_DIR)
    if old is not None:
        add_baseline(report, old, tolerance)
    if pairs:  # the old files are fed the same images as the new ones
        add_against(report, compare(pairs, test, max_slowdown, ab_seconds, show_progress=show_progress))
    write_report(report, folder)
    if junit is not None:
        write_junit(report, Path(junit))
    return Reported(report, folder)


def _verify_run(run: RunFolder, overrides: list[Override], show_progress: bool,
                images: bool, mcu_folder: Path | None = None) -> tuple[BuildReport, TestImages | None]:
    """The build's verify stages over a run folder, writing nothing into it: a measurement the build made with
    the same settings on this machine is reused, any other is made again. With `images`, also the test split,
    for older files to be fed (a verify that reuses every measurement then reads no image)."""
    recipe = run.load_recipe(overrides)
    report = build_stages(recipe, run.root, show_progress, stages=("verify",), persist=False, mcu_folder=mcu_folder)
    return report, TestImages.of(load_dataset(recipe.data, recipe.seed)) if images else None


def inspect(model: str | Path, out: str | Path | None = None, image: str | Path | None = None,
            layers: list[str] | None = None, data: str | None = None, strongest: str | None = None) -> dict:
    """Per-layer cost, totals, separable savings and memory of a model file; with `image` or `data` (or a run
    folder around the model), PNG grids of kernels, feature maps and strongest test images into `out`."""
    from edgecnn.anatomy import describe_model, draw_pictures  # lazy: Pillow and the pictures, only to inspect

    artifact = open_artifact(model)
    record = describe_model(artifact)
    folder = Path(out) if out else RunFolder(artifact.path.parent).inspect_dir
    if image is not None or data is not None:
        test_images, test_labels = _inspect_images(artifact, data)
        record["pictures"] = draw_pictures(artifact, folder, image, layers, test_images, test_labels, strongest)
    write_json(folder / INSPECT_JSON, record)
    return record


def _inspect_images(artifact, data: str | None):
    """Test images from `data`, or from the run folder the model sits in; (None, None) without either."""
    run = RunFolder(artifact.path.parent)
    if data is None and not run.is_run():
        return None, None
    if data is None:
        recipe = run.load_recipe()
    else:
        contract = artifact.contract()
        recipe = data_recipe(data, 0, data={"image_size": [contract.height, contract.width],
                                            "channels": contract.channels})
    dataset = load_dataset(recipe.data, recipe.seed)
    return dataset.x_test, dataset.y_test


def predict(model: str | Path, images: list[str | Path], top_k: int = 3, normalization: Normalization | None = None,
            labels: str | Path | None = None) -> list[dict]:
    """Top-k labels and scores of `model` for every image (files, or folders of them), in the order given."""
    return predict_files(Path(model), [Path(i) for i in images], top_k, normalization,
                         Path(labels) if labels else None)
