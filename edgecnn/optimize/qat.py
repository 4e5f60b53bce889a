"""Quantization-aware training with tfmot: fake-quantized fine-tuning, then a full-integer TFLite file.

A layer tfmot has no quantize config for is named in one line with the way out (leave it in float),
instead of tfmot's RuntimeError from deep inside `quantize_apply`.
"""

from __future__ import annotations

import re

from edgecnn._tf import keras, model_optimization
from edgecnn.errors import ModelError
from edgecnn.optimize.finetune import fresh_copy
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


def prepare_qat(model, images, leave_float: list[str] = (), scheme=None):
    """A QAT copy of `model` (weights copied, `model` untouched) with activation ranges calibrated on `images`."""
    source = fresh_copy(model)
    quantized = quantize_for_training(source, leave_float, scheme)
    initialise_ranges(quantized, source, images)
    return quantized


_INPUT_RANGE = re.compile(r"quantize_layer(?:_\d+)?/quantize_layer(?:_\d+)?_(?P<end>min|max)")
_RANGE = re.compile(r"^quant_(?P<layer>.+)/(?:output|post_activation)_(?P<end>min|max)(?::\d+)?$")


def initialise_ranges(qat_model, float_model, images) -> int:
    """Start each activation range at what the float model's layer really outputs on `images`.

    tfmot starts every range at [-6, 6] and moves it by an exponential average with decay 0.999, so a
    fine-tune of a few hundred steps ends with ranges still near [-6, 6]: logits beyond 6 clip, ties
    appear, and the int8 file disagrees with float. Calibrated starting ranges (as converter PTQ uses)
    remove that. Returns how many ranges were set."""
    K = keras()
    variables = [(v, _RANGE.match(v.name.split("/", 1)[-1] if v.name.count("/") > 1 else v.name))
                 for v in qat_model.non_trainable_variables]
    variables = [(v, m) for v, m in variables if m and m["layer"] in {layer.name for layer in float_model.layers}]
    if not variables:
        return 0
    names = sorted({m["layer"] for _, m in variables})
    probe = K.Model(float_model.inputs, [float_model.get_layer(name).output for name in names])
    outputs = probe.predict(images, batch_size=128, verbose=0)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    ranges = {name: (min(float(out.min()), 0.0), max(float(out.max()), 0.0)) for name, out in zip(names, outputs)}
    for variable, found in variables:
        low, high = ranges[found["layer"]]
        variable.assign(low if found["end"] == "min" else high)
    inputs = [(v, _INPUT_RANGE.search(v.name)) for v in qat_model.non_trainable_variables]
    inputs = [(v, m) for v, m in inputs if m]
    for variable, found in inputs:  # the input quantizer starts at [0, 0]: every image would quantize to 0
        variable.assign(min(float(images.min()), 0.0) if found["end"] == "min" else max(float(images.max()), 0.0))
    return len(variables) + len(inputs)
