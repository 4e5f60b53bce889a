"""A deterministic generator of labelled shape images, for offline training and tests.

Each image holds one shape (the label) with a random size, position, rotation and colour on a
random, noisy background. The same arguments and seed always give the same images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from edgecnn.data.images import array_image
from edgecnn.errors import DataError

SUPERSAMPLE = 4  # draw large, then downsample: anti-aliased edges at any output size


def _polygon(cx, cy, radius, angle, corners, inner=None):
    """Regular polygon (or star, with an inner radius) as a list of points."""
    points = []
    steps = corners * (2 if inner else 1)
    for k in range(steps):
        r = inner if inner and k % 2 else radius
        theta = angle + 2 * math.pi * k / steps
        points.append((cx + r * math.cos(theta), cy + r * math.sin(theta)))
    return points


def _bar(cx, cy, length, thickness, angle):
    """A rotated rectangle centred on (cx, cy)."""
    dx, dy = math.cos(angle), math.sin(angle)
    hl, ht = length / 2, thickness / 2
    return [
        (cx + sx * hl * dx - st * ht * dy, cy + sx * hl * dy + st * ht * dx)
        for sx, st in ((-1, -1), (1, -1), (1, 1), (-1, 1))
    ]


def _draw_circle(draw, cx, cy, r, angle, fill):
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)


def _draw_ring(draw, cx, cy, r, angle, fill):
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=fill, width=max(2, int(r * 0.3)))


def _draw_square(draw, cx, cy, r, angle, fill):
    draw.polygon(_polygon(cx, cy, r, angle, 4), fill=fill)


def _draw_triangle(draw, cx, cy, r, angle, fill):
    draw.polygon(_polygon(cx, cy, r, angle, 3), fill=fill)


def _draw_star(draw, cx, cy, r, angle, fill):
    draw.polygon(_polygon(cx, cy, r, angle, 5, inner=r * 0.45), fill=fill)


def _draw_cross(draw, cx, cy, r, angle, fill):
    for turn in (0.0, math.pi / 2):
        draw.polygon(_bar(cx, cy, 2 * r, r * 0.45, angle + turn), fill=fill)


def _draw_line(draw, cx, cy, r, angle, fill):
    draw.polygon(_bar(cx, cy, 2 * r, max(2.0, r * 0.25), angle), fill=fill)


SHAPES = {
    "circle": _draw_circle,
    "square": _draw_square,
    "triangle": _draw_triangle,
    "cross": _draw_cross,
    "line": _draw_line,
    "ring": _draw_ring,
    "star": _draw_star,
}


def generate_shapes(
    count: int,
    size: tuple[int, int],
    channels: int,
    classes: list[str],
    seed: int,
    noise: float = 0.08,
    size_range: tuple[float, float] = (0.35, 0.8),
):
    """Return (uint8 images NHWC, int64 labels, class names), balanced across classes."""
    labels, scenes = _scenes(count, size, channels, classes, seed, noise, size_range)
    images = np.stack([_noisy(_paint(scene, size, channels), stored_noise) for scene, stored_noise in scenes])
    return images, labels.astype(np.int64), list(classes)


def shape_camera_frames(count: int, size: tuple[int, int], channels: int, classes: list[str], seed: int,
                        noise: float, size_range: tuple[float, float], ids, scale: float) -> list[np.ndarray]:
    """Images `ids` of `generate_shapes` (same arguments) as a camera with `scale` times the pixels per side
    would capture the same scenes: drawn again at that resolution, with the same noise per pixel.

    Why not enlarge the stored image: its noise would be interpolated, and MediaPipe's corner-aligned sampling
    (`edgecnn.data.frames`) then reads between enlarged pixels, averaging the noise away; the app would get
    cleaner inputs than a camera gives (+0.3 to +1.9 points over the report on recipes/shapes.yaml). Drawn at
    the camera's resolution, a frame an integer number of times larger reaches the model through MediaPipe with
    the noise the test split has."""
    wanted = {int(i) for i in ids}
    _, scenes = _scenes(count, size, channels, classes, seed, noise, size_range, stop=max(wanted, default=-1) + 1)
    supersample = max(1, round(SUPERSAMPLE / scale))  # the stored image's canvas density: 8x costs 4x, not 64x
    frames = {}
    for i, (scene, _stored_noise) in enumerate(scenes):
        if i in wanted:
            pixels = _paint(scene, size, channels, scale, supersample)
            camera_noise = np.random.default_rng([seed, i, round(scale * 1000)])
            frames[i] = _noisy(pixels, camera_noise.normal(0.0, noise * 255.0, pixels.shape))
    return [frames[int(i)] for i in ids]


@dataclass(frozen=True)
class _Scene:
    """What one image shows, in the stored image's pixel units: paintable at any resolution."""

    shape: str
    background: int | tuple[int, ...]
    foreground: int | tuple[int, ...]
    cx: float
    cy: float
    radius: float
    angle: float


def _scenes(count, size, channels, classes, seed, noise, size_range, stop=None):
    """(labels, an iterator of (scene, the stored image's noise)), drawn in the one random order that makes
    `generate_shapes` reproducible: a scene's draws, then its noise, image after image."""
    unknown = [name for name in classes if name not in SHAPES]
    if unknown:
        raise DataError(f"data.shapes.classes: unknown shape {unknown[0]!r}; expected some of {', '.join(SHAPES)}")
    if len(set(classes)) != len(classes):
        raise DataError("data.shapes.classes: a shape is listed twice")
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % len(classes)
    rng.shuffle(labels)

    return labels, (_draw(classes[label], size, channels, rng, noise, size_range) for label in labels[:stop])


def _render(shape, size, channels, rng, noise, size_range, centred: bool = False):
    """One image; `centred` keeps the shape inside the frame's centred square, as a photographer frames a subject."""
    scene, stored_noise = _draw(shape, size, channels, rng, noise, size_range, centred)
    return _noisy(_paint(scene, size, channels), stored_noise)


def _draw(shape, size, channels, rng, noise, size_range, centred: bool = False) -> tuple[_Scene, np.ndarray]:
    """One image's random draws, in the order every generated image has always used: its scene, then its noise."""
    scene = _scene(shape, size, channels, rng, size_range, centred)
    return scene, rng.normal(0.0, noise * 255.0, (*size, channels))


def _scene(shape, size, channels, rng, size_range, centred: bool = False) -> _Scene:
    height, width = size
    background, foreground = _contrasting_colours(rng, channels)
    side = min(height, width) * SUPERSAMPLE  # drawn in canvas units, as the stored images always were
    radius = rng.uniform(*size_range) * side / 2
    big_w, big_h = width * SUPERSAMPLE, height * SUPERSAMPLE
    left, top = ((big_w - side) / 2, (big_h - side) / 2) if centred else (0, 0)
    cx = left + rng.uniform(radius, (side if centred else big_w) - radius)
    cy = top + rng.uniform(radius, (side if centred else big_h) - radius)
    angle = rng.uniform(0, 2 * math.pi)
    # Dividing by a power of two is exact: painted at scale 1 the canvas coordinates are the drawn ones, bit for bit.
    return _Scene(shape, background, foreground, cx / SUPERSAMPLE, cy / SUPERSAMPLE, radius / SUPERSAMPLE, angle)


def _paint(scene: _Scene, size, channels, scale: float = 1.0, supersample: int = SUPERSAMPLE) -> np.ndarray:
    """The scene without noise, float32 (H, W, C) at `scale` times `size`: drawn `supersample` times larger,
    then box-filtered down (anti-aliased edges)."""
    height, width = max(1, round(size[0] * scale)), max(1, round(size[1] * scale))
    canvas = Image.new("L" if channels == 1 else "RGB", (width * supersample, height * supersample), scene.background)
    factor = scale * supersample
    SHAPES[scene.shape](ImageDraw.Draw(canvas), scene.cx * factor, scene.cy * factor, scene.radius * factor,
                        scene.angle, scene.foreground)
    small = np.asarray(canvas.resize((width, height), Image.Resampling.BOX), dtype=np.float32)
    return small.reshape(height, width, channels)


def _noisy(pixels: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """uint8 pixels + noise, rounded in float32 (as the stored images always were)."""
    return np.clip(np.round((pixels + noise).astype(np.float32)), 0, 255).astype(np.uint8)


def _contrasting_colours(rng, channels):
    """A background and a foreground colour whose brightness differs by at least 80 of 255."""
    while True:
        background = rng.integers(0, 256, size=channels)
        foreground = rng.integers(0, 256, size=channels)
        if abs(float(background.mean()) - float(foreground.mean())) >= 80:
            break
    as_fill = (lambda c: int(c[0])) if channels == 1 else (lambda c: tuple(int(v) for v in c))
    return as_fill(background), as_fill(foreground)


def write_shapes_folder(root, count: int, classes: list[str], seed: int, sides=(48, 96), formats=("png", "jpg"),
                        channels: int = 3, jpeg_quality: int = 90) -> list[str]:
    """Write `count` shape images into `root/CLASS/NNNNN.ext`: an image folder like a user's, with mixed
    sizes (each side drawn from `sides`) and mixed formats. Returns the paths, for demos, tests and benchmarks."""
    def frame_size(rng, i):
        return int(rng.integers(sides[0], sides[1] + 1)), int(rng.integers(sides[0], sides[1] + 1))

    return _write_folder(root, count, classes, seed, frame_size, channels, formats, jpeg_quality, centred=False)


# Camera frame shapes (width:height) for the photo demo: square, 4:3 and 16:9, landscape and portrait.
CAMERA_ASPECTS = (1.0, 4 / 3, 3 / 4, 16 / 9, 9 / 16)


def write_photo_demo(root, count: int, classes: list[str], seed: int, short_sides=(64, 160)) -> list[str]:
    """`edgecnn data demo photos`: shapes photographed as a person frames a subject: camera-shaped frames (square,
    4:3, 16:9, either way up; the short side drawn from `short_sides`), the shape anywhere inside the centred
    square, its radius 40-80% of half the short side; PNG and JPEG alternately."""
    def frame_size(rng, i):
        short, aspect = int(rng.integers(short_sides[0], short_sides[1] + 1)), CAMERA_ASPECTS[i % len(CAMERA_ASPECTS)]
        return (short, round(short * aspect)) if aspect >= 1 else (round(short / aspect), short)

    return _write_folder(root, count, classes, seed, frame_size, 3, ("png", "jpg"), 90, centred=True)


def _write_folder(root, count: int, classes: list[str], seed: int, frame_size, channels: int, formats,
                  jpeg_quality: int, centred: bool) -> list[str]:
    """`count` images, classes balanced and shuffled, into `root/CLASS/NNNNN.ext`; `frame_size(rng, i)` gives
    image i's (height, width), drawn before the image itself."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % len(classes)
    rng.shuffle(labels)
    paths = []
    for i, label in enumerate(labels):
        pixels = _render(classes[label], frame_size(rng, i), channels, rng, 0.05, (0.4, 0.8), centred=centred)
        folder = root / classes[label]
        folder.mkdir(parents=True, exist_ok=True)
        extension = formats[i % len(formats)]
        path = folder / f"{i:05d}.{extension}"
        image = array_image(pixels)
        image.save(path, quality=jpeg_quality) if extension in ("jpg", "jpeg") else image.save(path)
        paths.append(str(path))
    return paths
