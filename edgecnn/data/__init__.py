"""Data: built-in offline sources, seeded stratified splits and the input contract.

Everything here is NumPy and Pillow only, so verifying on a built-in data set needs no TensorFlow.
Images are kept as uint8 NHWC; `normalize` turns them into the model's float input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgecnn.data.contract import InputContract, normalize
from edgecnn.data.splits import stratified_split
from edgecnn.errors import DataError

__all__ = ["Dataset", "InputContract", "load_dataset", "normalize", "stratified_split"]


@dataclass
class Dataset:
    """Labelled uint8 images split three ways, with the class names and the input contract."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    contract: InputContract

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def summary(self) -> dict:
        return {
            "classes": len(self.class_names),
            "train": len(self.y_train),
            "val": len(self.y_val),
            "test": len(self.y_test),
            "image_shape": list(self.x_train.shape[1:]),
        }


def load_dataset(data_config, seed: int) -> Dataset:
    """Load the recipe's data source and split it, reproducibly for a given seed."""
    images, labels, class_names = _load_source(data_config, seed)
    _check_labels(labels, class_names, data_config.source)
    splits = stratified_split(labels, data_config.split.val, data_config.split.test, seed)
    contract = InputContract.from_config(data_config, class_names)
    return Dataset(
        images[splits.train], labels[splits.train],
        images[splits.val], labels[splits.val],
        images[splits.test], labels[splits.test],
        class_names, contract,
    )


def _load_source(data_config, seed: int):
    size, channels = tuple(data_config.image_size), data_config.channels
    if data_config.source == "digits":
        from edgecnn.data.digits import load_digits

        return load_digits(size, channels)
    if data_config.source == "shapes":
        from edgecnn.data.shapes import generate_shapes

        options = data_config.shapes
        return generate_shapes(
            options.count, size, channels, options.classes, seed,
            noise=options.noise, size_range=(options.min_size, options.max_size),
        )
    raise DataError(f"data.source: unknown source {data_config.source!r}; expected digits or shapes")


def _check_labels(labels: np.ndarray, class_names: list[str], source: str) -> None:
    present = np.unique(labels)
    if len(present) < 2:
        raise DataError(f"data source {source!r}: needs at least 2 classes, found {len(present)}")
    if present.min() < 0 or present.max() >= len(class_names):
        raise DataError(f"data source {source!r}: label {int(present.max())} is outside the {len(class_names)} classes")
