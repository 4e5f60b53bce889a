"""Turn an expanded architecture (`edgecnn.models.spec`) into a tf_keras model."""

from __future__ import annotations

from edgecnn._tf import keras
from edgecnn.models.spec import LayerSpec


def build_keras_model(
    layers: list[LayerSpec],
    input_shape: tuple[int, int, int],
    name: str,
    dropout: float = 0.1,
    l2: float = 1e-4,
    initializer: str = "he_normal",
    padding: str = "same",
    batchnorm_momentum: float = 0.9,
    synchronized_batchnorm: bool = False,
):
    """Stem, blocks, global average pooling, dropout and a softmax classifier. `synchronized_batchnorm`:
    batch statistics over the global batch when several workers each train on a share of it."""
    K = keras()
    regularizer = K.regularizers.l2(l2) if l2 > 0 else None
    inputs = K.Input(shape=input_shape, name="input")
    x = inputs
    block_inputs: dict[str, object] = {}
    for layer in layers[:-1]:
        block_inputs.setdefault(layer.name.rsplit("_", 1)[0], x)
        x = _weight_layer(K, layer, padding, initializer, regularizer)(x)
        if layer.batchnorm:
            x = K.layers.BatchNormalization(epsilon=1e-3, momentum=batchnorm_momentum,
                                          synchronized=synchronized_batchnorm, name=f"{layer.name}_bn")(x)
        if layer.activation:
            x = K.layers.ReLU(6.0, name=f"{layer.name}_relu")(x)
        if layer.residual_add:
            x = K.layers.Add(name=layer.residual_add)([block_inputs[layer.name.rsplit("_", 1)[0]], x])
    x = K.layers.GlobalAveragePooling2D(name="pool")(x)
    if dropout > 0:
        x = K.layers.Dropout(dropout, name="dropout")(x)
    head = layers[-1]
    x = K.layers.Dense(
        head.out_channels, kernel_initializer="glorot_uniform", kernel_regularizer=regularizer, name=head.name
    )(x)
    outputs = K.layers.Softmax(name="probabilities")(x)
    return K.Model(inputs, outputs, name=name)


def _weight_layer(K, layer: LayerSpec, padding: str, initializer: str, regularizer):
    if layer.op == "depthwise":
        return K.layers.DepthwiseConv2D(
            layer.kernel, strides=layer.stride, padding=padding, use_bias=False,
            depthwise_initializer=initializer, depthwise_regularizer=regularizer, name=layer.name,
        )
    # 1x1 convolutions never need padding; "valid" keeps them exact for any padding choice.
    return K.layers.Conv2D(
        layer.out_channels, layer.kernel, strides=layer.stride, padding=padding if layer.kernel > 1 else "valid",
        use_bias=False, kernel_initializer=initializer, kernel_regularizer=regularizer, name=layer.name,
    )
