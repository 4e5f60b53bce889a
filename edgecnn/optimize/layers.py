"""Choose layers by name, glob pattern or kind, for pruning and for leaving layers in float."""

from __future__ import annotations

import fnmatch

from edgecnn._tf import keras
from edgecnn.errors import RecipeError

KINDS = ("conv", "pointwise", "depthwise", "dense")


def layer_kind(layer) -> str | None:
    """conv (k x k, k > 1), pointwise (1 x 1), depthwise or dense; None for layers without a kernel."""
    K = keras()
    if isinstance(layer, K.layers.DepthwiseConv2D):
        return "depthwise"
    if isinstance(layer, K.layers.Conv2D):
        return "pointwise" if tuple(layer.kernel_size) == (1, 1) else "conv"
    if isinstance(layer, K.layers.Dense):
        return "dense"
    return None


def matches(layer, pattern: str) -> bool:
    return pattern == layer_kind(layer) or pattern == type(layer).__name__ or fnmatch.fnmatchcase(layer.name, pattern)


def select_layers(model, include: list[str], exclude: list[str], key: str) -> list[str]:
    """Names of the kernel layers matched by `include` and not by `exclude`; a pattern that matches no
    layer is an error naming `key`, so a typo never silently prunes nothing."""
    kernel_layers = [layer for layer in model.layers if layer_kind(layer)]
    for option, patterns in (("include", include), ("exclude", exclude)):
        check_patterns(model, patterns, f"{key}.{option}")
    chosen = [layer.name for layer in kernel_layers
              if any(matches(layer, p) for p in include) and not any(matches(layer, p) for p in exclude)]
    if not chosen:
        raise RecipeError(f"{key}: include {include} minus exclude {exclude} leaves no layer to prune")
    return chosen


def check_patterns(model, patterns: list[str], key: str) -> None:
    for pattern in patterns:
        if not any(matches(layer, pattern) for layer in model.layers):
            names = [layer.name for layer in model.layers if layer_kind(layer)]
            raise RecipeError(
                f"{key}: {pattern!r} matches no layer; use a kind ({', '.join(KINDS)}), a layer type (Conv2D) or "
                f"a name or glob, e.g. {', '.join(names[:3])}"
            )
