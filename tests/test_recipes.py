"""Every shipped recipe is built by a test: small overrides always, the full recipe in the slow set."""

from pathlib import Path

import pytest

from edgecnn.data.shapes import write_shapes_folder
from edgecnn.pipeline import build
from edgecnn.recipe import load_recipe
from edgecnn.verify.weights import groups_breaking_m_by_n, read_kernels

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*.yaml"))
SMALL = [
    "train.epochs=2", "verify.runs=10", "export.calibration.samples=16", "export.calibration.allow_few=true",
    "optimize.qat.epochs=1", "optimize.prune.epochs=1", "optimize.pqat.epochs=1", "optimize.structured.epochs=1",
    "optimize.cluster.epochs=1", "optimize.cluster.cqat_epochs=1",
]
SMALL_DATA = {"shapes": ["data.shapes.count=240"], "shapes-pruned": ["data.shapes.count=240"]}


def rows_by_name(report):
    return {row["name"]: row for row in report["artifacts"]}


@pytest.mark.parametrize("recipe_path", RECIPES, ids=lambda p: p.stem)
def test_recipe_builds_with_small_settings(recipe_path, tmp_path):
    # setup: folder recipes get a small generated folder in place of the user's photos
    extra = SMALL_DATA.get(recipe_path.stem, [])
    if load_recipe(recipe_path).data.source == "folder":
        write_shapes_folder(tmp_path / "photos", 200, ["circle", "square", "star"], seed=0, sides=(48, 96))
        extra = [f"data.path={tmp_path / 'photos'}", "data.image_size=[32,32]", "train.batch_size=16"]
    recipe = load_recipe(recipe_path, SMALL + extra)
    # execute
    report = build(recipe, tmp_path, show_progress=False)
    # assert: every format was exported and verified in its runtime
    rows = rows_by_name(report)
    assert set(rows) == {"keras_float32", *recipe.export.formats, *recipe.optimize.variants}
    assert all(row["accuracy"] is not None and row["latency_ms"]["p50"] > 0 for row in rows.values())
    assert rows["onnx_float32"]["agreement"] == 1.0 and rows["tflite_float32"]["agreement"] == 1.0
    assert (tmp_path / "recipe.yaml").read_text().startswith("# merged recipe")


@pytest.mark.slow
def test_digits_recipe_meets_its_accuracy_targets(tmp_path):
    report = build(load_recipe(RECIPES[0].parent / "digits.yaml"), tmp_path, show_progress=False)
    rows = rows_by_name(report)
    float_acc, int8_acc = rows["tflite_float32"]["accuracy"], rows["tflite_int8"]["accuracy"]
    assert float_acc >= 0.98 and int8_acc >= 0.98 and abs(float_acc - int8_acc) <= 0.005
    assert abs(rows["onnx_float32"]["accuracy"] - rows["keras_float32"]["accuracy"]) <= 0.001
    assert rows["onnx_float32"]["agreement"] >= 0.995


@pytest.mark.slow
def test_shapes_recipe_meets_its_accuracy_targets(tmp_path):
    report = build(load_recipe(RECIPES[0].parent / "shapes.yaml"), tmp_path, show_progress=False)
    rows = rows_by_name(report)
    assert rows["tflite_int8"]["accuracy"] >= 0.95
    assert abs(rows["onnx_float32"]["accuracy"] - rows["keras_float32"]["accuracy"]) <= 0.001
    assert rows["onnx_float32"]["agreement"] >= 0.995
    # quantization and pruning, measured against the float model in each file's runtime
    assert rows["qat_int8"]["accuracy_change"] >= -0.003
    assert rows["tflite_int8"]["accuracy_change"] >= -0.01  # converter PTQ int8
    assert rows["onnx_qdq_int8"]["accuracy_change"] >= -0.01
    pqat = rows["pqat_int8"]
    assert pqat["accuracy_change"] >= -0.015 and pqat["sparsity"]["pruned_layers"] >= 0.79
    assert pqat["gzip_bytes"] < 0.6 * rows["tflite_int8"]["gzip_bytes"]  # the zeros survive and compress
    two_of_four = rows["prune_2of4_float32"]
    kernels = {k.layer: k for k in read_kernels(two_of_four["path"])}
    for layer in two_of_four["optimization"]["pruned_layers"]:
        assert groups_breaking_m_by_n(kernels[layer].values) == 0, layer
    assert report["best"]["name"] is not None
