"""Training: the one-iterator stream must train on the epochs `model.fit` gives a finite pipeline, and a
fixed-seed training of the shipped digits recipe must keep its accuracy, and a remembered stop ends a fit.

The regression this guards against (issue 28): repeating the pipeline for one iterator over the whole fit
started training on the seeded shuffle's first permutation, while `model.fit` on a finite pipeline opens one
iterator before its first epoch and so starts on the second; MNIST lost 0.4-0.55 points over three seeds."""

import numpy as np
import pytest

from edgecnn.data.imagesets import ArrayImages
from edgecnn.recipe import validate_recipe
from tests.conftest import REPO


def batches_fit_trains_on(dataset, steps: int | None, epochs: int = 3) -> list[list[int]]:
    """The image ids `model.fit` trains on, batch by batch (a model that records its batches and learns nothing)."""
    from edgecnn._tf import keras

    K = keras()
    seen = []

    class Recorder(K.Model):
        def train_step(self, data):
            seen.append(data[1].numpy().argmax(1).tolist())
            return {"loss": 0.0}

    inputs = K.Input((2, 2, 1))
    model = Recorder(inputs, K.layers.Flatten()(inputs))
    model.compile(optimizer="sgd", run_eagerly=True)
    model.fit(dataset, epochs=epochs, steps_per_epoch=steps, verbose=0)
    return seen


@pytest.mark.build  # TensorFlow, but no training
def test_the_training_stream_gives_the_epochs_fit_gives_a_finite_pipeline():
    # setup: 20 images whose one-hot label is their id, batches of 6 (the last one short), a seeded shuffle
    import types

    from edgecnn.train.fit import make_pipeline, set_seed, training_stream

    ids = np.arange(20)
    images = ArrayImages(np.repeat(ids.astype(np.uint8), 4).reshape(20, 2, 2, 1), ids, ids)
    data = types.SimpleNamespace(contract=types.SimpleNamespace(mean=0.0, std=1.0), num_classes=20)
    settings = validate_recipe({"name": "t", "train": {"batch_size": 6}}).train

    def pipeline():
        set_seed(7)
        return make_pipeline(images, data, settings, 7, training=True)

    # execute
    finite = batches_fit_trains_on(pipeline(), None)
    streamed = batches_fit_trains_on(training_stream(pipeline()), 4)
    plain_repeat = batches_fit_trains_on(pipeline().repeat(), 4)
    # assert: batch for batch the same epochs; each epoch a permutation of all ids; and the plain repeat differs
    assert streamed == finite
    for epoch in range(3):
        assert sorted(sum(streamed[4 * epoch : 4 * epoch + 4], [])) == ids.tolist()
    assert plain_repeat != finite  # what the one-iterator change did: a test that can fail


# The shipped digits recipe, seed 1, float32 TFLite accuracy on the 359 test images: 99.44%, measured on the
# 2-core Intel Xeon (2026-12-05) with the MediaPipe-matched pre-processing and camera-frame augmentation. The floor
# allows two test images for another CPU's float rounding. (Before that pre-processing, the guard was the code
# before the one-iterator change, 99.72% with rate 4e-3 and no smoothing, against 97.77% for the regressed code;
# with the new pre-processing that comparison no longer separates the two orders: 97.21% for fit's epochs and
# 98.05% for a plain repeat, so the batch-for-batch test above is the guard of the order, and this one guards the
# accuracy of the recipe as shipped.)
SHIPPED_SEED_1, TWO_IMAGES = 0.9944, 2 / 359


@pytest.mark.slow
def test_a_fixed_seed_digits_training_keeps_its_accuracy(tmp_path):
    # setup
    from edgecnn.incremental.build import build
    from edgecnn.recipe import load_recipe

    recipe = load_recipe(REPO / "recipes" / "digits.yaml", [
        "seed=1", "optimize.variants=[]", "export.formats=[tflite_float32]", "verify.runs=20"])
    # execute
    report = build(recipe, tmp_path, show_progress=False)
    # assert
    accuracy = report.row("tflite_float32").accuracy
    assert accuracy >= SHIPPED_SEED_1 - TWO_IMAGES - 1e-9, accuracy


@pytest.mark.build
def test_training_stops_at_the_next_batch_once_a_stop_was_requested(tiny_dataset, monkeypatch):
    # A Ctrl-C whose KeyboardInterrupt Python dropped (it landed in a __del__) is only remembered: the fit raises it
    # at its next batch instead of training on to the end.
    from edgecnn import errors
    from edgecnn.train.fit import fit_model
    from tests.conftest import TINY_RECIPE

    recipe = validate_recipe({**TINY_RECIPE, "train": {**TINY_RECIPE["train"], "epochs": 1}})
    monkeypatch.setattr(errors, "_stop_requested", KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        fit_model(recipe, tiny_dataset, show_progress=False)
