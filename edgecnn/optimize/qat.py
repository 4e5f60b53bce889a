"""Quantization-aware training with tfmot: fake-quantized fine-tuning, then a full-integer TFLite file.

A layer tfmot has no quantize config for is named in one line with the way out (leave it in float),
instead of tfmot's RuntimeError from deep inside `quantize_apply`.
"""

from __future__ import annotations

import re

from edgecnn._tf import keras, model_optimization
from edgecnn.errors import ModelError
from edgecnn.optimize.layers import check_patterns, matches

_UNSUPPORTED = re.compile(r"Layer (?P<name>[^:\s]+):<class '(?P<cls>[^']+)'> is not supported")


def quantize_for_training(model, leave_float: list[str] = (), scheme=None, key: str = "optimize.qat.leave_float"):
    """Wrap `model` for QAT (tfmot's default 8-bit scheme unless `scheme` is given), leaving the layers
    matched by `leave_float` in float. The result shares weights with `model`."""
    K, tfmot = keras(), model_optimization()
    quantization = tfmot.quantization.keras
    check_patterns(model, list(leave_float), key)
    kept_float = {layer.name for layer in model.layers if any(matches(layer, p) for p in leave_float)}

    def annotate(layer):
        if layer.name in kept_float or isinstance(layer, K.layers.InputLayer):
            return layer
        return quantization.quantize_annotate_layer(layer)

    annotated = K.models.clone_model(model, clone_function=annotate)
    try:
        with quantization.quantize_scope():
            return quantization.quantize_apply(annotated, scheme) if scheme else quantization.quantize_apply(annotated)
    except RuntimeError as exc:
        found = _UNSUPPORTED.search(str(exc))
        if not found:
            raise
        layer_type = found["cls"].rsplit(".", 1)[-1]
        raise ModelError(
            f"QAT: tfmot cannot quantize layer '{found['name']}' ({layer_type}); add it to {key} to keep it in "
            "float (the int8 file then runs it as a float operator)"
        ) from None
