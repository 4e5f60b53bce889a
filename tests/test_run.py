"""RunFolder: the one owner of a run folder's file names, and what it saves reads back the same."""

import hashlib

import numpy as np
import pytest

from edgecnn.errors import RecipeError, VerificationError
from edgecnn.recipe import validate_recipe
from edgecnn.run import RunFolder
from tests.conftest import TINY_RECIPE


def test_recipe_labels_and_reference_read_back_as_saved(tmp_path):
    run = RunFolder(tmp_path / "run")
    assert not run.is_run() and run.load_labels() == []
    recipe = validate_recipe(TINY_RECIPE)
    run.save_recipe(recipe)
    assert run.is_run() and run.recipe_path.read_text().startswith(f"# merged recipe (defaults < file < --set), hash "
                                                                   f"{recipe.fingerprint()}")
    assert run.load_recipe().fingerprint() == recipe.fingerprint()
    assert run.load_recipe(["train.epochs=9"]).train.epochs == 9
    run.save_labels(["circle", "square"])
    assert run.load_labels() == ["circle", "square"]
    outputs = np.random.default_rng(0).random((5, 2)).astype(np.float32)
    run.save_reference(outputs, "abc123")
    assert np.array_equal(run.load_reference("abc123"), outputs)
    with pytest.raises(VerificationError, match="different test split"):
        run.load_reference("another")


def test_a_folder_without_a_run_is_named(tmp_path):
    with pytest.raises(RecipeError, match="no recipe.yaml here"):
        RunFolder(tmp_path).load_recipe()
    with pytest.raises(VerificationError, match="model.keras: Keras model not found"):
        RunFolder(tmp_path).load_model()
    assert RunFolder(tmp_path).load_reference("x") is None


@pytest.mark.build  # builds Keras models: TensorFlow
def test_the_saved_keras_model_has_no_clock_or_memory_address_in_it(tmp_path):
    import zipfile

    from edgecnn.models import create_model

    model = create_model("dscnn_xs", (16, 16, 1), 3, l2=1e-4)  # the regularizer is shared between layers
    first, second = RunFolder(tmp_path / "a"), RunFolder(tmp_path / "b")
    first.save_model(model)
    second.save_model(create_model("dscnn_xs", (16, 16, 1), 3, l2=1e-4))
    with zipfile.ZipFile(first.model_path) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert "date_saved" not in archive.read("metadata.json").decode()
        assert '"shared_object_id": 1' in archive.read("config.json").decode()
    reloaded = first.load_model()
    assert [w.shape for w in reloaded.get_weights()] == [w.shape for w in model.get_weights()]
    # Same architecture, other random weights: the archives differ only in the weights file.
    with zipfile.ZipFile(first.model_path) as a, zipfile.ZipFile(second.model_path) as b:
        assert a.read("config.json") == b.read("config.json")
        assert hashlib.sha256(a.read("model.weights.h5")).digest() != hashlib.sha256(b.read("model.weights.h5")).digest()
