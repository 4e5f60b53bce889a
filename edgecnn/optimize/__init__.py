"""Optimized variants of a trained model: post-training quantization (converter, LiteRT quantizer,
onnxruntime), quantization-aware training, magnitude and 2:4 pruning, pruning-preserving QAT and
clustering with cluster-preserving QAT. Each is written under `optimized/` with the same metadata as
the plain exports, and verified by the same code."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from edgecnn.console import console
from edgecnn.export import ExportedArtifact, calibration_set, conversion_errors
from edgecnn.formats import OPTIMIZE_VARIANTS
from edgecnn.optimize.variants import MAKERS, Job

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import Recipe

__all__ = ["optimize_all"]


def optimize_all(model, recipe: Recipe, dataset, out_dir: Path, show_progress: bool = True) -> list[ExportedArtifact]:
    """Make, export and write every variant in `recipe.optimize.variants`, in the recipe's order."""
    out_dir = Path(out_dir)
    variants = [OPTIMIZE_VARIANTS[name] for name in recipe.optimize.variants]
    needs_calibration = any(fmt.needs_calibration for fmt in variants)
    calibration = calibration_set(dataset, recipe.export.calibration, recipe.seed) if needs_calibration else None
    job = Job(model, recipe, dataset, calibration, show_progress)
    artifacts = []
    for fmt in variants:
        path = out_dir / fmt.filename
        if show_progress:
            console().print(f"optimize {fmt.name:<18} {fmt.technique} -> {path}")
        start = time.perf_counter()
        with conversion_errors(fmt, path):
            MAKERS[fmt.maker](job, fmt, path)
        artifacts.append(ExportedArtifact(fmt.name, path, fmt, time.perf_counter() - start))
    return artifacts
