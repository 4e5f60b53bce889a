"""Expand block strings into a flat list of layers with shapes: the one description of a network.

The Keras builder (`edgecnn.models.keras_builder`) turns it into layers; `count` sums parameters
and multiply-accumulates without TensorFlow, so `edgecnn models` stays instant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from edgecnn.errors import ModelError
from edgecnn.models.blocks import decode_block, scaled_channels


@dataclass(frozen=True)
class LayerSpec:
    """One weight layer (with its BatchNorm and activation) in execution order."""

    name: str  # e.g. 'block_3_dw'; BN is '<name>_bn', activation '<name>_relu'
    op: str  # conv | depthwise | dense
    kernel: int
    stride: int
    in_channels: int
    out_channels: int
    out_height: int
    out_width: int
    batchnorm: bool = True
    activation: bool = True  # ReLU6 after BN
    residual_add: str | None = None  # name of the Add layer that joins the block's input back in (ir blocks)

    @property
    def params(self) -> int:
        if self.op == "dense":
            return self.in_channels * self.out_channels + self.out_channels
        per_out = self.kernel * self.kernel * (1 if self.op == "depthwise" else self.in_channels)
        return per_out * self.out_channels + (4 * self.out_channels if self.batchnorm else 0)

    @property
    def macs(self) -> int:
        if self.op == "dense":
            return self.in_channels * self.out_channels
        per_out = self.kernel * self.kernel * (1 if self.op == "depthwise" else self.in_channels)
        return per_out * self.out_channels * self.out_height * self.out_width


def output_side(size: int, kernel: int, stride: int, padding: str) -> int:
    if padding == "same":
        return math.ceil(size / stride)
    return (size - kernel) // stride + 1


def expand_architecture(
    blocks: list[str], input_shape: tuple[int, int, int], num_classes: int, alpha: float = 1.0, padding: str = "same"
) -> list[LayerSpec]:
    """Decode every block string and infer every layer's channels and output size."""
    if not blocks:
        raise ModelError("a model needs at least one block")
    height, width, channels = input_shape
    layers: list[LayerSpec] = []
    for block_id, spec in enumerate(_unrolled(blocks)):
        out_channels = scaled_channels(spec, alpha)
        new_layers = _block_layers(f"block_{block_id}", spec, channels, out_channels, (height, width), padding)
        for layer in new_layers:
            if layer.out_height < 1 or layer.out_width < 1:
                raise ModelError(
                    f"block_{block_id} ({spec.kind}, stride {spec.stride}, {padding}) shrinks the "
                    f"{input_shape[0]}x{input_shape[1]} input to nothing; use fewer stride-2 blocks or a larger image_size"
                )
        layers.extend(new_layers)
        height, width, channels = new_layers[-1].out_height, new_layers[-1].out_width, out_channels
    layers.append(LayerSpec("classifier", "dense", 1, 1, channels, num_classes, 1, 1, batchnorm=False, activation=False))
    return layers


def _unrolled(blocks: list[str]):
    for text in blocks:
        spec = decode_block(text)
        for repeat in range(spec.repeats):
            yield spec if repeat == 0 else _replace_stride(spec)


def _replace_stride(spec):

    return replace(spec, stride=1)


def _block_layers(name, spec, in_channels, out_channels, size, padding) -> list[LayerSpec]:
    k, s = spec.kernel, spec.stride
    h, w = (output_side(side, k, s, padding) for side in size)
    if spec.kind == "cn":
        return [LayerSpec(f"{name}_conv", "conv", k, s, in_channels, out_channels, h, w)]
    if spec.kind == "ds":
        return [
            LayerSpec(f"{name}_dw", "depthwise", k, s, in_channels, in_channels, h, w),
            LayerSpec(f"{name}_pw", "conv", 1, 1, in_channels, out_channels, h, w),
        ]
    layers = []
    hidden = in_channels * spec.expansion
    if spec.expansion != 1:
        layers.append(LayerSpec(f"{name}_expand", "conv", 1, 1, in_channels, hidden, *size))
    layers.append(LayerSpec(f"{name}_dw", "depthwise", k, s, hidden, hidden, h, w))
    residual = f"{name}_add" if s == 1 and in_channels == out_channels and (h, w) == tuple(size) else None
    layers.append(
        LayerSpec(f"{name}_project", "conv", 1, 1, hidden, out_channels, h, w, activation=False, residual_add=residual)
    )
    return layers


def count(layers: list[LayerSpec]) -> dict:
    """Total parameters and multiply-accumulates at batch 1."""
    return {"params": sum(layer.params for layer in layers), "macs": sum(layer.macs for layer in layers)}
