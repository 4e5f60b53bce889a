"""Every shipped recipe is built by a test: with small overrides, or in full in the slow set (where a full
build runs, it stands in for the small one: tests/conftest.py)."""

import shutil
from pathlib import Path

import pytest

from edgecnn.data import load_dataset
from edgecnn.data.shapes import write_shapes_folder
from edgecnn.artifacts.metadata import read_metadata
from edgecnn.incremental.build import build
from edgecnn.recipe import load_recipe
from edgecnn.artifacts.kernels import groups_breaking_m_by_n, read_kernels
from tests.clients import mediapipe_metadata, node_top1, predict_top1, write_pngs

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*.yaml"))
SMALL = [
    "train.epochs=2", "verify.runs=10", "export.calibration.samples=16", "export.calibration.allow_few=true",
    "optimize.qat.epochs=1", "optimize.prune.epochs=1", "optimize.pqat.epochs=1", "optimize.structured.epochs=1",
    "optimize.cluster.epochs=1", "optimize.cluster.cqat_epochs=1",
]
SMALL_DATA = {"shapes": ["data.shapes.count=240"], "shapes-pruned": ["data.shapes.count=240"]}


def rows_by_name(report):
    """The rows as report.json holds them."""
    return {row["name"]: row for row in report.to_dict()["artifacts"]}


CAMERA_SCALE = 3  # not the report's 4: these frames are the test's own


def assert_real_clients_agree(recipe, run_dir: Path, scratch: Path) -> dict:
    """Every .tflite of the run, unchanged, in MediaPipe Tasks' ImageClassifier on full-size camera frames (the
    test split 3 times larger, as `camera_frames` makes it), handed over only as the model card says (whole, with
    the centred region of interest, or letterboxed): its metadata as MediaPipe's schema reads it equals the recipe,
    and its top-1 equals `edgecnn predict`'s on the same frames (PNG files) for at least 99.5% of them. The handoff
    bundle's .onnx and .ort run through its Node snippet on 50 of those files. Returns the agreement per file."""
    from edgecnn.artifacts import open_artifact
    from edgecnn.handoff import write_handoff
    from edgecnn.verify.app import MediaPipeClassifier, camera_frames, source_images

    dataset = load_dataset(recipe.data, recipe.seed)
    names = dataset.class_names
    own = source_images(recipe.data, dataset, recipe.seed)
    frames = camera_frames(recipe.data, dataset, recipe.seed, own, CAMERA_SCALE)
    pngs = write_pngs(frames, scratch / "frames")
    agreement = {}
    for model in sorted(run_dir.glob("**/*.tflite")):
        if "handoff" in model.parts:
            continue
        standard = mediapipe_metadata(model)
        assert (standard["name"], standard["labels"], standard["color_space"]) == (recipe.name, names, "RGB"), model
        assert (standard["mean"], standard["std"], standard["packed"]) == ([0.0], [1.0], ["labels.txt", "metadata.json"])
        inside = read_metadata(model)["input"]["inside"]
        assert (inside["normalization"], inside["mean"], inside["std"]) == (recipe.data.normalization,
                                                                            *recipe.data.mean_std()), model
        with MediaPipeClassifier(model) as classifier:
            indices = classifier.app_top1(frames, open_artifact(model).contract())
        agreement[model.name] = float((predict_top1(model, pngs) == indices).mean())
    assert agreement and min(agreement.values()) >= 0.995, agreement
    if shutil.which("node"):
        bundle = write_handoff(run_dir, scratch / "bundle")
        expected = predict_top1(bundle.folder / "model_float32.onnx", pngs[:50])
        for model in ("model_float32.onnx", "model_float32.ort"):
            found = node_top1(bundle.folder / "snippets" / "classify_node.mjs", bundle.folder / model, pngs[:50],
                              scratch / "app")
            assert (found == expected).all(), model
    return agreement


def test_the_recipe_list_is_the_recipes_folder():
    """The parametrized builds below loop over RECIPES: an empty glob would test nothing and pass."""
    assert {"digits", "shapes", "photos"} <= {path.stem for path in RECIPES}


@pytest.mark.build
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
    # assert
    assert_every_file_verified(recipe, report, tmp_path)
    if recipe.verify.npu:  # a microcontroller recipe: its own checks (tests/test_mcu.py), no phone SDK
        assert all(row.mcu.tflm.runs and row.mcu.npu for row in report.artifacts if row.precision == "int8")
        return
    # the files an app developer receives work, unchanged, in the real clients
    assert_real_clients_agree(recipe, tmp_path, tmp_path / "clients")


def assert_every_file_verified(recipe, report, run_dir: Path) -> dict:
    """Every format and variant was exported and verified in its runtime; float files agree with Keras."""
    rows = rows_by_name(report)
    assert set(rows) == {"keras_float32", *recipe.export.formats, *recipe.optimize.variants}
    assert all(row["accuracy"] is not None and row["latency_ms"]["p50"] > 0 for row in rows.values())
    floats = [name for name in ("tflite_float32", "onnx_float32") if name in rows]
    assert all(rows[name]["agreement"] >= 0.995 for name in floats)
    assert (run_dir / "recipe.yaml").read_text().startswith("# merged recipe")
    return rows


@pytest.mark.slow
def test_digits_recipe_meets_its_accuracy_targets(digits_build, tmp_path):
    recipe, run_dir, report = digits_build
    rows = assert_every_file_verified(recipe, report, run_dir)
    float_acc, int8_acc = rows["tflite_float32"]["accuracy"], rows["tflite_int8"]["accuracy"]
    assert float_acc >= 0.98 and int8_acc >= 0.98 and abs(float_acc - int8_acc) <= 0.005
    assert rows["tflite_int8"]["input_dtype"] == "uint8"  # camera pixels in: the phone-ready int8 file
    print("digits MediaPipe vs predict top-1:", assert_real_clients_agree(recipe, run_dir, tmp_path))
    assert abs(rows["onnx_float32"]["accuracy"] - rows["keras_float32"]["accuracy"]) <= 0.001
    assert rows["onnx_float32"]["agreement"] >= 0.995


@pytest.mark.slow
def test_shapes_recipe_meets_its_accuracy_targets(tmp_path):
    recipe = load_recipe(RECIPES[0].parent / "shapes.yaml")
    report = build(recipe, tmp_path / "run", show_progress=False)
    rows = assert_every_file_verified(recipe, report, tmp_path / "run")
    assert rows["tflite_int8"]["accuracy"] >= 0.95 and rows["tflite_int8"]["input_dtype"] == "uint8"
    assert abs(rows["onnx_float32"]["accuracy"] - rows["keras_float32"]["accuracy"]) <= 0.001
    assert rows["onnx_float32"]["agreement"] >= 0.995
    # quantization and pruning, measured against the float model in each file's runtime
    assert rows["qat_int8"]["accuracy_change"] >= -0.003
    assert rows["tflite_int8"]["accuracy_change"] >= -0.005  # converter PTQ int8, uint8 pixels in
    assert rows["onnx_qdq_int8"]["accuracy_change"] >= -0.01
    pqat = rows["pqat_int8"]
    assert pqat["accuracy_change"] >= -0.015 and pqat["sparsity"]["pruned_layers"] >= 0.79
    assert pqat["gzip_bytes"] < 0.6 * rows["tflite_int8"]["gzip_bytes"]  # the zeros survive and compress
    two_of_four = rows["prune_2of4_float32"]
    kernels = {k.layer: k for k in read_kernels(two_of_four["path"])}
    for layer in two_of_four["optimization"]["pruned_layers"]:
        assert groups_breaking_m_by_n(kernels[layer].values) == 0, layer
    assert report.best_name is not None
    print("shapes MediaPipe vs predict top-1:", assert_real_clients_agree(recipe, tmp_path / "run", tmp_path))
