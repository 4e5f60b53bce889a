"""Small image helpers on uint8 NHWC arrays."""

import numpy as np
from PIL import Image


def resize_batch(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize uint8 NHWC images to (height, width) with bilinear filtering; no-op if already that size."""
    height, width = size
    if images.shape[1:3] == (height, width):
        return images
    out = np.empty((len(images), height, width, images.shape[-1]), dtype=np.uint8)
    for i, image in enumerate(images):
        for c in range(images.shape[-1]):
            resized = Image.fromarray(image[..., c]).resize((width, height), Image.Resampling.BILINEAR)
            out[i, ..., c] = np.asarray(resized)
    return out


def to_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """Convert NHWC uint8 images between grayscale (1) and RGB (3)."""
    have = images.shape[-1]
    if have == channels:
        return images
    if have == 1 and channels == 3:
        return np.repeat(images, 3, axis=-1)
    if have == 3 and channels == 1:
        weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
        return np.round(images.astype(np.float32) @ weights).clip(0, 255).astype(np.uint8)[..., None]
    raise ValueError(f"cannot convert {have}-channel images to {channels} channels")
