"""The stages a build runs, each callable on its own over a run folder.

    runs/NAME/
      recipe.yaml      merged recipe (defaults < file < --set) with its hash
      model.keras      float model          history.json   per-epoch metrics
      reference.npz    float model's test-split outputs (agreement checks need no TensorFlow)
      model_*.tflite / model_*.onnx / labels.txt
      optimized/       optimized variants (optimize.variants): PTQ, QAT, pruned, PQAT, 2:4, CQAT, ONNX int8
      report.json / report.md
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import numpy as np

from edgecnn.console import console
from edgecnn.data import Dataset, load_dataset
from edgecnn.errors import RecipeError, VerificationError
from edgecnn.export.formats import ALL_ARTIFACTS
from edgecnn.fileio import write_text
from edgecnn.recipe import Recipe, load_recipe

RECIPE_FILE = "recipe.yaml"


def default_run_dir(recipe: Recipe) -> Path:
    return Path("runs") / recipe.name


def check_run_dir(out_dir: Path) -> Path:
    from edgecnn.runlock import prepare_folder

    return prepare_folder(out_dir)


def save_recipe(recipe: Recipe, out_dir: Path) -> Path:
    header = f"# merged recipe (defaults < file < --set), hash {recipe.fingerprint()}\n"
    return write_text(Path(out_dir) / RECIPE_FILE, header + recipe.to_yaml())


def load_run_recipe(run_dir: Path, overrides: list[str] | None = None) -> Recipe:
    """The recipe a previous stage saved in `run_dir`, with optional overrides."""
    path = Path(run_dir) / RECIPE_FILE
    if not path.is_file():
        raise RecipeError(f"{run_dir}: no {RECIPE_FILE} here; is it a folder written by `edgecnn train` or `build`?")
    return load_recipe(path, overrides)


def train_stage(recipe: Recipe, out_dir: Path, dataset: Dataset | None = None, show_progress: bool = True):
    from edgecnn.train import train_model

    check_run_dir(out_dir)
    dataset = dataset or load_dataset(recipe.data, recipe.seed)
    save_recipe(recipe, out_dir)
    dataset.write_split_list(out_dir)
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
    from edgecnn.export import export_all
    from edgecnn.train import MODEL_FILE, load_model

    dataset = dataset or load_dataset(recipe.data, recipe.seed)
    model = model or load_model(Path(out_dir) / MODEL_FILE)
    return export_all(model, recipe, dataset, out_dir, show_progress=show_progress)


def optimize_stage(recipe: Recipe, out_dir: Path, model=None, dataset: Dataset | None = None, show_progress=True):
    """Make every variant in `optimize.variants` from the trained model in `out_dir`."""
    from edgecnn.optimize import optimize_all
    from edgecnn.train import MODEL_FILE, load_model

    if not recipe.optimize.variants:
        raise RecipeError(f"{out_dir}: the recipe lists no optimize.variants; add some, e.g. "
                          "--set optimize.variants=[ptq_int8,qat_int8]")
    dataset = dataset or load_dataset(recipe.data, recipe.seed)
    model = model or load_model(Path(out_dir) / MODEL_FILE)
    return optimize_all(model, recipe, dataset, out_dir, show_progress=show_progress)


def verify_stage(recipe: Recipe, out_dir: Path, dataset: Dataset | None = None, timings: dict | None = None,
                 show_progress: bool = True, anatomy: bool = True) -> dict:
    """Verify the Keras model (if TensorFlow is installed) and every exported file; the report is returned,
    for the caller to write where it belongs (a build's run folder, or a verify's own folder)."""
    from edgecnn.export.metadata import contract_of
    from edgecnn.report import build_report
    from edgecnn.verify import verify_artifact

    out_dir = Path(out_dir)
    dataset = dataset or load_dataset(recipe.data, recipe.seed)
    reference = _load_reference(out_dir, dataset)
    results = []
    for name, path, precision in list(_artifacts_to_verify(recipe, out_dir)):  # every file present before any work
        if show_progress:
            console().print(f"verify {name:<15} {path}")
        # Each file is fed as its own contract says: exported files take 0..255 pixels (RGB for grayscale models).
        contract = contract_of(path) or dataset.contract
        results.append(verify_artifact(
            path, name, name, precision, dataset.x_test, dataset.y_test, contract, reference, recipe.verify,
        ))
    if not results:
        raise VerificationError(f"{out_dir}: nothing to verify; run `edgecnn export {out_dir}` first")
    float_accuracy = None if reference is None else float((reference.argmax(1) == dataset.y_test).mean())
    report = build_report(recipe, dataset.summary(), results, timings, float_accuracy)
    report["anatomy"] = run_anatomy(out_dir, dataset) if anatomy else None
    return report


ANATOMY_DIR = "inspect"


def run_anatomy(out_dir: Path, dataset: Dataset) -> dict | None:
    """Per-layer cost, memory and pictures of the float TFLite file, for the report."""
    from edgecnn.anatomy import describe_model, draw_pictures, read_layers
    from edgecnn.anatomy.pictures import enlarged, save_png
    from edgecnn.data.images import array_image
    from edgecnn.plots import CURVES_FILE

    model = out_dir / ALL_ARTIFACTS["tflite_float32"].filename
    if not model.is_file():
        return None
    layers = read_layers(model)
    record = describe_model(model, layers)
    folder = out_dir / ANATOMY_DIR
    sample = save_png(enlarged(array_image(dataset.x_test[0])), folder / "test_image.png")
    record["pictures"] = draw_pictures(model, folder, dataset.x_test[0], None, dataset.x_test, dataset.y_test,
                                       layers=layers)
    record["pictures"]["test_image"] = str(sample)
    if (out_dir / CURVES_FILE).is_file():
        record["pictures"]["training_curves"] = str(out_dir / CURVES_FILE)
    return record


def _artifacts_to_verify(recipe: Recipe, out_dir: Path):
    from edgecnn.train import MODEL_FILE

    keras_path = out_dir / MODEL_FILE
    if keras_path.is_file() and importlib.util.find_spec("tensorflow") is not None:
        yield "keras_float32", keras_path, "float32"
    for name in [*recipe.export.formats, *recipe.optimize.variants]:
        fmt = ALL_ARTIFACTS[name]
        path = out_dir / fmt.filename
        if not path.is_file():
            stage = "optimize" if fmt.is_variant else "export"
            raise VerificationError(f"{path}: missing; run `edgecnn {stage} {out_dir}` to write it")
        yield name, path, fmt.precision


def _load_reference(out_dir: Path, dataset: Dataset) -> np.ndarray | None:
    from edgecnn.train import REFERENCE_FILE, test_fingerprint

    path = out_dir / REFERENCE_FILE
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            fingerprint, probabilities = str(stored["test_fingerprint"]), stored["probabilities"]
    except (ValueError, OSError, KeyError) as exc:  # object arrays (pickle) are refused, never loaded
        raise VerificationError(f"{path}: not the reference outputs edgecnn writes ({exc}); retrain, or delete "
                                "it to verify without the float reference") from None
    if fingerprint != test_fingerprint(dataset):
        raise VerificationError(f"{path}: was made on a different test split than the recipe now gives; "
                                "check data/seed overrides or retrain")
    return probabilities


def build(recipe: Recipe, out_dir: Path, show_progress: bool = True) -> dict:
    """Every stage: data -> train -> export -> verify -> report."""
    out_dir = check_run_dir(out_dir)
    timings = {}
    start = time.perf_counter()
    dataset = load_dataset(recipe.data, recipe.seed)
    timings["data"] = round(time.perf_counter() - start, 2)
    mark = time.perf_counter()
    dataset, trained = train_stage(recipe, out_dir, dataset, show_progress)
    timings["train"] = round(time.perf_counter() - mark, 2)
    mark = time.perf_counter()
    export_stage(recipe, out_dir, trained.model, dataset, show_progress)
    timings["export"] = round(time.perf_counter() - mark, 2)
    if recipe.optimize.variants:
        mark = time.perf_counter()
        variants = optimize_stage(recipe, out_dir, trained.model, dataset, show_progress)
        timings["optimize"] = round(time.perf_counter() - mark, 2)
        timings["variants"] = {artifact.name: round(artifact.seconds, 2) for artifact in variants}
    mark = time.perf_counter()
    report = verify_stage(recipe, out_dir, dataset, timings, show_progress)
    timings["verify"] = round(time.perf_counter() - mark, 2)
    timings["total"] = round(time.perf_counter() - start, 2)
    from edgecnn.report import write_report

    report["timings_s"] = timings
    write_report(report, out_dir)  # once, with every stage's time
    return report
