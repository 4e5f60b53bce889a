"""What the convolutions detect: the first layer's kernels, feature maps of chosen layers for one
image, and the test images that excite each channel most. PNG grids drawn with Pillow.

Activations come from the `.tflite` file itself (LiteRT keeps every intermediate tensor on request;
int8 tensors are dequantized with their own scale and zero point), or from a `.keras` model.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from edgecnn._tf import keras
from edgecnn.artifacts.runners import dequantized, to_tensor_dtype
from edgecnn.data.contract import is_pixel_input
from edgecnn.data.images import array_image
from edgecnn.errors import VerificationError
from edgecnn.fileio import atomic_path
from edgecnn.modelfile import litert_interpreter

TILE = 48  # pixels per map or kernel tile
LABEL = 12  # pixels of caption under each tile


def default_layers(layers) -> list[str]:
    """The first, a middle and the last convolution (any kind) of the model."""
    convs = [layer.name for layer in layers if layer.kind in ("conv", "depthwise") and not is_pixel_input(layer.name)]
    if not convs:
        raise VerificationError("the model has no convolution layers to show")
    picks = [convs[0], convs[len(convs) // 2], convs[-1]]
    return list(dict.fromkeys(picks))


class Activations:
    """Outputs of named layers for a batch of normalized NHWC images."""

    def __init__(self, artifact):
        self.path, self.layers = artifact.path, {layer.name: layer for layer in artifact.layers}
        if self.path.suffix == ".tflite":
            with warnings.catch_warnings():
                # Keeping every intermediate tensor is the point here, not a debugging accident.
                warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors.*")
                self.interpreter = litert_interpreter(self.path, experimental_preserve_all_tensors=True)
            self.input = self.interpreter.get_input_details()[0]
        elif self.path.suffix == ".keras":
            self.model = artifact.runner().model
        else:
            raise VerificationError(f"{self.path}: feature maps need a .tflite or .keras model (for ONNX, use the run's "
                                    "model_float32.tflite)")

    def __call__(self, images: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
        unknown = [name for name in names if name not in self.layers]
        if unknown:
            raise VerificationError(f"--layers {unknown[0]!r}: no such layer in {self.path.name}; "
                                    f"layers: {', '.join(list(self.layers)[:12])}...")
        if self.path.suffix == ".keras":
            probe = keras().Model(self.model.input, [self.model.get_layer(n).output for n in names])
            outputs = probe.predict(images, batch_size=64, verbose=0)
            outputs = outputs if isinstance(outputs, list) else [outputs]
            return {name: np.asarray(out) for name, out in zip(names, outputs)}
        return self._tflite(images, names)

    def _tflite(self, images, names):
        collected = {name: [] for name in names}
        for one in to_tensor_dtype(images, self.input):
            self.interpreter.set_tensor(self.input["index"], one[None])
            self.interpreter.invoke()
            for name in names:
                index = self.layers[name].outputs[0]
                quantization = self.interpreter._get_tensor_details(index, 0)["quantization"]
                collected[name].append(dequantized(self.interpreter.get_tensor(index), quantization))
        return {name: np.concatenate(values) for name, values in collected.items()}


def kernel_grid(kernels: np.ndarray, title: str) -> Image.Image:
    """(kh, kw, Cin, Cout) weights: one tile per output channel (summed over input channels), all in one
    diverging scale centred on zero, so sign and relative strength read across tiles."""
    summed = kernels.sum(axis=2)
    bound = float(np.abs(summed).max()) or 1.0
    tiles = [(_colour(summed[..., c], -bound, bound), f"c{c}") for c in range(summed.shape[-1])]
    inputs = "" if kernels.shape[2] == 1 else f", summed over {kernels.shape[2]} input channels"
    return _grid(tiles, f"{title}{inputs}", scale=(-bound, bound, "weight"))


def feature_grid(maps: np.ndarray, layer: str, max_channels: int = 32) -> Image.Image:
    """(H, W, C) activations of one image: one tile per channel, every tile in the grid's one colour
    range (diverging around zero when there are negative values), pixels shown as pixels."""
    shown = maps[..., :max_channels]
    low, high = float(shown.min()), float(shown.max())
    if low < 0:
        low, high = -max(-low, high), max(-low, high)
    tiles = [(_colour(shown[..., c], low, high), f"c{c}") for c in range(shown.shape[-1])]
    more = f" (first {max_channels} of {maps.shape[-1]} channels)" if maps.shape[-1] > max_channels else ""
    return _grid(tiles, f"{layer}: {maps.shape[0]}x{maps.shape[1]} maps{more}", scale=(low, high, "activation"))


def strongest_grid(images: np.ndarray, activations: np.ndarray, layer: str, labels: list[str], class_names,
                   channels: int = 8, per_channel: int = 6) -> Image.Image:
    """For the first `channels` channels of `layer`: the test images with the highest mean activation,
    one row per channel, each captioned with its true class."""
    strength = activations.mean(axis=(1, 2))  # (N, C)
    tiles, rows = [], []
    for c in range(min(channels, strength.shape[1])):
        best = np.argsort(-strength[:, c], kind="stable")[:per_channel]
        tiles += [(array_image(images[i]).convert("RGB"), str(class_names[labels[i]])[:8]) for i in best]
        rows.append(f"channel {c}")
    return _grid(tiles, f"{layer}: the {per_channel} test images that excite each channel most (caption: true class)",
                 columns=per_channel, row_labels=rows)


def _colour(values: np.ndarray, low: float, high: float) -> Image.Image:
    """Values -> an RGB tile: blue-white-red when the range spans zero, else black-to-white."""
    share = np.clip((values - low) / ((high - low) or 1.0), 0, 1)
    if low < 0 < high:
        blue, red = np.clip(2 * share, 0, 1), np.clip(2 - 2 * share, 0, 1)  # 0 -> blue, 0.5 -> white, 1 -> red
        rgb = np.stack([blue, np.minimum(blue, red), red], axis=-1)
    else:
        rgb = np.repeat(share[..., None], 3, axis=-1)
    return Image.fromarray(np.uint8(np.round(rgb * 255)), "RGB")


def _font(size: int = 11):
    """DejaVu Sans (shipped with matplotlib): Pillow's built-in bitmap font drops the spaces in titles."""
    try:
        import matplotlib  # lazy: matplotlib (1 s) only when a picture is drawn

        return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"), size)
    except (ImportError, OSError):
        return ImageFont.load_default(size=size)


def _grid(tiles, title: str, columns: int = 8, scale: tuple | None = None, row_labels: list[str] | None = None):
    """Tiles in a sheet, enlarged pixel for pixel (nearest neighbour: an 8x8 map stays 8x8 blocks), a
    title, captions, optional row labels and a colour bar for the sheet's one colour range."""
    font = _font()
    columns = min(columns, max(1, len(tiles)))
    rows = -(-len(tiles) // columns)
    left_margin = 70 if row_labels else 4
    width = max(left_margin + columns * (TILE + 4) + 4, int(draw_width(title, font)) + 8)
    top = 22 + (26 if scale else 0)
    sheet = Image.new("RGB", (width, top + rows * (TILE + LABEL + 6)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 4), title, fill=(0, 0, 0), font=font)
    if scale:
        _colour_bar(sheet, draw, font, *scale)
    for i, (tile, caption) in enumerate(tiles):
        x, y = left_margin + (i % columns) * (TILE + 4), top + (i // columns) * (TILE + LABEL + 6)
        sheet.paste(tile.convert("RGB").resize((TILE, TILE), Image.Resampling.NEAREST), (x, y))
        draw.text((x, y + TILE + 1), caption, fill=(60, 60, 60), font=_font(9))
    for row, label in enumerate(row_labels or []):
        draw.text((4, top + row * (TILE + LABEL + 6) + TILE // 2 - 6), label, fill=(0, 0, 0), font=font)
    return sheet


def draw_width(text: str, font) -> float:
    return font.getlength(text)


def _colour_bar(sheet, draw, font, low: float, high: float, label: str) -> None:
    """A 160-pixel strip under the title: the colour of every value from `low` to `high`."""
    ramp = _colour(np.linspace(low, high, 160)[None].repeat(8, axis=0), low, high)
    sheet.paste(ramp, (4, 26))
    draw.text((4, 35), f"{low:.3g}", fill=(0, 0, 0), font=_font(9))
    draw.text((130, 35), f"{high:.3g}", fill=(0, 0, 0), font=_font(9))
    draw.text((170, 24), f"{label} (one scale for the whole sheet)", fill=(60, 60, 60), font=_font(9))


def enlarged(image: Image.Image, shortest_side: int = 160) -> Image.Image:
    """A small image scaled up pixel for pixel until its shorter side is at least `shortest_side`."""
    factor = max(1, -(-shortest_side // min(image.size)))
    return image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)


def save_png(image: Image.Image, path: Path) -> Path:
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
    return Path(path)
