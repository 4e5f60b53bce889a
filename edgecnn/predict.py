"""`edgecnn predict`: run a model file on image files with the pre-processing recorded in it, so an app
developer can compare the app's output with the file's. No TensorFlow for `.tflite` and `.onnx`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.table import Table

from edgecnn.artifacts import open_artifact
from edgecnn.artifacts.runners import predict_pixels
from edgecnn.console import console
from edgecnn.data.images import IMAGE_SUFFIXES, BadImage, ImageFormat, is_image_name, load_image
from edgecnn.errors import DataError
from edgecnn.fileio import read_user_text


def image_paths(targets: list[Path]) -> list[Path]:
    """Files as given; folders expanded to the images inside them, sorted. The kinds of image are those the
    handoff bundle's snippets read too (IMAGE_SUFFIXES), so an app developer can compare the two on any file."""
    paths: list[Path] = []
    kinds = ", ".join(suffix.lstrip(".").upper() for suffix in IMAGE_SUFFIXES)
    for target in targets:
        if target.is_dir():
            found = sorted(p for p in target.rglob("*") if p.is_file() and is_image_name(p))
            if not found:
                raise DataError(f"{target}: no images ({kinds}) in this folder")
            paths += found
        elif target.exists() and not is_image_name(target):
            raise DataError(f"{target}: not one of the image kinds predict and the app snippets read ({kinds}); "
                            "convert it to PNG")
        else:
            paths.append(target)
    return paths


def predict_files(model_path: Path, targets: list[Path], top_k: int = 3, normalization: str | None = None,
                  labels_file: Path | None = None) -> list[dict]:
    """Top-k labels and scores for every image, in the order given."""
    artifact = open_artifact(model_path)
    labels = None
    if labels_file is not None:
        text = read_user_text(labels_file, "labels file", DataError, limit=4_000_000)
        labels = [line for line in text.splitlines() if line.strip()]
    contract, runner = artifact.contract(normalization, labels), artifact.runner()
    fmt = ImageFormat((contract.height, contract.width), contract.channels, contract.resize)
    paths = image_paths(targets)
    pixels = np.empty((len(paths), *fmt.size, fmt.channels), dtype=np.uint8)
    for i, path in enumerate(paths):
        try:
            pixels[i] = load_image(path, fmt)
        except BadImage as exc:
            raise DataError(f"{path}: {exc}") from None
    probabilities = predict_pixels(runner, pixels, contract)
    results = []
    for path, scores in zip(paths, probabilities):
        order = np.argsort(-scores, kind="stable")[:top_k]
        results.append({"image": str(path), "predictions": [
            {"label": contract.labels[j], "index": int(j), "score": round(float(scores[j]), 6)} for j in order]})
    return results


def print_predictions(results: list[dict], title: str, top_k: int) -> None:
    """`predict_files`' results as a table on the terminal: one row per image, the top-k labels with scores."""
    table = Table(title=title)
    table.add_column("image")
    for rank in range(1, top_k + 1):
        table.add_column(f"#{rank}")
    for row in results:
        cells = [f"{p['label']} {p['score']:.3f}" for p in row["predictions"]]
        table.add_row(row["image"], *cells, *([""] * (top_k - len(cells))))
    console().print(table)
