"""What the build's stages share over a run folder: the data warnings, one file's verification on the run's test
split, the float file's anatomy, and which rows a run verifies (`incremental.build` runs the stages)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from edgecnn.anatomy import describe_model, draw_pictures
from edgecnn.anatomy.pictures import enlarged, save_png
from edgecnn.artifacts import Artifact
from edgecnn.console import console
from edgecnn.data import Dataset
from edgecnn.data.images import array_image
from edgecnn.recipe import Recipe, VerifyConfig
from edgecnn.run import TEST_IMAGE_PNG, RunFolder
from edgecnn.verify import ArtifactResult, verify_artifact


KERAS_ROW = "keras_float32"  # the float model's own verification row


def default_run_dir(recipe: Recipe) -> Path:
    return Path("runs") / recipe.name


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


def verify_in_run(artifact: Artifact, name: str, precision: str, dataset: Dataset, reference, settings: VerifyConfig,
                  show_progress: bool = True, mcu_folder: Path | None = None) -> ArtifactResult:
    """One file (or the Keras model) of a run folder on the run's test split."""
    if show_progress:
        console().print(f"verify {name:<15} {artifact.path}")
    # Each file is fed as its own contract says: exported files take 0..255 pixels (RGB for grayscale models).
    contract = dataset.contract if artifact.kind == "keras" else artifact.recorded_contract or dataset.contract
    return verify_artifact(artifact, name, name, dataset.x_test, dataset.y_test, contract, reference, settings,
                           precision, mcu_folder)


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
