"""Seeded, stratified train/val/test splits."""

from dataclasses import dataclass

import numpy as np

from edgecnn.errors import DataError


@dataclass
class SplitIndices:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def stratified_split(labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int) -> SplitIndices:
    """Split each class in the same proportions; the same labels and seed give the same indices."""
    rng = np.random.default_rng(seed)
    parts = {"train": [], "val": [], "test": []}
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        rng.shuffle(members)
        n_test = int(round(len(members) * test_fraction))
        n_val = int(round(len(members) * val_fraction))
        if len(members) - n_test - n_val < 1 or n_test < 1:
            raise DataError(
                f"class {int(label)} has only {len(members)} images: too few for a "
                f"{val_fraction:g}/{test_fraction:g} val/test split; add images or lower data.split"
            )
        parts["test"].append(members[:n_test])
        parts["val"].append(members[n_test : n_test + n_val])
        parts["train"].append(members[n_test + n_val :])
    # Sorted indices keep the split independent of class order; shuffling is the trainer's job.
    return SplitIndices(*(np.sort(np.concatenate(parts[name])) for name in ("train", "val", "test")))
