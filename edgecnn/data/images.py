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
    image = _to_mode(image, "L" if fmt.channels == 1 else "RGB")
    image = fit(image, fmt.size, fmt.resize)
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels[..., None] if pixels.ndim == 2 else pixels


def fit(image: Image.Image, size: tuple[int, int], policy: str) -> Image.Image:
    """Resize to (height, width): stretch ignores the aspect ratio, crop takes the centred box of the
    target aspect, pad letterboxes onto black. Bilinear filtering throughout."""
    height, width = size
    if policy == "crop":
        image = image.crop(_centre_box(image.size, width / height))
    elif policy == "pad":
        image = _letterbox(image, width / height)
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    return image


def _to_mode(image: Image.Image, mode: str) -> Image.Image:
    if image.mode == mode:
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels become black, the same as the pad colour, rather than whatever RGB they hide.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert(mode)


def _centre_box(size: tuple[int, int], aspect: float) -> tuple[int, int, int, int]:
    width, height = size
    if width / height > aspect:  # too wide: trim the sides
        keep = max(1, round(height * aspect))
        left = (width - keep) // 2
        return (left, 0, left + keep, height)
    keep = max(1, round(width / aspect))
    top = (height - keep) // 2
    return (0, top, width, top + keep)


def _letterbox(image: Image.Image, aspect: float) -> Image.Image:
    width, height = image.size
    if width / height > aspect:
        canvas = Image.new(image.mode, (width, max(height, round(width / aspect))))
    else:
        canvas = Image.new(image.mode, (max(width, round(height * aspect)), height))
    canvas.paste(image, ((canvas.width - width) // 2, (canvas.height - height) // 2))
    return canvas


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
