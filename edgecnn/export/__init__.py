"""Export a trained Keras model to every format the recipe asks for, atomically."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgecnn.errors import ExportError
from edgecnn.export.formats import EXPORT_FORMATS, ExportFormat, format_for_file
from edgecnn.fileio import write_text

LABELS_FILE = "labels.txt"

__all__ = ["EXPORT_FORMATS", "ExportFormat", "ExportedArtifact", "export_all", "format_for_file"]


@dataclass
class ExportedArtifact:
    name: str
    path: Path
    format: ExportFormat
    seconds: float


def export_all(model, recipe, dataset, out_dir: Path, show_progress: bool = True) -> list[ExportedArtifact]:
    """Write each of `recipe.export.formats` into `out_dir`, plus `labels.txt`."""
    import time

    from edgecnn.console import console

    out_dir = Path(out_dir)
    calibration = representative_images(dataset, recipe.export.representative_samples, recipe.seed)
    artifacts = []
    for name in recipe.export.formats:
        fmt = EXPORT_FORMATS[name]
        start = time.perf_counter()
        if show_progress:
            console().print(f"export {fmt.name:<15} -> {out_dir / fmt.filename}")
        _export_one(fmt, model, recipe, dataset, calibration, out_dir / fmt.filename)
        artifacts.append(ExportedArtifact(fmt.name, out_dir / fmt.filename, fmt, time.perf_counter() - start))
    write_text(out_dir / LABELS_FILE, "\n".join(dataset.class_names) + "\n")
    return artifacts


def _export_one(fmt: ExportFormat, model, recipe, dataset, calibration, path: Path) -> None:
    try:
        if fmt.runtime == "litert":
            from edgecnn.export.tflite import export_tflite

            export_tflite(model, fmt, path, dataset.contract, recipe, calibration)
        else:
            from edgecnn.export.onnx import export_onnx

            export_onnx(model, fmt, path, dataset.contract, recipe)
    except ExportError:
        raise
    except Exception as exc:  # converter internals raise anything; name the format and keep the cause
        raise ExportError(f"{path.name}: {fmt.name} conversion failed: {type(exc).__name__}: {exc}") from exc


def representative_images(dataset, count: int, seed: int) -> np.ndarray:
    """A seeded sample of normalized *training* images for int8 calibration."""
    from edgecnn.data import normalize

    rng = np.random.default_rng(seed)
    take = min(count, len(dataset.x_train))
    picks = rng.choice(len(dataset.x_train), size=take, replace=False)
    return normalize(dataset.x_train[np.sort(picks)], dataset.contract)
