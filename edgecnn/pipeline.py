"""The stages a build runs, each callable on its own over a run folder (`edgecnn.run` holds its layout)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from edgecnn.anatomy import describe_model, draw_pictures
from edgecnn.anatomy.pictures import enlarged, save_png
from edgecnn.artifacts import Artifact, open_artifact
from edgecnn.console import console
from edgecnn.data import Dataset, load_dataset
from edgecnn.data.images import array_image
from edgecnn.errors import RecipeError, VerificationError
from edgecnn.export import export_all
from edgecnn.formats import ALL_ARTIFACTS
from edgecnn.optimize import optimize_all
from edgecnn.recipe import Recipe, VerifyConfig
from edgecnn.run import TEST_IMAGE_PNG, RunFolder
from edgecnn.runlock import prepare_folder
from edgecnn.train import train_model
from edgecnn.verify import ArtifactResult, verify_artifact
from edgecnn.verify.app import add_app_results, app_frames_for
from edgecnn.verify.judge import build_report


KERAS_ROW = "keras_float32"  # the float model's own verification row


def default_run_dir(recipe: Recipe) -> Path:
    return Path("runs") / recipe.name


def train_stage(recipe: Recipe, out_dir: Path, dataset: Dataset | None = None, show_progress: bool = True):
    prepare_folder(out_dir)
    dataset = dataset or load_dataset(recipe.data, recipe.seed)
    run = RunFolder(out_dir)
    run.save_recipe(recipe)
    run.save_splits(dataset)
    if show_progress:
        for warning in data_warnings(recipe, dataset):
            console().print(f"[yellow]warning:[/] {warning}")
    result = train_model(recipe, dataset, out_dir, show_progress=show_progress)
    return dataset, result


def data_warnings(recipe: Recipe, dataset: Dataset) -> list[str]:
    warnings = []
    if dataset.skipped:
        first = dataset.skipped[0]
        warnings.append(f"skipped {len(dataset.skipped)} bad files (listed in report.md), e.g. {first['path']}: "
                        f"{first['problem']}")
    augment = recipe.train.augment
    if recipe.data.source in ("digits", "mnist") and (augment.flip_horizontal or augment.flip_vertical):
        warnings.append("train.augment flips digits: a mirrored 2, 3, 4, 5, 7 or 9 is no longer that digit")
    return warnings


def export_stage(recipe: Recipe, out_dir: Path, model=None, dataset: Dataset | None = None, show_progress=True):
    dataset = dataset or load_dataset(recipe.data, recipe.seed)
    model = model or RunFolder(out_dir).load_model()
    return export_all(model, recipe, dataset, out_dir, show_progress=show_progress)


def optimize_stage(recipe: Recipe, out_dir: Path, model=None, dataset: Dataset | None = None, show_progress=True):
    """Make every variant in `optimize.variants` from the trained model in `out_dir`."""
    if not recipe.optimize.variants:
        raise RecipeError(f"{out_dir}: the recipe lists no optimize.variants; add some, e.g. "
                          "--set optimize.variants=[ptq_int8,qat_int8]")
    dataset = dataset or load_dataset(recipe.data, recipe.seed)
    model = model or RunFolder(out_dir).load_model()
    return optimize_all(model, recipe, dataset, out_dir, show_progress=show_progress)


def verify_stage(recipe: Recipe, out_dir: Path, dataset: Dataset | None = None, timings: dict | None = None,
                 show_progress: bool = True, anatomy: bool = True) -> dict:
    """Verify the Keras model (if TensorFlow is installed) and every exported file; the report is returned,
    for the caller to write where it belongs (a build's run folder, or a verify's own folder)."""
    run = RunFolder(out_dir)
    dataset = dataset or load_dataset(recipe.data, recipe.seed)
    reference = run.load_reference(dataset.test_fingerprint())
    opened = {name: (open_artifact(path), precision)  # every file present before any work
              for name, path, precision in _artifacts_to_verify(recipe, run)}
    if not opened:
        raise VerificationError(f"{run.root}: nothing to verify; run `edgecnn export {run.root}` first")
    results = [verify_in_run(artifact, name, precision, dataset, reference, recipe.verify, show_progress)
               for name, (artifact, precision) in opened.items()]
    frames = app_frames_for(recipe.verify, recipe.data, dataset, recipe.seed)
    add_app_results(zip((artifact for artifact, _ in opened.values()), results), frames)
    float_accuracy = None if reference is None else float((reference.argmax(1) == dataset.y_test).mean())
    report = build_report(recipe, dataset.summary(), results, timings, float_accuracy)
    float_file = opened.get("tflite_float32", (None,))[0]
    report["anatomy"] = run_anatomy(run, dataset, float_file) if anatomy and float_file else None
    return report


def verify_in_run(artifact: Artifact, name: str, precision: str, dataset: Dataset, reference, settings: VerifyConfig,
                  show_progress: bool = True) -> ArtifactResult:
    """One file (or the Keras model) of a run folder on the run's test split."""
    if show_progress:
        console().print(f"verify {name:<15} {artifact.path}")
    # Each file is fed as its own contract says: exported files take 0..255 pixels (RGB for grayscale models).
    contract = dataset.contract if artifact.kind == "keras" else artifact.recorded_contract or dataset.contract
    return verify_artifact(artifact, name, name, dataset.x_test, dataset.y_test, contract, reference, settings,
                           precision)


def run_anatomy(run: RunFolder, dataset: Dataset, artifact: Artifact) -> dict:
    """Per-layer cost, memory and pictures of the float TFLite file, for the report."""
    record = describe_model(artifact)
    folder = run.inspect_dir
    sample = save_png(enlarged(array_image(dataset.x_test[0])), folder / TEST_IMAGE_PNG)
    record["pictures"] = draw_pictures(artifact, folder, dataset.x_test[0], None, dataset.x_test, dataset.y_test)
    record["pictures"]["test_image"] = str(sample)
    if run.curves_path.is_file():
        record["pictures"]["training_curves"] = str(run.curves_path)
    return record


def verified_names(recipe: Recipe) -> list[str]:
    """The rows a run verifies: the Keras model (when TensorFlow is installed), then every file."""
    keras = [KERAS_ROW] if importlib.util.find_spec("tensorflow") is not None else []
    return [*keras, *recipe.export.formats, *recipe.optimize.variants]


def _artifacts_to_verify(recipe: Recipe, run: RunFolder):
    for name in verified_names(recipe):
        if name == KERAS_ROW:
            if run.model_path.is_file():
                yield name, run.model_path, "float32"
            continue
        fmt = ALL_ARTIFACTS[name]
        path = run.artifact(fmt.filename)
        if not path.is_file():
            stage = "optimize" if fmt.is_variant else "export"
            raise VerificationError(f"{path}: missing; run `edgecnn {stage} {run.root}` to write it")
        yield name, path, fmt.precision


