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
This module reproduces that arithmetic in NumPy, down to OpenCV's perspective solve and inverse, whose
floating-point noise decides which way samples lying exactly halfway between two 1/32 steps round. Checked
pixel by pixel against MediaPipe itself by `tests/test_frames_mediapipe.py` (an identity model whose "scores"
are its input tensor, fed random frames of many sizes, whole and with the centred region of interest):
the same bytes for 30 of the 32 (frame size, region) cases measured; in the other two (51x49 whole and 23x17
with its region, onto 64x64) MediaPipe's matrix carries less noise than this emulation (a 1e-18 perspective
term), so some exact halves round the other way: a 1/32-pixel shift at those samples.
`benchmarks/frames_vs_mediapipe.py` prints the maximum absolute difference per frame size.

Resize policies: `stretch` samples the whole frame; `crop` samples the centred box of the model's aspect
ratio, which the app passes to MediaPipe as the region of interest (no cropping by hand); `pad` letterboxes
the frame onto black first (MediaPipe's Tasks API has no padding: the app does that step, as the card says).
"""

from __future__ import annotations

import functools
import math

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
    rows, cols = source_positions(frame.shape[:2], out_size, tuple(float(v) for v in region))
    frame_h, frame_w = frame.shape[:2]
    return _bilinear(frame, _taps(rows, frame_h), _taps(cols, frame_w))


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


@functools.lru_cache(maxsize=4096)  # folders of photos hold hundreds of sizes
def source_positions(frame_size: tuple[int, int], out_size: tuple[int, int],
                     region: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """Where each output pixel samples the frame, in 1/32 pixels (y and x, each (out_h, out_w)), computed as
    MediaPipe computes them: the region as float32 corners, OpenCV's `getPerspectiveTransform` (an 8x8 solve by
    Gaussian elimination), its 3x3 inverse by cofactors, and `warpPerspective`'s per-pixel double arithmetic
    rounded to nearest-even. Exact halves of a 1/32 step are common (37 pixels onto 64: steps of 18.5/32) and
    fall whichever way the floating-point noise of that solve puts them, so the noise is reproduced, not just
    the ideal positions (the same operations in the same order; pure Python floats are IEEE doubles)."""
    matrix = _inverse3(_perspective(_region_corners(frame_size, region), out_size))
    out_h, out_w = out_size
    # warpPerspective walks blocks of columns (1024 / min(16, rows) wide) and starts each row's sums at the block
    block_w = min(1024 // min(16, out_h), out_w)
    columns = np.arange(out_w)
    start = (columns // block_w * block_w).astype(np.float64)[None, :]
    offset = (columns % block_w).astype(np.float64)[None, :]
    y = np.arange(out_h, dtype=np.float64)[:, None]
    m = matrix
    x0 = m[0] * start + m[1] * y + m[2]
    y0 = m[3] * start + m[4] * y + m[5]
    w0 = m[6] * start + m[7] * y + m[8]
    weight = w0 + m[6] * offset
    with np.errstate(divide="ignore"):
        weight = np.where(weight != 0, SUBPIXELS / weight, 0.0)
    limits = (np.iinfo(np.int32).min, np.iinfo(np.int32).max)
    xs = np.rint(np.clip((x0 + m[0] * offset) * weight, *limits)).astype(np.int64)
    ys = np.rint(np.clip((y0 + m[3] * offset) * weight, *limits)).astype(np.int64)
    return ys, xs


def _region_corners(frame_size: tuple[int, int], region) -> list[tuple[float, float]]:
    """The region's corners in pixels as MediaPipe gets them: Tasks turns the normalized rectangle (float32) into
    a centre and size ((left + right) / 2.0 in double, stored as float32), scales them by the frame size in
    float32, and `cv::RotatedRect::points` gives bottom-left, top-left, top-right, bottom-right in float32."""
    frame_h, frame_w = frame_size
    left, top, right, bottom = (float(np.float32(v)) for v in region)
    f32 = np.float32
    centre_x, centre_y = f32(f32((left + right) / 2.0) * f32(frame_w)), f32(f32((top + bottom) / 2.0) * f32(frame_h))
    width, height = f32(f32(right - left) * f32(frame_w)), f32(f32(bottom - top) * f32(frame_h))
    half_w, half_h = f32(0.5) * width, f32(0.5) * height
    p0 = (f32(f32(centre_x - f32(0)) - half_w), f32(f32(centre_y + half_h) - f32(0)))
    p1 = (f32(f32(centre_x + f32(0)) - half_w), f32(f32(centre_y - half_h) - f32(0)))
    p2 = (f32(f32(2) * centre_x - p0[0]), f32(f32(2) * centre_y - p0[1]))
    p3 = (f32(f32(2) * centre_x - p1[0]), f32(f32(2) * centre_y - p1[1]))
    return [(float(x), float(y)) for x, y in (p0, p1, p2, p3)]


def _perspective(corners, out_size: tuple[int, int]) -> list[float]:
    """OpenCV's getPerspectiveTransform from the corners to the output's (0, h), (0, 0), (w, 0), (w, h)."""
    out_h, out_w = out_size
    targets = [(0.0, float(out_h)), (0.0, 0.0), (float(out_w), 0.0), (float(out_w), float(out_h))]
    a = [[0.0] * 8 for _ in range(8)]
    b = [0.0] * 8
    for i, ((x, y), (u, v)) in enumerate(zip(corners, targets)):
        a[i][0] = a[i + 4][3] = x
        a[i][1] = a[i + 4][4] = y
        a[i][2] = a[i + 4][5] = 1.0
        # float times float in C++: rounded to float32 before it is stored as a double
        a[i][6], a[i][7] = float(np.float32(-x * u)), float(np.float32(-y * u))
        a[i + 4][6], a[i + 4][7] = float(np.float32(-x * v)), float(np.float32(-y * v))
        b[i], b[i + 4] = u, v
    return [*_gauss_solve(a, b), 1.0]


def _gauss_solve(a: list[list[float]], b: list[float]) -> list[float]:
    """OpenCV's LU solve (partial pivoting, rows eliminated with -1/pivot, back substitution), op for op."""
    m = len(a)
    for i in range(m):
        pivot = max(range(i, m), key=lambda j: (abs(a[j][i]), -j))
        a[i], a[pivot], b[i], b[pivot] = a[pivot], a[i], b[pivot], b[i]
        d = -1.0 / a[i][i]
        for j in range(i + 1, m):
            alpha = a[j][i] * d
            for k in range(i + 1, m):
                a[j][k] += alpha * a[i][k]
            b[j] += alpha * b[i]
    for i in range(m - 1, -1, -1):
        total = b[i]
        for k in range(i + 1, m):
            total -= a[i][k] * b[k]
        b[i] = total / a[i][i]
    return b


def _inverse3(s: list[float]) -> list[float]:
    """OpenCV's invert of a 3x3 double matrix: cofactors times 1 / determinant."""
    def e(r, c):
        return s[3 * r + c]
    det = (e(0, 0) * (e(1, 1) * e(2, 2) - e(1, 2) * e(2, 1)) - e(0, 1) * (e(1, 0) * e(2, 2) - e(1, 2) * e(2, 0))
           + e(0, 2) * (e(1, 0) * e(2, 1) - e(1, 1) * e(2, 0)))
    d = 1.0 / det
    return [(e(1, 1) * e(2, 2) - e(1, 2) * e(2, 1)) * d, (e(0, 2) * e(2, 1) - e(0, 1) * e(2, 2)) * d,
            (e(0, 1) * e(1, 2) - e(0, 2) * e(1, 1)) * d, (e(1, 2) * e(2, 0) - e(1, 0) * e(2, 2)) * d,
            (e(0, 0) * e(2, 2) - e(0, 2) * e(2, 0)) * d, (e(0, 2) * e(1, 0) - e(0, 0) * e(1, 2)) * d,
            (e(1, 0) * e(2, 1) - e(1, 1) * e(2, 0)) * d, (e(0, 0) * e(2, 1) - e(0, 1) * e(2, 0)) * d,
            (e(0, 0) * e(1, 1) - e(0, 1) * e(1, 0)) * d]


def _taps(fixed: np.ndarray, frame_len: int):
    """1/32-pixel positions -> the two source indices (border replicated) and the fraction."""
    base, fraction = fixed >> 5, fixed & (SUBPIXELS - 1)
    return np.clip(base, 0, frame_len - 1), np.clip(base + 1, 0, frame_len - 1), fraction


def _bilinear(frame: np.ndarray, rows, cols) -> np.ndarray:
    """OpenCV's fixed-point bilinear remap: weights (32 - f) and f per axis, times 32 (15 bits in all), rounded.
    Only the four neighbours of each output pixel are read and widened (not the whole frame)."""
    row0, row1, fy = rows
    col0, col1, fx = cols
    width = frame.shape[1]
    flat = frame.reshape(-1, frame.shape[2])
    total = np.zeros((*fy.shape, frame.shape[2]), dtype=np.int32)
    for row, col, weight in ((row0, col0, (SUBPIXELS - fy) * (SUBPIXELS - fx)), (row0, col1, (SUBPIXELS - fy) * fx),
                             (row1, col0, fy * (SUBPIXELS - fx)), (row1, col1, fy * fx)):
        total += flat[row * width + col].astype(np.int32) * weight.astype(np.int32)[..., None]
    return ((total * SUBPIXELS + (1 << (WEIGHT_BITS - 1))) >> WEIGHT_BITS).astype(np.uint8)


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


def sampling_matrix(out_len: int, in_len: int) -> np.ndarray:
    """MediaPipe's whole-frame sampling along one axis as an (out_len x in_len) weight matrix (`sample_region`'s
    taps along its first row, without its rounding to uint8)."""
    low, high, fraction = _taps(source_positions((1, in_len), (1, out_len))[1][0], in_len)
    return _two_taps(in_len, low, high, fraction / SUBPIXELS)


def resize_matrix(out_len: int, in_len: int, resizer: str) -> np.ndarray:
    """One axis of `resizer` taking `in_len` pixels to `out_len`, as a weight matrix."""
    if resizer == "mediapipe":
        return sampling_matrix(out_len, in_len)
    if resizer == "bilinear":  # half-pixel centres, 2 taps whatever the scale
        positions = np.clip((np.arange(out_len) + 0.5) * in_len / out_len - 0.5, 0, in_len - 1)
        low = np.floor(positions).astype(int)
        return _two_taps(in_len, low, np.minimum(low + 1, in_len - 1), positions - low)
    return _pillow_matrix(out_len, in_len, {"bilinear_aa": "BILINEAR", "lanczos_aa": "LANCZOS",
                                            "area": "BOX", "bicubic": "BICUBIC"}[resizer])


def _two_taps(in_len: int, low: np.ndarray, high: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """A linear-interpolation matrix: output i is (1 - weight) of input `low[i]` plus weight of `high[i]` (summed
    where the two are one edge pixel)."""
    matrix = np.zeros((len(low), in_len))
    rows = np.arange(len(low))
    np.add.at(matrix, (rows, low), 1 - weight)
    np.add.at(matrix, (rows, high), weight)
    return matrix


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


def app_steps(policy: str, height: int, width: int) -> str:
    """What an app does with a camera frame for this resize policy, in one sentence (card, snippets, metadata)."""
    sampling = (f"MediaPipe Tasks then samples it to {width}x{height} (bilinear, corner-aligned, no anti-aliasing), "
                "exactly as training did")
    ratio = f"{width // math.gcd(width, height)}:{height // math.gcd(width, height)}"
    if policy == "crop":
        return ("Hand over the whole frame with the centred region of interest of aspect "
                f"{ratio} (normalized left, top, right, bottom; the snippets compute it); {sampling}.")
    if policy == "pad":
        return (f"Letterbox the frame onto black to aspect {ratio} yourself (MediaPipe Tasks cannot pad: "
                "canvas max(W, H x aspect) by max(H, W / aspect), rounded, frame pasted at ((canvas W - W) // 2, "
                f"(canvas H - H) // 2)), then hand it over whole; {sampling}.")
    return f"Hand over the whole frame as it is, any size or aspect; {sampling}."
