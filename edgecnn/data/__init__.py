"""Data: every source a recipe names, seeded stratified splits, and the input contract.

NumPy and Pillow only, so verifying on any source needs no TensorFlow. Images are uint8 NHWC;
`normalize` turns them into the model's float input. Array sources stay in memory; folders and
lists are read file by file (`FileImages`), so their size is bounded by the disk, not the RAM.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from edgecnn.data.contract import InputContract, normalize
from edgecnn.data.images import ImageFormat
from edgecnn.data.imagesets import ArrayImages, FileImages
from edgecnn.data.sources import SourceData, read_source
from edgecnn.data.splits import SplitIndices, assign_splits, stratified_split

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import DataConfig

__all__ = ["Dataset", "InputContract", "load_dataset", "normalize", "stratified_split"]

@dataclass
class Dataset:
    """Labelled images split three ways, with the class names and the input contract."""

    train: ArrayImages | FileImages
    val: ArrayImages | FileImages
    test: ArrayImages | FileImages
    class_names: list[str]
    contract: InputContract
    source: str = ""
    skipped: list[dict] = field(default_factory=list)
    source_size: tuple[int, int] | None = None  # (height, width) most images are stored at

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @cached_property
    def x_test(self) -> np.ndarray:
        """The test images in memory: every artifact is scored on the same decoded pixels."""
        return self.test.images()

    @property
    def y_test(self) -> np.ndarray:
        return self.test.labels

    def summary(self) -> dict:
        record = {
            "source": self.source,
            "classes": len(self.class_names),
            "train": len(self.train),
            "val": len(self.val),
            "test": len(self.test),
            "image_shape": list(self.contract.shape),
        }
        if self.skipped:
            record["skipped"] = {"count": len(self.skipped), "files": self.skipped}
        return record

    def split_list(self) -> str:
        """CSV of split,label,item (file path, or position in an array source): reproduces the split."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["split", "label", "item"])
        for name in ("train", "val", "test"):
            part = getattr(self, name)
            for item, label in zip(part.item_names, part.labels):
                writer.writerow([name, self.class_names[label], item])
        return out.getvalue()

    def test_fingerprint(self) -> str:
        """A hash of the test split's pixels and labels, read chunk by chunk: saved outputs of a model are
        only compared with outputs on the same images."""
        digest = hashlib.sha256()
        for chunk in self.test.chunks():
            digest.update(np.ascontiguousarray(chunk).tobytes())
        digest.update(self.y_test.tobytes())
        return digest.hexdigest()[:16]


def load_dataset(data_config: DataConfig, seed: int) -> Dataset:
    """Read the recipe's data source and split it, reproducibly for a given seed."""
    source = read_source(data_config, seed)
    splits = assign_splits(source.labels, source.assigned, data_config.split.val, data_config.split.test, seed,
                           source.class_names)
    fmt = ImageFormat(tuple(data_config.image_size), data_config.channels, data_config.resize)
    parts = [_subset(source, indices, fmt) for indices in (splits.train, splits.val, splits.test)]
    contract = InputContract.from_config(data_config, source.class_names)
    stored = source.image_sizes.most_common(1)
    return Dataset(*parts, source.class_names, contract, data_config.describe_source(), source.skipped,
                   (stored[0][0][1], stored[0][0][0]) if stored else None)


def _subset(source: SourceData, indices: np.ndarray, fmt: ImageFormat):
    if source.images is not None:
        return ArrayImages(source.images[indices], source.labels[indices], indices)
    return FileImages([source.paths[i] for i in indices], source.labels[indices], fmt)


__all__ += ["SplitIndices"]
