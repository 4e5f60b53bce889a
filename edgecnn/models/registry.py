"""Named architectures: `@register_model` presets and `create_model(name, ...)`."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Callable

from edgecnn.errors import ModelError
from edgecnn.models.keras_builder import build_keras_model
from edgecnn.models.spec import LayerSpec, count, expand_architecture


@dataclass(frozen=True)
class Preset:
    name: str
    blocks: tuple[str, ...]
    default_input: tuple[int, int, int]
    default_classes: int
    description: str


_REGISTRY: dict[str, Preset] = {}


def register_model(fn: Callable[[], Preset]) -> Callable[[], Preset]:
    """Register a preset function under its own name."""
    preset = fn()
    _REGISTRY[preset.name] = preset
    return fn


def get_preset(name: str) -> Preset:
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; available: {', '.join(sorted(_REGISTRY))}"
        raise ModelError(f"model.name: unknown model {name!r}{hint}")
    return _REGISTRY[name]


def list_presets() -> list[Preset]:
    return list(_REGISTRY.values())


def plain_blocks(blocks: tuple[str, ...]) -> tuple[str, ...]:
    """The same network with every depthwise-separable block replaced by one standard convolution."""
    return tuple("cn" + text[2:] if text.startswith("ds_") else text for text in blocks)


def resolve_layers(
    name: str,
    input_shape: tuple[int, int, int] | None = None,
    num_classes: int | None = None,
    alpha: float = 1.0,
    blocks: list[str] | None = None,
    padding: str = "same",
) -> list[LayerSpec]:
    """The expanded layer list of a preset, with optional block override and width multiplier."""
    if not 0.0 < alpha <= 4.0:
        raise ModelError(f"alpha must be in (0, 4]; received alpha={alpha}")
    preset = get_preset(name)
    return expand_architecture(
        list(blocks or preset.blocks),
        tuple(input_shape or preset.default_input),
        num_classes or preset.default_classes,
        alpha=alpha,
        padding=padding,
    )


def create_model(
    name: str,
    input_shape: tuple[int, int, int] | None = None,
    num_classes: int | None = None,
    dropout: float = 0.1,
    l2: float = 1e-4,
    initializer: str = "he_normal",
    batchnorm_momentum: float = 0.9,
    synchronized_batchnorm: bool = False,
    **architecture,
):
    """Build a registered architecture as a tf_keras model; `architecture` is what `resolve_layers` takes beside
    the name and sizes (alpha, blocks, padding)."""
    preset = get_preset(name)
    layers = resolve_layers(name, input_shape, num_classes, **architecture)
    return build_keras_model(
        layers, tuple(input_shape or preset.default_input), name, dropout=dropout, l2=l2,
        initializer=initializer, padding=architecture.get("padding", "same"), batchnorm_momentum=batchnorm_momentum,
        synchronized_batchnorm=synchronized_batchnorm,
    )


def preset_summary(preset: Preset) -> dict:
    totals = count(resolve_layers(preset.name))
    return {
        "name": preset.name,
        "input": list(preset.default_input),
        "classes": preset.default_classes,
        "params": totals["params"],
        "macs": totals["macs"],
        "blocks": list(preset.blocks),
        "description": preset.description,
    }
