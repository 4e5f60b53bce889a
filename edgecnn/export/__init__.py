"""Export a trained Keras model to every format the recipe asks for, atomically."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edgecnn.errors import EdgeCNNError, ExportError
from edgecnn.export.calibration import CalibrationSet, calibration_set
from edgecnn.export.onnx import export_onnx, ort_paths
from edgecnn.export.tflite import export_tflite
from edgecnn.formats import ALL_ARTIFACTS, EXPORT_FORMATS, ExportFormat
from edgecnn.mcu.firmware import FIRMWARE_DIR, FIRMWARE_FILES

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import Recipe

__all__ = ["ALL_ARTIFACTS", "CalibrationSet", "EXPORT_FORMATS", "ExportFormat", "ExportedArtifact", "calibration_set",
           "conversion_errors", "export_one", "written_files"]


@dataclass
class ExportedArtifact:
    name: str
    path: Path
    format: ExportFormat
    seconds: float


def export_one(fmt: ExportFormat, model, recipe: Recipe, file_input, calibration, path: Path) -> None:
    """Write one plain export (`export.formats`) of `model` to `path`."""
    with conversion_errors(fmt, path):
        if fmt.runtime == "litert":
            export_tflite(model, fmt, path, file_input, recipe, calibration)
        else:
            export_onnx(model, fmt, path, file_input, recipe)


def written_files(fmt: ExportFormat, recipe: Recipe, out_dir: Path) -> list[Path]:
    """Every file an export or variant writes into a run folder: the file, and for ONNX with
    `export.ort_format` its `.ort` copy and that copy's required-operators config; for a file with firmware, its
    sources."""
    path = Path(out_dir) / fmt.filename
    if fmt.firmware:
        return [path, *(path.parent / FIRMWARE_DIR / name for name in FIRMWARE_FILES)]
    return [path, *ort_paths(path)] if fmt.runtime == "onnxruntime" and recipe.export.ort_format else [path]


@contextlib.contextmanager
def conversion_errors(fmt: ExportFormat, path: Path):
    """Converter and quantizer internals raise anything; name the artifact and keep the cause."""
    try:
        yield
    except EdgeCNNError:
        raise
    except Exception as exc:
        raise ExportError(f"{path.name}: {fmt.name} failed: {type(exc).__name__}: {exc}") from exc
