"""Start a model from learned weights: Keras' published ImageNet weights for the MobileNet presets, or the backbone
of another model file.

ImageNet weights come through the real `tf_keras.applications` call (`MobileNet` / `MobileNetV2` with
`weights="imagenet", include_top=False`): Keras downloads the file once into its cache (`~/.keras/models`; tf_keras
reads no KERAS_HOME) and reads it from there afterwards, offline. The weights are then copied onto edgecnn's
own layers by structure: the n-th convolution, depthwise convolution and BatchNorm of the source onto the n-th of
edgecnn's, each checked for the same kind and weight shapes (the presets build the published networks layer for
layer, so the outputs are the same: `tests/test_models_pretrained.py` checks them). The classifier is never copied:
it is made for the recipe's classes.
"""

from __future__ import annotations

import os
from pathlib import Path

from edgecnn._tf import keras
from edgecnn.errors import ModelError
from edgecnn.modelfile import load_keras

IMAGENET = "imagenet"
CLASSIFIER = "classifier"  # edgecnn's dense head (models/spec.py): never part of a backbone
# The widths and input sizes Keras publishes ImageNet weights for; another square size loads the 224 file (the
# convolution weights do not depend on the size), as Keras itself does.
PUBLISHED = {
    "mobilenet_v1": {"alphas": (0.25, 0.5, 0.75, 1.0), "sizes": (128, 160, 192, 224)},
    "mobilenet_v2": {"alphas": (0.35, 0.5, 0.75, 1.0, 1.3, 1.4), "sizes": (96, 128, 160, 192, 224)},
}


def imagenet_problem(name: str, alpha: float, blocks, input_shape: tuple[int, int, int],
                     normalization: str) -> str | None:
    """Why `model.pretrained: imagenet` cannot apply to this model and input (None when it can)."""
    if name not in PUBLISHED:
        return f"ImageNet weights exist for {', '.join(PUBLISHED)}, not {name}"
    if blocks:
        return "model.blocks changes the published network; remove it"
    if alpha not in PUBLISHED[name]["alphas"]:
        return f"Keras publishes {name} at alpha {', '.join(map(str, PUBLISHED[name]['alphas']))}, not {alpha}"
    if input_shape[-1] != 3:
        return "ImageNet weights take RGB: set data.channels: 3"
    if normalization != "symmetric":
        return "the published networks take pixels scaled to -1..1: set data.normalization: symmetric"
    if min(input_shape[:2]) < 32:
        return f"input {input_shape[0]}x{input_shape[1]} is below the published networks' 32x32"
    return None


def weights_file(name: str, alpha: float, input_shape: tuple[int, int, int]) -> str:
    """The file name Keras gives the no-top weights of this network (tf_keras/src/applications)."""
    rows = input_shape[0] if input_shape[0] == input_shape[1] and input_shape[0] in PUBLISHED[name]["sizes"] else 224
    if name == "mobilenet_v1":
        alpha_text = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}[alpha]
        return f"mobilenet_{alpha_text}_{rows}_tf_no_top.h5"
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}_no_top.h5"


def keras_cache() -> Path:
    """Where tf_keras keeps downloaded weights (`tf_keras.utils.get_file`): ~/.keras/models, or /tmp/.keras/models
    when ~/.keras is not a writable folder (a missing one included)."""
    base = Path(os.path.expanduser("~")) / ".keras"
    return (base if os.access(base, os.W_OK) else Path("/tmp/.keras")) / "models"


def imagenet_backbone(name: str, alpha: float, input_shape: tuple[int, int, int], weights: str | Path = IMAGENET):
    """The published network without its classifier, with Keras' ImageNet weights (or the weights file given)."""
    applications = keras().applications
    build = applications.MobileNet if name == "mobilenet_v1" else applications.MobileNetV2
    try:
        return build(input_shape=tuple(input_shape), alpha=alpha, include_top=False, weights=str(weights))
    except Exception as exc:  # get_file's download failure, or an unreadable file: name the file and the folder
        if weights != IMAGENET:
            raise ModelError(f"model.pretrained {weights}: not {name} alpha {alpha} weights Keras can load "
                             f"({_first_line(exc)})") from None
        cache = keras_cache()
        raise ModelError(f"model.pretrained imagenet: {weights_file(name, alpha, input_shape)} is not in the Keras "
                         f"cache {cache} and could not be downloaded ({_first_line(exc)}); build once on a machine "
                         f"with internet, or copy the file into {cache}") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def backbone_layers(model) -> list:
    """The layers that hold the backbone's learned weights, in the order the network runs them."""
    layers = keras().layers
    kinds = (layers.Conv2D, layers.DepthwiseConv2D, layers.BatchNormalization)
    return [layer for layer in model.layers if isinstance(layer, kinds)]


def copy_backbone(source, target, where: str) -> int:
    """Copy every backbone layer's weights of `source` onto `target`, checked layer by layer; the count copied.
    `where` names the source in the error when the two backbones differ."""
    theirs, ours = backbone_layers(source), backbone_layers(target)
    if len(theirs) != len(ours):
        raise ModelError(f"{where}: {len(theirs)} convolution and BatchNorm layers, the model has {len(ours)}: "
                         "a different backbone (model.name, alpha or blocks)")
    for index, (their, our) in enumerate(zip(theirs, ours)):
        shapes = _weight_shapes(their), _weight_shapes(our)
        if type(their) is not type(our) or shapes[0] != shapes[1]:
            raise ModelError(f"{where}: layer {index} {their.name} ({type(their).__name__} {shapes[0]}) does not fit "
                             f"{our.name} ({type(our).__name__} {shapes[1]}): a different backbone (model.name, "
                             "alpha or blocks)")
        our.set_weights(their.get_weights())
    return len(ours)


def _weight_shapes(layer) -> list[tuple]:
    return [tuple(weight.shape) for weight in layer.weights]


def warm_start(model, path: Path) -> bool:
    """Every weight of the model file at `path` (same architecture): the backbone, and the classifier when the
    classes are the same. Whether the classifier came too."""
    source = load_keras(path)
    copy_backbone(source, model, f"model.init_from {path}")
    theirs, ours = source.get_layer(CLASSIFIER), model.get_layer(CLASSIFIER)
    if _weight_shapes(theirs) != _weight_shapes(ours):
        return False
    ours.set_weights(theirs.get_weights())
    return True


def load_pretrained(model, source: str | Path, name: str, alpha: float) -> int:
    """Start `model` (edgecnn's `name` at `alpha`) from `source`: `imagenet`, a Keras model file (.keras: a run's
    model.keras) or a Keras weights file (.h5) of the published network. The number of layers copied."""
    input_shape = tuple(model.input_shape[1:])
    if source == IMAGENET:
        return copy_backbone(imagenet_backbone(name, alpha, input_shape), model, "model.pretrained imagenet")
    path = Path(source)
    if path.suffix == ".keras":
        return copy_backbone(load_keras(path), model, f"model.pretrained {path}")
    if path.suffix == ".h5" and name in PUBLISHED:
        return copy_backbone(imagenet_backbone(name, alpha, input_shape, path), model, f"model.pretrained {path}")
    raise ModelError(f"model.pretrained {path}: expected imagenet, a run folder, a .keras model file, or a Keras .h5 "
                     f"weights file of {', '.join(PUBLISHED)}")
