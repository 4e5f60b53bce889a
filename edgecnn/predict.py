"""`edgecnn predict`: run a model file on image files with the pre-processing recorded in it, so an app
developer can compare the app's output with the file's. No TensorFlow for `.tflite` and `.onnx`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgecnn.data.contract import NORMALIZATIONS, InputContract, normalize
from edgecnn.data.images import BadImage, ImageFormat, is_image_name, load_image
from edgecnn.errors import DataError, VerificationError
from edgecnn.fileio import read_user_text


def model_contract(model_path: Path, runner, normalization: str | None = None,
                   labels_file: Path | None = None) -> InputContract:
    """The input contract of a model file: its edgecnn metadata, else its run folder's recipe (for
    `.keras`), else its input shape with `normalization` (default unit) and numbered or given labels."""
    from edgecnn.export.metadata import contract_of

    recorded = contract_of(model_path) if model_path.suffix != ".keras" else None
    if recorded is not None:
        contract = recorded
    elif (model_path.parent / "recipe.yaml").is_file() and model_path.suffix == ".keras":
        from edgecnn.recipe import load_recipe

        recipe = load_recipe(model_path.parent / "recipe.yaml")
        labels = (model_path.parent / "labels.txt")
        names = labels.read_text().split("\n")[:-1] if labels.is_file() else []
        contract = InputContract.from_config(recipe.data, names)
    else:
        height, width, channels = runner.input_shape
        mean, std = NORMALIZATIONS[normalization or "unit"]
        contract = InputContract(height, width, channels, normalization or "unit", mean, std,
                                 color="grayscale" if channels == 1 else "rgb")
    if normalization and recorded is not None and normalization != contract.normalization:
        raise VerificationError(f"--normalization {normalization}: {model_path} records {contract.normalization}; "
                                "drop the option to use the file's own")
    if labels_file is not None:
        text = read_user_text(labels_file, "labels file", DataError, limit=4_000_000)
        contract.labels = [line for line in text.splitlines() if line.strip()]
    if not contract.labels:
        contract.labels = [str(i) for i in range(runner.output_size)]
    if len(contract.labels) != runner.output_size:
        raise VerificationError(f"{model_path}: {runner.output_size} outputs but {len(contract.labels)} labels")
    return contract


def image_paths(targets: list[Path]) -> list[Path]:
    """Files as given; folders expanded to the images inside them, sorted."""
    paths: list[Path] = []
    for target in targets:
        if target.is_dir():
            found = sorted(p for p in target.rglob("*") if p.is_file() and is_image_name(p))
            if not found:
                raise DataError(f"{target}: no images (PNG, JPEG, BMP, GIF) in this folder")
            paths += found
        else:
            paths.append(target)
    return paths


def predict_files(model_path: Path, targets: list[Path], top_k: int = 3, normalization: str | None = None,
                  labels_file: Path | None = None) -> list[dict]:
    """Top-k labels and scores for every image, in the order given."""
    from edgecnn.verify.runtimes import open_runner

    runner = open_runner(model_path)
    contract = model_contract(Path(model_path), runner, normalization, labels_file)
    fmt = ImageFormat((contract.height, contract.width), contract.channels, contract.resize)
    paths = image_paths(targets)
    pixels = np.empty((len(paths), *fmt.size, fmt.channels), dtype=np.uint8)
    for i, path in enumerate(paths):
        try:
            pixels[i] = load_image(path, fmt)
        except BadImage as exc:
            raise DataError(f"{path}: {exc}") from None
    probabilities = np.concatenate([runner.predict(normalize(pixels[i : i + 256], contract))
                                    for i in range(0, len(paths), 256)])
    results = []
    for path, scores in zip(paths, probabilities):
        order = np.argsort(-scores, kind="stable")[:top_k]
        results.append({"image": str(path), "predictions": [
            {"label": contract.labels[j], "index": int(j), "score": round(float(scores[j]), 6)} for j in order]})
    return results
