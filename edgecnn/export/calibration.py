"""The calibration set for int8 quantization, guarded: enough images, and from the training split.

Calibrating on validation or test images leaks them into the file being scored on them, and a
handful of images gives activation ranges that clip real inputs; both are errors unless the recipe
explicitly allows them. Every int8 artifact (TFLite converter, ai-edge-quantizer, onnxruntime) uses
the same set, and records its size and source in its metadata and the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from edgecnn.data import normalize
from edgecnn.errors import RecipeError

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import CalibrationConfig


@dataclass(frozen=True)
class CalibrationSet:
    images: np.ndarray  # normalized float32 NHWC: the Keras model's input (QAT starting ranges)
    pixels: np.ndarray  # the same images as uint8 pixels, to prepare for an exported file's input
    split: str
    samples: int

    def record(self) -> dict:
        """What metadata and reports say about it."""
        return {"samples": self.samples, "source": f"{self.split} split"}


def calibration_set(dataset, config: CalibrationConfig, seed: int) -> CalibrationSet:
    """A seeded sample of `config.samples` normalized images from `config.split`, after the guards."""
    if config.split != "train" and not config.allow_outside_train:
        raise RecipeError(
            f"export.calibration.split: {config.split!r} images would leak into the accuracy measured on them; "
            "use 'train', or set export.calibration.allow_outside_train=true"
        )
    images = getattr(dataset, config.split)
    take = min(config.samples, len(images))
    if take < config.min_samples and not config.allow_few:
        raise RecipeError(
            f"export.calibration.samples: {take} calibration images (asked {config.samples}, the {config.split} split "
            f"has {len(images)}) is below min_samples={config.min_samples}; use more, or set "
            "export.calibration.allow_few=true"
        )
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(len(images), size=take, replace=False))
    # The same decoder and normalization as training and verification (files are read here, a few hundred).
    pixels = images.images(picks)
    return CalibrationSet(normalize(pixels, dataset.contract), pixels, config.split, int(take))
