"""`edgecnn verify FILE ...`: any image-classification `.tflite` or `.onnx`, not only edgecnn's own.

Input shape, layout, dtype and quantization come from the file; the pre-processing from its edgecnn
metadata when it has some, else from `--normalization`. Labelled test images come from `--data`
(a built-in source or a recipe's `data:` section, resized to the file's input), or, without data,
seeded synthetic images give latency only. No TensorFlow anywhere on this path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgecnn.errors import VerificationError


def verify_files(paths: list[Path], data: str | None, normalization: str | None, seed: int,
                 overrides: list[str], out_dir: Path, show_progress: bool = True) -> dict:
    from edgecnn.console import console
    from edgecnn.data import load_dataset
    from edgecnn.data.contract import InputContract
    from edgecnn.export.metadata import read_metadata
    from edgecnn.report import build_report, write_report
    from edgecnn.verify import verify_artifact
    from edgecnn.verify.runtimes import open_runner

    paths = [Path(p) for p in paths]
    for path in paths:
        if path.suffix not in (".tflite", ".onnx", ".ort"):
            raise VerificationError(f"{path}: expected a .tflite, .onnx or .ort file (or one run folder)")
    probe = open_runner(paths[0])
    shape = probe.input_shape
    if len(shape) != 3 or shape[-1] not in (1, 3):
        raise VerificationError(f"{paths[0]}: input shape {list(shape)} is not an NHWC image with 1 or 3 channels")
    metadata = read_metadata(paths[0]) or {}
    normalization = {"normalization": normalization} if normalization else _metadata_normalization(metadata)
    recipe = _file_recipe(paths, data, shape, normalization, seed, overrides)
    if data:
        dataset = load_dataset(recipe.data, recipe.seed)
        images, labels, contract, summary = dataset.x_test, dataset.y_test, dataset.contract, dataset.summary()
    else:  # latency only: seeded images in the file's value range stand in for real ones
        labels_list = metadata.get("labels") or [str(i) for i in range(2)]
        contract = InputContract.from_config(recipe.data, labels_list)
        images = np.random.default_rng(seed).integers(0, 256, size=(64, *shape), dtype=np.uint8)
        labels, summary = None, {"test": 0, "images": "64 synthetic (latency only)", "image_shape": list(shape)}
    if labels is not None:
        for path in paths:
            outputs = open_runner(path).output_size
            if outputs != len(contract.labels):
                raise VerificationError(f"{path}: {outputs} outputs, but --data {data} has {len(contract.labels)} "
                                        "classes; pass the data the model was trained on")
    results = []
    for path, name in zip(paths, artifact_names(paths)):
        if show_progress:
            console().print(f"verify {name:<15} {path}")
        file_metadata = read_metadata(path) or {}
        results.append(verify_artifact(
            path, name, path.suffix[1:], file_metadata.get("precision") or _precision(path),
            images, labels, contract, None, recipe.verify,
        ))
    report = build_report(recipe, summary, results)
    report["mode"] = "files"
    write_report(report, out_dir)
    return report


def _file_recipe(paths, data, shape, normalization, seed, overrides):
    """A recipe holding the data and verify settings, so file mode reports like a run folder. The file's
    own input shape and pre-processing replace the data section's."""
    from edgecnn.recipe import data_recipe

    names = artifact_names(paths)
    file_input = {"image_size": list(shape[:2]), "channels": shape[2], "mean": None, "std": None, **normalization}
    recipe = data_recipe(data or "digits", seed, overrides, data=file_input, extra={"verify": {"gate": names}})
    recipe.verify.gate = names
    return recipe


def artifact_names(paths: list[Path]) -> list[str]:
    """Report names: file stems, numbered when two files share one."""
    names: list[str] = []
    for path in paths:
        name, n = path.stem, 2
        while name in names:
            name, n = f"{path.stem}_{n}", n + 1
        names.append(name)
    return names


def _metadata_normalization(metadata: dict) -> dict:
    """The file's recorded pre-processing as data-section keys; [0, 1] for files without any."""
    contract = metadata.get("input") or {}
    scheme = contract.get("normalization") or "unit"
    keys = {"normalization": scheme}
    if scheme == "mean_std":
        keys.update({name: list(np.atleast_1d(contract[name])) for name in ("mean", "std")})
    if contract.get("resize"):
        keys["resize"] = contract["resize"]
    return keys


def _precision(path: Path) -> str:
    from edgecnn.verify.weights import read_kernels

    kernels = read_kernels(path)
    if kernels and all(np.issubdtype(k.values.dtype, np.integer) for k in kernels):
        return "int8"
    return "float16" if kernels and kernels[0].values.dtype == np.float16 else "float32"
