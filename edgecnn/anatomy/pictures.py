"""What the convolutions detect: the first layer's kernels, feature maps of chosen layers for one
image, and the test images that excite each channel most. PNG grids drawn with Pillow.

Activations come from the `.tflite` file itself (LiteRT keeps every intermediate tensor on request;
int8 tensors are dequantized with their own scale and zero point), or from a `.keras` model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from edgecnn.data.contract import is_pixel_input
from edgecnn.data.images import array_image
from edgecnn.errors import VerificationError
from edgecnn.fileio import atomic_path

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

    def __init__(self, path: Path, layers):
        self.path, self.layers = Path(path), {layer.name: layer for layer in layers}
        if self.path.suffix == ".tflite":
            from ai_edge_litert.interpreter import Interpreter

            from edgecnn.fileio import captured_native_stderr

            import warnings

            with captured_native_stderr(), warnings.catch_warnings():
                # Keeping every intermediate tensor is the point here, not a debugging accident.
                warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors.*")
                self.interpreter = Interpreter(model_path=str(self.path), experimental_preserve_all_tensors=True)
                self.interpreter.allocate_tensors()
            self.input = self.interpreter.get_input_details()[0]
        elif self.path.suffix == ".keras":
            from edgecnn.train import load_model

            self.model = load_model(self.path)
        else:
            raise VerificationError(f"{path}: feature maps need a .tflite or .keras model (for ONNX, use the run's "
                                    "model_float32.tflite)")

    def __call__(self, images: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
        unknown = [name for name in names if name not in self.layers]
        if unknown:
            raise VerificationError(f"--layers {unknown[0]!r}: no such layer in {self.path.name}; "
                                    f"layers: {', '.join(list(self.layers)[:12])}...")
        if self.path.suffix == ".keras":
            from edgecnn._tf import keras

            probe = keras().Model(self.model.input, [self.model.get_layer(n).output for n in names])
            outputs = probe.predict(images, batch_size=64, verbose=0)
            outputs = outputs if isinstance(outputs, list) else [outputs]
            return {name: np.asarray(out) for name, out in zip(names, outputs)}
        return self._tflite(images, names)

    def _tflite(self, images, names):
        from edgecnn.verify.runtimes import dequantized, to_tensor_dtype

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
    """(kh, kw, Cin, Cout) weights: one tile per output channel, colour for 3 input channels."""
    tiles = []
    for c in range(kernels.shape[-1]):
        k = kernels[..., c]
        k = (k - k.min()) / (np.ptp(k) or 1.0)
        tile = k if k.shape[-1] == 3 else k.mean(axis=-1)
        tiles.append((Image.fromarray(np.uint8(tile * 255)), f"c{c}"))
    return _grid(tiles, title, resample=Image.Resampling.NEAREST)


def feature_grid(maps: np.ndarray, layer: str, max_channels: int = 32) -> Image.Image:
    """(H, W, C) activations of one image: one tile per channel, each scaled to its own range."""
    tiles = []
    for c in range(min(maps.shape[-1], max_channels)):
        m = maps[..., c]
        m = (m - m.min()) / (np.ptp(m) or 1.0)
        tiles.append((Image.fromarray(np.uint8(m * 255)), f"c{c}"))
    more = f" (first {max_channels} of {maps.shape[-1]} channels)" if maps.shape[-1] > max_channels else ""
    return _grid(tiles, f"{layer}: {maps.shape[0]}x{maps.shape[1]} maps{more}")


def strongest_grid(images: np.ndarray, activations: np.ndarray, layer: str, labels: list[str], class_names,
                   channels: int = 8, per_channel: int = 6) -> Image.Image:
    """For the first `channels` channels of `layer`: the test images with the highest mean activation."""
    strength = activations.mean(axis=(1, 2))  # (N, C)
    rows = []
    for c in range(min(channels, strength.shape[1])):
        best = np.argsort(-strength[:, c], kind="stable")[:per_channel]
        rows.append([(array_image(images[i]), f"c{c} {class_names[labels[i]]}"[:14]) for i in best])
    columns = per_channel
    flat = [tile for row in rows for tile in row]
    return _grid(flat, f"{layer}: test images that excite each channel most", columns=columns)


def _grid(tiles, title: str, columns: int = 8, resample=Image.Resampling.BILINEAR) -> Image.Image:
    columns = min(columns, max(1, len(tiles)))
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * (TILE + 4) + 4, 20 + rows * (TILE + LABEL + 4)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 4), title, fill=(0, 0, 0))
    for i, (tile, caption) in enumerate(tiles):
        left, top = 4 + (i % columns) * (TILE + 4), 20 + (i // columns) * (TILE + LABEL + 4)
        sheet.paste(tile.convert("RGB").resize((TILE, TILE), resample), (left, top))
        draw.text((left, top + TILE), caption, fill=(60, 60, 60))
    return sheet


def save_png(image: Image.Image, path: Path) -> Path:
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
    return Path(path)
