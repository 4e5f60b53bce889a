"""BatchNorm folded into the convolution before it, as a Keras model.

The TFLite converter folds each BatchNorm into its convolution anyway, multiplying every output channel
by its own factor and then quantizing the result per channel. Folding first, in Keras, lets a fine-tune
(clustering, QAT) see the kernels the file will hold: one scale per tensor then suffices, and a
layer's few clusters stay a few int8 codes across all its channels.
"""

from __future__ import annotations

import copy
from collections import Counter

import numpy as np

from edgecnn._tf import keras


def fold_batchnorm(model):
    """A new model where every BatchNormalization that is the only consumer of a Conv2D or DepthwiseConv2D
    is folded into it (the convolution gains a bias); the same outputs in inference, up to float rounding.
    Zeros in the kernels stay zeros. Other layers keep their weights."""
    K = keras()
    config = copy.deepcopy(model.get_config())
    folds = _foldable(config)
    kept = []
    for layer in config["layers"]:
        name = layer["config"]["name"]
        if name in folds:
            continue
        if name in folds.values():
            layer["config"]["use_bias"] = True
        for node in layer["inbound_nodes"]:
            for inbound in node:
                inbound[0] = folds.get(inbound[0], inbound[0])
        kept.append(layer)
    config["layers"] = kept
    config["output_layers"] = [[folds.get(name, name), *rest] for name, *rest in config["output_layers"]]
    folded = K.Model.from_config(config)
    into = {conv: bn for bn, conv in folds.items()}
    for layer in folded.layers:
        source = model.get_layer(layer.name)
        if layer.name in into:
            depthwise = isinstance(source, K.layers.DepthwiseConv2D)
            layer.set_weights(_folded_weights(source, model.get_layer(into[layer.name]), depthwise))
        else:
            layer.set_weights(source.get_weights())
    return folded


def _foldable(config: dict) -> dict[str, str]:
    """BatchNorm layer name -> the convolution it follows, where that convolution feeds nothing else. Read
    from the model's config: a layer shared with another model has more nodes than this model uses."""
    kinds = {layer["config"]["name"]: layer["class_name"] for layer in config["layers"]}
    sources = {layer["config"]["name"]: [entry[0] for node in layer["inbound_nodes"] for entry in node]
               for layer in config["layers"]}
    consumers = Counter(name for inbound in sources.values() for name in inbound)
    return {name: inbound[0] for name, inbound in sources.items()
            if kinds[name] == "BatchNormalization" and len(inbound) == 1
            and kinds[inbound[0]] in ("Conv2D", "DepthwiseConv2D") and consumers[inbound[0]] == 1}


def _folded_weights(conv, bn, depthwise: bool) -> list[np.ndarray]:
    gamma, beta, mean, variance = (w.numpy() for w in (bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance))
    factor = gamma / np.sqrt(variance + bn.epsilon)
    kernel, *bias = conv.get_weights()
    bias = bias[0] if bias else np.zeros_like(mean)
    # Conv2D kernels are (h, w, in, out), depthwise ones (h, w, channels, multiplier): output channel
    # c * multiplier + m of a depthwise layer is its kernel[..., c, m], so the factors reshape to the last two axes.
    return [kernel * factor.reshape(kernel.shape[-2:] if depthwise else (1, -1)), (bias - mean) * factor + beta]
