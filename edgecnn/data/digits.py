"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, offline)."""

import numpy as np

from edgecnn.data.imaging import resize_batch, to_channels


def load_digits(size: tuple[int, int], channels: int):
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    # Pixel values are 0..16; scale to the 0..255 range every other source uses.
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    images = to_channels(resize_batch(images, size), channels)
    return images, bunch.target.astype(np.int64), [str(name) for name in bunch.target_names]
