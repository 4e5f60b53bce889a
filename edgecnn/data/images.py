"""Decode one image file into the model's pixel grid: the single decoder for training, calibration,
verification and prediction, so every stage sees exactly the same pixels.

Pillow only (no TensorFlow): `edgecnn verify --data photos/` runs on the verify-only install, and the
training pipeline calls the same function from `tf.data`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from edgecnn.data.frames import frame_to_input

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


@dataclass(frozen=True)
class ImageFormat:
    """How a source image becomes a model input: (height, width), channels and the resize policy."""

    size: tuple[int, int]
    channels: int
    resize: str = "stretch"


class BadImage(Exception):
    """A file that is not a readable image; the message says why."""


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def open_image(path: str | Path) -> Image.Image:
    """Open and fully decode `path` (the first frame of a GIF); raise BadImage saying why not."""
    try:
        with Image.open(path) as image:
            image.seek(0)
            image.load()
            return image.copy()
    except FileNotFoundError:
        raise BadImage("file not found") from None
    except PermissionError:
        raise BadImage("permission denied") from None
    except IsADirectoryError:
        raise BadImage("a folder, not an image") from None
    except UnidentifiedImageError:
        raise BadImage("not an image Pillow can decode (PNG, JPEG, BMP, GIF expected)") from None
    except Image.DecompressionBombError as exc:  # a few kB of PNG that decodes to gigabytes
        raise BadImage(f"too many pixels to decode safely ({str(exc).split('(')[1].split(')')[0]}, limit "
                       f"{Image.MAX_IMAGE_PIXELS:,} pixels); resize it before training") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        raise BadImage(f"corrupt image data ({exc})") from None


def load_image(path: str | Path, fmt: ImageFormat) -> np.ndarray:
    """`path` -> uint8 (height, width, channels) array, converted and resized as `fmt` says."""
    return to_model_pixels(open_image(path), fmt)


def to_model_pixels(image: Image.Image, fmt: ImageFormat) -> np.ndarray:
    """A decoded image -> the model's uint8 input pixels: converted to the model's colours, then brought to its
    size by `frames.frame_to_input`, MediaPipe's own sampling (so the pixels match what the phone SDK feeds)."""
    pixels = np.asarray(_to_mode(image, "L" if fmt.channels == 1 else "RGB"), dtype=np.uint8)
    pixels = pixels[..., None] if pixels.ndim == 2 else pixels
    if pixels.shape[:2] == tuple(fmt.size):
        return pixels
    return frame_to_input(pixels, fmt.size, fmt.resize)


def _to_mode(image: Image.Image, mode: str) -> Image.Image:
    if image.mode == mode:
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels become black, the same as the pad colour, rather than whatever RGB they hide.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert(mode)


def array_image(pixels: np.ndarray) -> Image.Image:
    """uint8 HxWx1 or HxWx3 pixels as a grayscale or RGB Pillow image."""
    return Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)


def fit_array(images: np.ndarray, fmt: ImageFormat) -> np.ndarray:
    """Array sources (digits, npz, Keras sets) through the same conversion as files."""
    if images.shape[1:] == (*fmt.size, fmt.channels):
        return images
    out = np.empty((len(images), *fmt.size, fmt.channels), dtype=np.uint8)
    for i, pixels in enumerate(images):
        out[i] = to_model_pixels(array_image(pixels), fmt)
    return out
