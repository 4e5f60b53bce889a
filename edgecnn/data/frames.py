"""From a decoded camera frame to the model's input pixels, exactly as MediaPipe Tasks does it: the one
pre-processing that training, verification, `predict`, the handoff snippets and the file's metadata share.

What MediaPipe does (its CPU `ImageToTensorCalculator`, `image_to_tensor_converter_opencv.cc`, which the
Tasks ImageClassifier of the Android, iOS, web and Python SDKs runs for a float or uint8 input):
- the region of interest (the whole frame, or `ImageProcessingOptions.region_of_interest`) is a rectangle
  in pixel units whose corners map onto the tensor's corners: output pixel i samples the frame at
  ``left + i * roi_width / out_width`` (corner-aligned, no half-pixel offset, so the grid starts on the
  ROI's first pixel and stops short of its last);
- `cv::warpPerspective` with `INTER_LINEAR` and `BORDER_REPLICATE` samples the frame: bilinear over the
  2x2 neighbourhood only, with no widening of the kernel when shrinking (no anti-aliasing), coordinates
  rounded to 1/32 pixel and weights in 15-bit fixed point, the result rounded to uint8 before it becomes
  the float tensor (`convertTo` with the normalization's scale and offset).
This module reproduces that arithmetic in NumPy, to the same integers (checked pixel by pixel against
MediaPipe itself by `tests/test_frames_mediapipe.py`: an identity model whose "scores" are its input tensor,
fed frames of many sizes, with and without a region of interest; `benchmarks/frames_vs_mediapipe.py`
prints the maximum absolute difference per frame size).

Resize policies: `stretch` samples the whole frame; `crop` samples the centred box of the model's aspect
ratio, which the app passes to MediaPipe as the region of interest (no cropping by hand); `pad` letterboxes
the frame onto black first (MediaPipe's Tasks API has no padding: the app does that step, as the card says).
"""

from __future__ import annotations

import numpy as np

# OpenCV's INTER_BITS: source coordinates are rounded to 1/32 pixel; weights are products of 32nds scaled to
# INTER_REMAP_COEF_SCALE (2**15), so every 2x2 weight is an exact integer and the four sum to 2**15.
SUBPIXELS = 32
WEIGHT_BITS = 15


def centre_region(frame_size: tuple[int, int], out_size: tuple[int, int]) -> tuple[float, float, float, float]:
    """The centred box of the model's aspect ratio, as MediaPipe's normalized region of interest
    (left, top, right, bottom, each 0..1) for a frame of (height, width): what the card and snippets pass."""
    frame_h, frame_w = frame_size
    out_h, out_w = out_size
    aspect = out_w / out_h
    if frame_w / frame_h > aspect:  # too wide: trim the sides
        keep = frame_h * aspect / frame_w
        return ((1 - keep) / 2, 0.0, (1 + keep) / 2, 1.0)
    keep = frame_w / aspect / frame_h
    return (0.0, (1 - keep) / 2, 1.0, (1 + keep) / 2)


def sample_region(frame: np.ndarray, out_size: tuple[int, int],
                  region: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)) -> np.ndarray:
    """uint8 (H, W, C) frame -> uint8 (out_h, out_w, C): MediaPipe's bilinear sampling of the normalized
    `region` (left, top, right, bottom) onto the output grid."""
    frame_h, frame_w = frame.shape[:2]
    out_h, out_w = out_size
    left, top, right, bottom = (np.float32(v) for v in region)
    rows = _axis_taps(out_h, *_roi_span(top, bottom, frame_h), frame_h)
    cols = _axis_taps(out_w, *_roi_span(left, right, frame_w), frame_w)
    return _bilinear(frame, rows, cols)


def frame_to_input(frame: np.ndarray, out_size: tuple[int, int], policy: str) -> np.ndarray:
    """A decoded frame (uint8 H x W x C) -> the model's input pixels under the recipe's resize policy."""
    if policy == "crop":
        return sample_region(frame, out_size, centre_region(frame.shape[:2], out_size))
    if policy == "pad":
        frame = letterbox(frame, out_size[1] / out_size[0])
    return sample_region(frame, out_size)


def letterbox(frame: np.ndarray, aspect: float) -> np.ndarray:
    """The frame centred on black to the width/height `aspect`: the app's step for `pad` recipes
    (integer sizes, the frame's top-left corner at ((W - w) // 2, (H - h) // 2))."""
    height, width = frame.shape[:2]
    if width / height > aspect:
        canvas_h, canvas_w = max(height, round(width / aspect)), width
    else:
        canvas_h, canvas_w = height, max(width, round(height * aspect))
    canvas = np.zeros((canvas_h, canvas_w, frame.shape[2]), dtype=frame.dtype)
    top, left = (canvas_h - height) // 2, (canvas_w - width) // 2
    canvas[top:top + height, left:left + width] = frame
    return canvas


def _roi_span(start: np.float32, stop: np.float32, frame_len: int) -> tuple[float, float]:
    """First sampled coordinate and the ROI's length in pixels, in float32 as MediaPipe computes them from the
    normalized rectangle (centre and size, then the corner), so the 1/32-pixel rounding lands the same way."""
    centre = np.float32((start + stop) / np.float32(2)) * np.float32(frame_len)
    length = np.float32(stop - start) * np.float32(frame_len)
    return float(centre - length * np.float32(0.5)), float(length)


def _axis_taps(out_len: int, first: float, length: float, frame_len: int):
    """Per output index along one axis: the two source indices (border replicated) and the 1/32 fraction."""
    positions = first + np.arange(out_len, dtype=np.float64) * (length / out_len)
    # To the nearest 1/32. Exact halves (e.g. 23 pixels onto 64: steps of 11.5/32) land where the float noise of
    # OpenCV's matrix solve and inversion puts them, which is not reproduced here: rounding them up matched
    # MediaPipe on every whole-frame size tried; with a region of interest some go the other way (see the test).
    fixed = np.floor(positions * SUBPIXELS + 0.5).astype(np.int64)
    base, fraction = fixed >> 5, fixed & (SUBPIXELS - 1)
    return np.clip(base, 0, frame_len - 1), np.clip(base + 1, 0, frame_len - 1), fraction


def _bilinear(frame: np.ndarray, rows, cols) -> np.ndarray:
    row0, row1, fy = rows
    col0, col1, fx = cols
    pixels = frame.astype(np.int64)
    wy0, wy1 = (SUBPIXELS - fy)[:, None, None], fy[:, None, None]
    wx0, wx1 = (SUBPIXELS - fx)[None, :, None], fx[None, :, None]
    total = (pixels[row0][:, col0] * wy0 * wx0 + pixels[row0][:, col1] * wy0 * wx1
             + pixels[row1][:, col0] * wy1 * wx0 + pixels[row1][:, col1] * wy1 * wx1) * SUBPIXELS
    return ((total + (1 << (WEIGHT_BITS - 1))) >> WEIGHT_BITS).astype(np.uint8)


# Verification's camera frames: this many times larger than the test split's source images.
DEFAULT_CAMERA_SCALE = 4


# --- Frames apps really hand over, for training-time robustness -------------------------------------------------
# An app may shrink its camera frame itself before the SDK sees it (Android's Bitmap.createScaledBitmap, Core
# Image, a canvas, sharp) or hand it over whole for MediaPipe to sample. Each resizer below, applied to a frame
# k times the model's input, is a linear map per axis, so "enlarge k times, then shrink with resizer R" is one
# (n x n) matrix per axis: training applies a random one to each image for the cost of two small matmuls.
FRAME_SCALES = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
# name -> how it shrinks: MediaPipe's corner-aligned bilinear without anti-aliasing; half-pixel bilinear
# without it (createScaledBitmap with filter=true, TensorFlow's resize, a canvas at low quality); and
# anti-aliased kernels (Pillow's bilinear, Core Image's Lanczos and sharp's lanczos3, area averaging).
RESIZERS = ("mediapipe", "bilinear", "bilinear_aa", "lanczos_aa", "area")


def sampling_matrix(out_len: int, in_len: int, first: float = 0.0, length: float | None = None) -> np.ndarray:
    """MediaPipe's sampling along one axis as an (out_len x in_len) weight matrix (the taps `sample_region`
    uses, without its rounding to uint8)."""
    low, high, fraction = _axis_taps(out_len, first, float(in_len if length is None else length), in_len)
    matrix = np.zeros((out_len, in_len))
    rows = np.arange(out_len)
    np.add.at(matrix, (rows, low), (SUBPIXELS - fraction) / SUBPIXELS)
    np.add.at(matrix, (rows, high), fraction / SUBPIXELS)
    return matrix


def resize_matrix(out_len: int, in_len: int, resizer: str) -> np.ndarray:
    """One axis of `resizer` taking `in_len` pixels to `out_len`, as a weight matrix."""
    if resizer == "mediapipe":
        return sampling_matrix(out_len, in_len)
    if resizer == "bilinear":  # half-pixel centres, 2 taps whatever the scale
        positions = np.clip((np.arange(out_len) + 0.5) * in_len / out_len - 0.5, 0, in_len - 1)
        low = np.floor(positions).astype(int)
        high, weight = np.minimum(low + 1, in_len - 1), positions - low
        matrix = np.zeros((out_len, in_len))
        np.add.at(matrix, (np.arange(out_len), low), 1 - weight)
        np.add.at(matrix, (np.arange(out_len), high), weight)
        return matrix
    return _pillow_matrix(out_len, in_len, {"bilinear_aa": "BILINEAR", "lanczos_aa": "LANCZOS",
                                            "area": "BOX", "bicubic": "BICUBIC"}[resizer])


def _pillow_matrix(out_len: int, in_len: int, kernel: str) -> np.ndarray:
    """Pillow's separable filter along one axis: the identity resized in height only (its float mode)."""
    from PIL import Image

    identity = Image.fromarray(np.eye(in_len, dtype=np.float32), mode="F")
    resized = identity.resize((in_len, out_len), getattr(Image.Resampling, kernel))
    return np.asarray(resized, dtype=np.float64)


def frame_matrices(size: tuple[int, int], source_size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For every (scale, resizer): the per-axis matrices of "enlarge the stored image `scale` times (bicubic, a
    smooth stand-in for a sharper camera), then shrink it to the model's size with the resizer", applied to a
    training image already at the model's `size`: ((N, h, h), (N, w, w)) float32. Sources stored smaller than
    the model's input (digits: 8 pixels for 16) are first sampled back to their stored size (MediaPipe's grid
    puts every other pixel of a 2x enlargement on a stored pixel, so this recovers it), so the frame is enlarged
    from the stored image as an app's camera would be; larger sources are taken at the model's size."""
    rows, cols = [], []
    stored = source_size or size
    for scale in FRAME_SCALES:
        for resizer in RESIZERS:
            for length, source, out in ((size[0], stored[0], rows), (size[1], stored[1], cols)):
                source = min(source, length)
                back = sampling_matrix(source, length) if source < length else np.eye(length)
                frame_len = max(source, round(source * scale))
                out.append(resize_matrix(length, frame_len, resizer) @ resize_matrix(frame_len, source, "bicubic") @ back)
    return np.asarray(rows, dtype=np.float32), np.asarray(cols, dtype=np.float32)
