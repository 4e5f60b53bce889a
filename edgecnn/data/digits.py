"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, offline)."""

import numpy as np


def load_digits():
    """uint8 (1797, 8, 8, 1) images, labels, class names; resizing is the caller's."""
    from sklearn.datasets import load_digits as sklearn_digits  # lazy: scikit-learn (1.8 s) only for the digits source

    bunch = sklearn_digits()
    # Pixel values are 0..16; scale to the 0..255 range every other source uses.
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return images, bunch.target.astype(np.int64), [str(name) for name in bunch.target_names]
