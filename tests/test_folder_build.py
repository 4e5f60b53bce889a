"""A recipe over a folder of PNG and JPEG images of mixed sizes: train, export, verify, reproduce."""

import csv
import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from edgecnn.data import load_dataset, normalize
from edgecnn.data.shapes import write_shapes_folder
from edgecnn.recipe import validate_recipe
from edgecnn_cli.main import app

runner = CliRunner()


def folder_recipe(photos) -> dict:
    return {
        "name": "photos",
        "seed": 4,
        "data": {"source": "folder", "path": str(photos), "image_size": [16, 16], "channels": 3, "resize": "pad",
                 "normalization": "mean_std", "mean": [120.0, 120.0, 120.0], "std": [64.0, 64.0, 64.0]},
        "model": {"name": "dscnn_tiny"},
        "train": {"epochs": 6, "batch_size": 16, "early_stopping": {"patience": 0},
                  "augment": {"flip_horizontal": True, "rotation": 0.05, "brightness": 0.1}},
        "export": {"calibration": {"samples": 60, "allow_few": True}},
        "verify": {"warmup": 2, "runs": 10, "threads": [1]},
    }


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("folder") / "photos"
    write_shapes_folder(root, 150, ["circle", "line"], seed=0, sides=(20, 40))
    (root / "line" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


@pytest.fixture(scope="module")
def folder_run(photos, tmp_path_factory):
    recipe = tmp_path_factory.mktemp("recipe") / "photos.yaml"
    recipe.write_text(yaml.safe_dump(folder_recipe(photos)))
    out = tmp_path_factory.mktemp("run") / "photos"
    result = runner.invoke(app, ["build", str(recipe), "--out", str(out), "--skip-bad-files", "--quiet"])
    return recipe, out, result


def test_folder_recipe_builds_exports_and_verifies_end_to_end(folder_run, photos):
    _, out, result = folder_run
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    rows = {row["name"]: row for row in report["artifacts"]}
    assert set(rows) == {"keras_float32", "tflite_float32", "tflite_int8", "onnx_float32"}
    assert report["data"]["test"] == 30 and report["data"]["train"] + report["data"]["val"] == 120
    # the float files score exactly as Keras does on the same decoded pixels
    assert rows["tflite_float32"]["accuracy"] == rows["onnx_float32"]["accuracy"] == rows["keras_float32"]["accuracy"]
    assert rows["tflite_float32"]["agreement"] == 1.0
    # the training curves beside the history
    from PIL import Image

    assert Image.open(out / "training_curves.png").size[0] >= 800
    # the bad file was skipped, counted and listed
    assert report["data"]["skipped"]["count"] == 1
    assert report["data"]["skipped"]["files"][0]["path"] == str(photos / "line" / "broken.jpg")
    assert "## Skipped files (1)" in (out / "report.md").read_text()
    # the contract an app needs: resize policy and per-channel normalization
    from edgecnn.artifacts.metadata import read_metadata

    for name in ("model_float32.onnx", "model_int8.tflite"):
        metadata = read_metadata(out / name)
        assert metadata["input"]["resize"] == "pad" and metadata["input"]["mean"] == 0.0  # 0..255 pixels in
        assert metadata["input"]["inside"]["mean"] == [120.0, 120.0, 120.0]  # the recipe's mean/std, in the graph


def test_split_lists_and_float_accuracy_reproduce(folder_run, tmp_path):
    recipe, out, _ = folder_run
    again = tmp_path / "again"
    result = runner.invoke(app, ["build", str(recipe), "--out", str(again), "--skip-bad-files", "--quiet",
                                 "--set", "export.formats=[tflite_float32]"])
    assert result.exit_code == 0, result.output
    assert (out / "splits.csv").read_bytes() == (again / "splits.csv").read_bytes()
    first, second = (json.loads((d / "report.json").read_text())["float_accuracy"] for d in (out, again))
    assert first == second
    with np.load(out / "reference.npz") as a, np.load(again / "reference.npz") as b:
        assert np.array_equal(a["probabilities"], b["probabilities"])  # the same model, not only the same score
    rows = list(csv.DictReader((out / "splits.csv").read_text().splitlines()))
    assert len(rows) == 150 and {r["split"] for r in rows} == {"train", "val", "test"}


def test_verify_files_on_a_folder_without_a_recipe(folder_run, photos, tmp_path):
    _, out, _ = folder_run
    result = runner.invoke(app, ["verify", str(out / "model_int8.tflite"), "--data", str(photos), "--skip-bad-files",
                                 "--seed", "4", "--out", str(tmp_path / "v"), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)["artifacts"][0]
    built = next(r for r in json.loads((out / "report.json").read_text())["artifacts"] if r["name"] == "tflite_int8")
    assert row["accuracy"] == built["accuracy"]  # same split, same decoder, same pre-processing from the file


@pytest.mark.build  # builds Keras models: TensorFlow
def test_streamed_pipeline_matches_the_decoder_and_augments_only_training(photos):
    from edgecnn.train.fit import make_pipeline

    recipe = validate_recipe(folder_recipe(photos) | {"data": {**folder_recipe(photos)["data"], "skip_bad_files": True}})
    dataset = load_dataset(recipe.data, recipe.seed)
    test_batch, _ = next(iter(make_pipeline(dataset.test, dataset, recipe.train, recipe.seed, training=False)))
    assert np.array_equal(test_batch.numpy(), normalize(dataset.x_test[:16], dataset.contract))
    training = make_pipeline(dataset.train, dataset, recipe.train, recipe.seed, training=True)
    train_batch, labels = next(iter(training))
    assert training.options().autotune.enabled is False  # so deleting fit's iterator never waits for its thread
    plain = normalize(dataset.train.images(), dataset.contract)
    exact = [np.any(np.all(plain == image, axis=(1, 2, 3))) for image in train_batch.numpy()]
    assert not all(exact)  # augmented
    assert labels.shape == (16, 2)


@pytest.mark.parametrize("model", ["model_int8.tflite", "model_float32.onnx", "model.keras"])
def test_predict_on_the_test_images_agrees_with_verify(folder_run, model):
    _, out, _ = folder_run
    test_rows = [r for r in csv.DictReader((out / "splits.csv").read_text().splitlines()) if r["split"] == "test"]
    result = runner.invoke(app, ["predict", str(out / model), *(r["item"] for r in test_rows), "--json", "-k", "2"])
    assert result.exit_code == 0, result.output
    predictions = json.loads(result.stdout)
    assert [p["image"] for p in predictions] == [r["item"] for r in test_rows]
    accuracy = np.mean([p["predictions"][0]["label"] == r["label"] for p, r in zip(predictions, test_rows)])
    name = {"model_int8.tflite": "tflite_int8", "model_float32.onnx": "onnx_float32", "model.keras": "keras_float32"}
    verified = next(r for r in json.loads((out / "report.json").read_text())["artifacts"] if r["name"] == name[model])
    assert accuracy == pytest.approx(verified["accuracy"], abs=1e-9)
    assert all(p["predictions"][0]["score"] >= p["predictions"][1]["score"] for p in predictions)


def test_predict_bad_image_exits_2(folder_run, photos):
    _, out, _ = folder_run
    result = runner.invoke(app, ["predict", str(out / "model_int8.tflite"), str(photos / "line" / "broken.jpg")])
    assert result.exit_code == 2 and "broken.jpg: corrupt image data" in result.output
