"""One split's images: held in memory (array sources) or read from files batch by batch (folders, lists).

Both kinds answer the same questions: how many, which labels, the pixels of some of them, and a
`tf.data` pipeline of (uint8 image, label) for training, so nothing downstream asks where they live.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from edgecnn.data.images import ImageFormat, load_image

CHUNK = 256  # images per pass-through chunk: 256 x 128 x 128 x 3 float32 is 50 MB


class ArrayImages:
    """Images already in memory; `ids` are their positions in the source, for the split lists."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, ids: np.ndarray):
        self._images, self.labels, self.ids = images, labels, ids

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def item_names(self) -> list[str]:
        return [str(int(i)) for i in self.ids]

    def images(self, picks: np.ndarray | None = None) -> np.ndarray:
        return self._images if picks is None else self._images[picks]

    def chunks(self, size: int = CHUNK):
        for start in range(0, len(self), size):
            yield self._images[start : start + size]

    def tf_dataset(self, tf, batch_size: int, shuffle_seed: int | None = None):
        """Batches of (uint8 images, labels); shuffled (indices, not pixels) each epoch when a seed is given.
        A batch of indices gathers its images at once: one step per batch, not one per image."""
        images, labels = tf.constant(self._images), tf.constant(self.labels)
        order = _maybe_shuffled(tf.data.Dataset.range(len(self)), len(self), shuffle_seed).batch(batch_size)
        return order.map(lambda i: (tf.gather(images, i), tf.gather(labels, i)))


class FileImages:
    """Image files decoded on demand, through the one decoder every stage uses."""

    def __init__(self, paths: list[str], labels: np.ndarray, fmt: ImageFormat):
        self.paths, self.labels, self.fmt = list(paths), labels, fmt

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def item_names(self) -> list[str]:
        return self.paths

    def images(self, picks: np.ndarray | None = None) -> np.ndarray:
        paths = self.paths if picks is None else [self.paths[i] for i in picks]
        out = np.empty((len(paths), *self.fmt.size, self.fmt.channels), dtype=np.uint8)
        with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
            for i, pixels in enumerate(pool.map(lambda p: load_image(p, self.fmt), paths)):
                out[i] = pixels
        return out

    def chunks(self, size: int = CHUNK):
        """The images in order, `size` at a time: a pass over the split without holding all of it."""
        for start in range(0, len(self), size):
            yield self.images(np.arange(start, min(start + size, len(self))))

    def tf_dataset(self, tf, batch_size: int, shuffle_seed: int | None = None):
        """Batches of (uint8 images, labels). The cheap (path, label) pairs are shuffled, then files are decoded
        in parallel as the pipeline pulls them: memory holds paths and a few batches, never the folder."""
        shape, fmt = (*self.fmt.size, self.fmt.channels), self.fmt

        def decode(path, label):
            pixels = tf.numpy_function(lambda p: load_image(p.decode(), fmt), [path], tf.uint8, stateful=False)
            pixels.set_shape(shape)
            return pixels, label

        pairs = tf.data.Dataset.from_tensor_slices((np.array(self.paths), self.labels))
        pairs = _maybe_shuffled(pairs, len(self), shuffle_seed)
        return pairs.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).batch(batch_size)


def _maybe_shuffled(ds, size: int, seed: int | None):
    return ds if seed is None else ds.shuffle(size, seed=seed, reshuffle_each_iteration=True)
