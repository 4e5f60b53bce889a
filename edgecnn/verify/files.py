"""`edgecnn verify FILE ...`: any image-classification `.tflite` or `.onnx`, not only edgecnn's own.

Input shape, layout, dtype and quantization come from the file; the pre-processing from its edgecnn
metadata when it has some, else from `--normalization`. Labelled test images come from `--data`
(a built-in source or a recipe's `data:` section, resized to the file's input), or, without data,
seeded synthetic images of the file's own input size give latency only: then the report names no
data source, recipe or model it does not know. No TensorFlow anywhere on this path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgecnn.artifacts import Artifact, open_artifact
from edgecnn.console import console
from edgecnn.data import load_dataset
from edgecnn.data.contract import InputContract
from edgecnn.errors import RecipeError, VerificationError
from edgecnn.recipe import DataConfig, OptimizeConfig, Override, VerifyConfig, data_recipe, verify_settings
from edgecnn.verify import verify_artifact
from edgecnn.verify.app import add_app_results, app_frames_for
from edgecnn.verify.judge import assemble_report
from edgecnn.verify.record import BuildReport, DataSummary, RecipeRecord

EXPORTED_SUFFIXES = (".tflite", ".onnx", ".ort")
_SYNTHETIC_BYTES = 50_000_000  # at most this much uint8 stand-in imagery, however large the input


@dataclass
class TestImages:
    """What verified files are fed: labelled test images, or (images None) synthetic ones per file."""

    images: np.ndarray | None
    labels: np.ndarray | None
    class_names: list[str] | None
    summary: DataSummary
    normalization: str | None = None  # --normalization, for files that record none
    seed: int = 0
    dataset: object = None  # the loaded --data (for the app's view of its source images)
    data_config: object = None

    def app_frames(self, settings: VerifyConfig):
        return app_frames_for(settings, self.data_config, self.dataset, self.seed)

    @classmethod
    def of(cls, dataset, normalization: str | None = None, seed: int = 0,
           data_config: DataConfig | None = None) -> TestImages:
        """A loaded data set's test split."""
        return cls(dataset.x_test, dataset.y_test, list(dataset.class_names), DataSummary.from_dict(dataset.summary()),
                   normalization, seed,
                   dataset if data_config is not None else None, data_config)

    def feed(self, artifact: Artifact) -> tuple[np.ndarray, InputContract]:
        """uint8 images of the file's input size, and the contract that turns them into its input."""
        contract = artifact.contract(self.normalization, self.class_names)
        if self.images is not None:
            return self.images, contract
        count = max(1, min(64, _SYNTHETIC_BYTES // int(np.prod(contract.shape))))
        return np.random.default_rng(self.seed).integers(0, 256, size=(count, *contract.shape), dtype=np.uint8), contract


def verify_files(paths: list[Path], data: str | None, normalization: str | None, seed: int,
                 overrides: list[Override], show_progress: bool = True,
                 mcu_folder: Path | None = None) -> tuple[BuildReport, TestImages]:
    """Verify files in their runtimes: the report (not yet written; it gates every file) and the images they
    were fed (for comparing older files on the same ones). Vela writes its per-layer CSVs into `mcu_folder`."""
    artifacts = open_files(paths)
    test, record, settings = files_test_images(artifacts, data, normalization, seed, overrides)
    return verify_with(artifacts, test, record, settings, show_progress, mcu_folder), test


def verify_with(artifacts: list[Artifact], test: TestImages, record: RecipeRecord, settings: VerifyConfig,
                show_progress: bool = True, mcu_folder: Path | None = None) -> BuildReport:
    """Verify opened files on `test` (what `files_test_images` gives), for callers that reuse the images."""
    names = artifact_names([artifact.path for artifact in artifacts])
    results = []
    for artifact, name in zip(artifacts, names):
        if show_progress:
            console().print(f"verify {name:<15} {artifact.path}")
        images, contract = test.feed(artifact)
        results.append(verify_artifact(artifact, name, artifact.kind, images, test.labels, contract, None, settings,
                                       mcu_folder=mcu_folder))
    add_app_results(zip(artifacts, results), test.app_frames(settings))
    report = assemble_report(record, None, settings, OptimizeConfig().objective, names, test.summary, results)
    report.mode = "files"
    return report


def open_files(paths: list[Path]) -> list[Artifact]:
    """The exported files to verify, each checked and opened (nothing read yet)."""
    for path in map(Path, paths):
        if path.suffix not in EXPORTED_SUFFIXES:
            raise VerificationError(f"{path}: expected a .tflite, .onnx or .ort file (or one run folder)")
    return [open_artifact(path) for path in paths]


def files_test_images(artifacts: list[Artifact], data, normalization, seed, overrides):
    """(TestImages, the report's recipe record, verify settings): from --data, or synthetic without it."""
    probe = artifacts[0].runner()
    if len(probe.input_shape) != 3 or probe.input_shape[-1] not in (1, 3):
        raise VerificationError(f"{artifacts[0].path}: input shape {list(probe.input_shape)} is not an image with 1 "
                                "or 3 channels (NHWC or NCHW)")
    if not data:
        settings = verify_settings(overrides)
        unmeasurable = [key for key in ("min_accuracy", "min_agreement") if getattr(settings.budgets, key) is not None]
        if unmeasurable:
            raise RecipeError(f"verify.budgets.{unmeasurable[0]}: accuracy budgets need labelled images; add --data")
        summary = DataSummary(source=None, test=0, images="synthetic images, latency only",
                              image_shape=list(probe.input_shape))
        record = RecipeRecord(name="files", verify=settings.model_dump(mode="json"))
        return TestImages(None, None, None, summary, normalization, seed), record, settings
    recipe = _data_recipe(artifacts[0], data, normalization, seed, overrides)

    dataset = load_dataset(recipe.data, recipe.seed)
    for artifact in artifacts:
        outputs = artifact.runner().output_size
        if outputs != len(dataset.class_names):
            raise VerificationError(f"{artifact.path}: {outputs} outputs, but --data {data} has "
                                    f"{len(dataset.class_names)} classes; pass the data the model was trained on")
    record = RecipeRecord(name="files", seed=recipe.seed, data=recipe.data.model_dump(mode="json"),
                          verify=recipe.verify.model_dump(mode="json"))
    return TestImages.of(dataset, normalization, seed, recipe.data), record, recipe.verify


def _data_recipe(artifact: Artifact, data: str, normalization: str | None, seed: int, overrides: list[Override]):
    """The --data section loaded at the file's input size and channels (pixels only: each file is fed
    through its own contract), with the file's resize policy when it records one."""
    height, width, channels = artifact.runner().input_shape
    recorded = artifact.metadata.get("input") or {}
    section = {"image_size": [height, width], "channels": channels, "normalization": normalization or "unit",
               "mean": None, "std": None, **({"resize": recorded["resize"]} if recorded.get("resize") else {})}
    return data_recipe(data, seed, overrides, data=section)


def artifact_names(paths: list[Path]) -> list[str]:
    """Report names: file stems, numbered when two files share one."""
    names: list[str] = []
    for path in paths:
        name, n = path.stem, 2
        while name in names:
            name, n = f"{path.stem}_{n}", n + 1
        names.append(name)
    return names
