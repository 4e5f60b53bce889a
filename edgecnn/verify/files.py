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

from edgecnn.data.contract import NORMALIZATIONS, InputContract
from edgecnn.errors import VerificationError
from edgecnn.export.metadata import contract_of, read_metadata
from edgecnn.verify.runtimes import open_runner

MODEL_SUFFIXES = (".tflite", ".onnx", ".ort")
_SYNTHETIC_BYTES = 50_000_000  # at most this much uint8 stand-in imagery, however large the input


@dataclass
class TestImages:
    """What verified files are fed: labelled test images, or (images None) synthetic ones per file."""

    images: np.ndarray | None
    labels: np.ndarray | None
    class_names: list[str] | None
    summary: dict
    normalization: str | None = None  # --normalization, for files that record none
    seed: int = 0

    def feed(self, path: Path, runner) -> tuple[np.ndarray, InputContract]:
        """uint8 images of the file's input size, and the contract that turns them into its input."""
        contract = file_contract(path, runner, self.normalization, self.class_names)
        if self.images is not None:
            return self.images, contract
        count = max(1, min(64, _SYNTHETIC_BYTES // int(np.prod(contract.shape))))
        return np.random.default_rng(self.seed).integers(0, 256, size=(count, *contract.shape), dtype=np.uint8), contract


def file_contract(path: Path, runner, normalization: str | None, class_names: list[str] | None) -> InputContract:
    """The file's recorded contract; else its input shape with `--normalization` (unit when not given)."""
    recorded = contract_of(path)
    if recorded is not None and normalization is None:
        return recorded
    height, width, channels = runner.input_shape
    scheme = normalization or "unit"
    mean, std = NORMALIZATIONS[scheme]
    labels = class_names or (recorded.labels if recorded else [str(i) for i in range(runner.output_size)])
    return InputContract(height, width, channels, scheme, mean, std, list(labels), color="rgb" if channels == 3 else
                         "grayscale", layout=getattr(runner, "layout", "NHWC"))


def verify_files(paths: list[Path], data: str | None, normalization: str | None, seed: int,
                 overrides: list[str], show_progress: bool = True) -> dict:
    """Verify files in their runtimes; the report (not yet written) gates every file."""
    paths = check_model_paths(paths)
    return verify_with(paths, *files_test_images(paths, data, normalization, seed, overrides), show_progress)


def verify_with(paths: list[Path], test: TestImages, record: dict, settings, show_progress: bool = True) -> dict:
    """Verify checked files on `test` (what `files_test_images` gives), for callers that reuse the images."""
    from edgecnn.console import console
    from edgecnn.recipe import OptimizeConfig
    from edgecnn.report import assemble_report
    from edgecnn.verify import verify_artifact

    names = artifact_names(paths)
    results = []
    for path, name in zip(paths, names):
        if show_progress:
            console().print(f"verify {name:<15} {path}")
        images, contract = test.feed(path, open_runner(path))
        results.append(verify_artifact(path, name, path.suffix[1:], (read_metadata(path) or {}).get("precision")
                                       or _precision(path), images, test.labels, contract, None, settings))
    report = assemble_report(record, None, settings, OptimizeConfig().objective, names, test.summary, results)
    report["mode"] = "files"
    return report


def check_model_paths(paths: list[Path]) -> list[Path]:
    paths = [Path(p) for p in paths]
    for path in paths:
        if path.suffix not in MODEL_SUFFIXES:
            raise VerificationError(f"{path}: expected a .tflite, .onnx or .ort file (or one run folder)")
    return paths


def files_test_images(paths, data, normalization, seed, overrides):
    """(TestImages, the report's recipe record, verify settings): from --data, or synthetic without it."""
    from edgecnn.recipe import verify_settings

    probe = open_runner(paths[0])
    if len(probe.input_shape) != 3 or probe.input_shape[-1] not in (1, 3):
        raise VerificationError(f"{paths[0]}: input shape {list(probe.input_shape)} is not an image with 1 or 3 "
                                "channels (NHWC or NCHW)")
    if not data:
        settings = verify_settings(overrides)
        summary = {"source": None, "test": 0, "images": "synthetic images, latency only",
                   "image_shape": list(probe.input_shape)}
        record = {"name": "files", "verify": settings.model_dump(mode="json")}
        return TestImages(None, None, None, summary, normalization, seed), record, settings
    recipe = _data_recipe(paths[0], probe, data, normalization, seed, overrides)
    from edgecnn.data import load_dataset

    dataset = load_dataset(recipe.data, recipe.seed)
    for path in paths:
        outputs = open_runner(path).output_size
        if outputs != len(dataset.class_names):
            raise VerificationError(f"{path}: {outputs} outputs, but --data {data} has {len(dataset.class_names)} "
                                    "classes; pass the data the model was trained on")
    record = {"name": "files", "seed": recipe.seed, "data": recipe.to_dict()["data"],
              "verify": recipe.verify.model_dump(mode="json")}
    test = TestImages(dataset.x_test, dataset.y_test, list(dataset.class_names), dataset.summary(), normalization, seed)
    return test, record, recipe.verify


def _data_recipe(path: Path, runner, data: str, normalization: str | None, seed: int, overrides: list[str]):
    """The --data section loaded at the file's input size and channels (pixels only: each file is fed
    through its own contract), with the file's resize policy when it records one."""
    from edgecnn.recipe import data_recipe

    height, width, channels = runner.input_shape
    recorded = (read_metadata(path) or {}).get("input") or {}
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


def _precision(path: Path) -> str:
    from edgecnn.verify.weights import read_kernels

    kernels = read_kernels(path)
    if kernels and all(np.issubdtype(k.values.dtype, np.integer) for k in kernels):
        return "int8"
    return "float16" if kernels and kernels[0].values.dtype == np.float16 else "float32"
