"""Pretrained backbones: Keras' published ImageNet weights reach edgecnn's MobileNet presets through the real
`tf_keras.applications` call, layer for layer. No test downloads: the weights files are made here (the published
architecture with random weights, saved under the exact name Keras looks for in its cache), and the offline error
is met with the network shut by a proxy that refuses."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from edgecnn.errors import ModelError
from edgecnn.models.pretrained import PUBLISHED, imagenet_problem, weights_file

# Every published width at the smallest size, and every published size at the smallest width.
CASES = [(name, alpha, PUBLISHED[name]["sizes"][0]) for name in PUBLISHED for alpha in PUBLISHED[name]["alphas"]]
CASES += [(name, PUBLISHED[name]["alphas"][0], size) for name in PUBLISHED for size in PUBLISHED[name]["sizes"][1:]]


def keras_home(home, monkeypatch=None):
    """A home folder of the test's own whose ~/.keras is tf_keras's cache (tf_keras reads HOME, no KERAS_HOME)."""
    (home / ".keras").mkdir(exist_ok=True)
    if monkeypatch is not None:
        monkeypatch.setenv("HOME", str(home))
    return home / ".keras"


def cached_weights(keras_folder, name: str, alpha: float, size: int):
    """The published network with random (not trivial) weights, saved where Keras' own download would put them."""
    from edgecnn._tf import keras
    from edgecnn.models.pretrained import imagenet_backbone  # noqa: F401  (the module under test builds the same)

    K = keras()
    build = K.applications.MobileNet if name == "mobilenet_v1" else K.applications.MobileNetV2
    network = build(input_shape=(size, size, 3), alpha=alpha, include_top=False, weights=None)
    rng = np.random.default_rng(int(alpha * 100) + size)
    for layer in network.layers:
        if isinstance(layer, K.layers.BatchNormalization):  # gamma, beta, moving mean, moving variance
            gamma, beta, mean, variance = (w.shape for w in layer.get_weights())
            layer.set_weights([rng.uniform(0.5, 1.5, gamma), rng.normal(0, 0.1, beta), rng.normal(0, 0.1, mean),
                               rng.uniform(0.5, 2.0, variance)])
    folder = keras_folder / "models"
    folder.mkdir(parents=True, exist_ok=True)
    network.save_weights(str(folder / weights_file(name, alpha, (size, size, 3))))
    return network


@pytest.mark.build  # builds Keras models: TensorFlow
@pytest.mark.parametrize("name, alpha, size", CASES, ids=[f"{n}-{a}-{s}" for n, a, s in CASES])
def test_imagenet_weights_reach_every_layer_of_the_preset(name, alpha, size, tmp_path, monkeypatch):
    # setup: the weights file in a Keras cache of the test's own
    from edgecnn._tf import keras
    from edgecnn.models import create_model
    from edgecnn.models.pretrained import IMAGENET, backbone_layers, load_pretrained

    K = keras()
    cached_weights(keras_home(tmp_path, monkeypatch), name, alpha, size)
    model = create_model(name, (size, size, 3), 7, alpha=alpha)
    # execute: the build's own path, which calls tf_keras.applications with weights="imagenet"
    copied = load_pretrained(model, IMAGENET, name, alpha)
    # assert: every backbone layer's output equals the Keras application's, loaded through the same call
    build = K.applications.MobileNet if name == "mobilenet_v1" else K.applications.MobileNetV2
    reference = build(input_shape=(size, size, 3), alpha=alpha, include_top=False, weights=IMAGENET)
    theirs, ours = backbone_layers(reference), backbone_layers(model)
    assert copied == len(ours) == len(theirs) > 50
    pixels = np.random.default_rng(0).uniform(-1, 1, (2, size, size, 3)).astype(np.float32)
    their_outputs = K.Model(reference.input, [layer.output for layer in theirs])(pixels, training=False)
    our_outputs = K.Model(model.input, [layer.output for layer in ours])(pixels, training=False)
    for their, our, a, b in zip(theirs, ours, their_outputs, our_outputs):
        assert np.abs(a.numpy() - b.numpy()).max() <= 1e-5, (their.name, our.name)
    final = np.abs(our_outputs[-1].numpy())
    assert final.std() > 0.01  # not a constant map: the comparison saw real values


@pytest.mark.build  # builds Keras models: TensorFlow
def test_a_backbone_that_does_not_fit_is_refused_naming_the_layer(tmp_path):
    from edgecnn.models import create_model
    from edgecnn.models.pretrained import load_pretrained

    source = create_model("mobilenet_v1", (128, 128, 3), 5, alpha=0.5)
    source.save(tmp_path / "model.keras")
    target = create_model("mobilenet_v1", (128, 128, 3), 3, alpha=0.25)
    with pytest.raises(ModelError, match=r"model.pretrained .*model.keras: layer 0 block_0_conv .* does not fit "
                                         r"block_0_conv .*a different backbone"):
        load_pretrained(target, tmp_path / "model.keras", "mobilenet_v1", 0.25)


@pytest.mark.build  # builds a Keras model and runs Keras' download: TensorFlow
def test_offline_without_the_cached_file_is_one_line_naming_the_file_and_the_cache(tmp_path):
    # setup: an empty Keras cache, and a network that refuses (a proxy on a closed port): nothing is downloaded
    script = textwrap.dedent("""
        from edgecnn.errors import ModelError
        from edgecnn.models import create_model
        from edgecnn.models.pretrained import load_pretrained
        model = create_model("mobilenet_v2", (96, 96, 3), 4, alpha=0.35)
        try:
            load_pretrained(model, "imagenet", "mobilenet_v2", 0.35)
        except ModelError as exc:
            print(exc)
    """)
    cache = keras_home(tmp_path) / "models"
    refused = "http://127.0.0.1:9"
    env = {**os.environ, "HOME": str(tmp_path), "https_proxy": refused, "HTTPS_PROXY": refused}
    # execute
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    # assert
    message = result.stdout.strip().splitlines()[-1]
    assert message.startswith("model.pretrained imagenet: mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_"
                              f"no_top.h5 is not in the Keras cache {cache} and could not be downloaded"), message
    assert not list(cache.glob("*.h5"))


@pytest.mark.parametrize("changes, problem", [
    ({"model": {"name": "dscnn_s"}}, "ImageNet weights exist for mobilenet_v1, mobilenet_v2, not dscnn_s"),
    ({"model": {"alpha": 0.3}}, "Keras publishes mobilenet_v1 at alpha 0.25, 0.5, 0.75, 1.0, not 0.3"),
    ({"data": {"channels": 1}}, "ImageNet weights take RGB: set data.channels: 3"),
    ({"data": {"normalization": "unit"}}, "the published networks take pixels scaled to -1..1: set data.normalization: "
                                          "symmetric"),
    ({"model": {"blocks": ["cn_k3_s2_c32"]}}, "model.blocks changes the published network"),
])
def test_imagenet_weights_are_refused_where_they_cannot_apply(changes, problem):
    from edgecnn.recipe import validate_recipe

    recipe = {"name": "transfer", "data": {"source": "shapes", "image_size": [96, 96], "channels": 3,
                                           "normalization": "symmetric"},
              "model": {"name": "mobilenet_v1", "alpha": 0.25, "pretrained": "imagenet"}}
    for section, values in changes.items():
        recipe[section] = {**recipe[section], **values}
    assert imagenet_problem("mobilenet_v1", 0.25, None, (96, 96, 3), "symmetric") is None
    with pytest.raises(Exception, match="model.pretrained imagenet: " + problem.replace(".", r"\.")):
        validate_recipe(recipe)
