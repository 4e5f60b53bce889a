"""Seeded, stratified train/val/test splits, honouring any split the source defines itself."""

from dataclasses import dataclass

import numpy as np

from edgecnn.errors import DataError


@dataclass
class SplitIndices:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def stratified_split(labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int,
                     class_names: list[str] | None = None) -> SplitIndices:
    """Split each class in the same proportions; the same labels and seed give the same indices."""
    rng = np.random.default_rng(seed)
    parts = {"train": [], "val": [], "test": []}
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        rng.shuffle(members)
        n_test = int(round(len(members) * test_fraction))
        n_val = int(round(len(members) * val_fraction))
        if len(members) - n_test - n_val < 1 or (test_fraction > 0 and n_test < 1):
            name = class_names[label] if class_names else int(label)
            raise DataError(
                f"class {name!r} has only {len(members)} images: too few for a "
                f"{val_fraction:g}/{test_fraction:g} val/test split; add images or lower data.split"
            )
        parts["test"].append(members[:n_test])
        parts["val"].append(members[n_test : n_test + n_val])
        parts["train"].append(members[n_test + n_val :])
    # Sorted indices keep the split independent of class order; shuffling is the trainer's job.
    return SplitIndices(*(np.sort(np.concatenate(parts[name])) for name in ("train", "val", "test")))


def assign_splits(labels: np.ndarray, assigned: np.ndarray | None, val_fraction: float, test_fraction: float,
                  seed: int, class_names: list[str] | None = None) -> SplitIndices:
    """The source's own train/val/test where it has them (folders, list columns, npz keys); a split it
    lacks is carved, stratified and seeded, from its training part with the recipe's fraction."""
    if assigned is None:
        return stratified_split(labels, val_fraction, test_fraction, seed, class_names)
    pool = np.flatnonzero(assigned == "train")
    test = np.flatnonzero(assigned == "test")
    val = np.flatnonzero(assigned == "val")
    if not len(test):
        carved = stratified_split(labels[pool], 0.0, test_fraction, seed, class_names)
        test, pool = pool[carved.test], pool[carved.train]
    if not len(val) and val_fraction > 0 and len(pool):  # a test-only source has nothing to carve
        carved = stratified_split(labels[pool], 0.0, val_fraction, seed + 1, class_names)
        val, pool = pool[carved.test], pool[carved.train]
    return SplitIndices(np.sort(pool), np.sort(val), np.sort(test))
