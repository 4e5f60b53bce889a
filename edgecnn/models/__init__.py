"""Models: block strings, a registry of presets and the tf_keras builder (imported lazily)."""

from edgecnn.models import presets as _presets  # noqa: F401  (registers the presets)
from edgecnn.models.blocks import BlockSpec, decode_block, make_divisible
from edgecnn.models.registry import create_model, get_preset, list_presets, preset_summary, register_model, resolve_layers
from edgecnn.models.spec import LayerSpec, count, expand_architecture

__all__ = [
    "BlockSpec", "LayerSpec", "count", "create_model", "decode_block", "expand_architecture", "get_preset",
    "list_presets", "make_divisible", "preset_summary", "register_model", "resolve_layers",
]
