import json
import shutil
import zipfile

import numpy as np
import onnx
import pytest

from edgecnn.data import normalize
from edgecnn.artifacts.metadata import contract_of, read_metadata
from edgecnn.artifacts.runners import OnnxRunner, TFLiteRunner
from tests.clients import rgb


@pytest.fixture(scope="module")
def tiny_test_images(tiny_dataset):
    return normalize(tiny_dataset.x_test, tiny_dataset.contract), tiny_dataset


@pytest.fixture(scope="module")
def keras_outputs(tiny_build, tiny_test_images):
    from edgecnn.modelfile import load_keras

    run_dir, _ = tiny_build
    x, _ = tiny_test_images
    return load_keras(run_dir / "model.keras").predict(x, verbose=0)


def test_every_format_written_with_labels(tiny_build):
    run_dir, _ = tiny_build
    for name in ("model_float32.tflite", "model_int8.tflite", "model_float32.onnx", "labels.txt", "recipe.yaml"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "labels.txt").read_text().split() == [str(i) for i in range(10)]
    assert not list(run_dir.glob(".*.tmp*")), "temporary files left behind"


def rgb_pixels(dataset) -> np.ndarray:
    """The grayscale test images as an app hands them to a file: RGB pixels 0..255, as float32."""
    return rgb(dataset.x_test).astype(np.float32)


def test_tflite_float_takes_rgb_pixels_and_matches_keras(tiny_build, tiny_test_images, keras_outputs):
    run_dir, _ = tiny_build
    _, dataset = tiny_test_images
    runner = TFLiteRunner(run_dir / "model_float32.tflite")
    assert runner.input_dtype == "float32" and runner.input_shape == (16, 16, 3)
    np.testing.assert_allclose(runner.predict(rgb_pixels(dataset)), keras_outputs, atol=1e-4)


def test_luminance_in_front_matches_pillow_grayscale(tiny_build, tiny_dataset):
    # setup: colour pictures, and the grayscale Pillow makes of them (what a grayscale model trained on)
    from PIL import Image

    from edgecnn.modelfile import load_keras

    run_dir, _ = tiny_build
    colour = np.random.default_rng(0).integers(0, 256, size=(8, 16, 16, 3), dtype=np.uint8)
    gray = np.stack([np.asarray(Image.fromarray(image).convert("L")) for image in colour])[..., None]
    # execute
    from_rgb = TFLiteRunner(run_dir / "model_float32.tflite").predict(colour.astype(np.float32))
    from_gray = load_keras(run_dir / "model.keras").predict(normalize(gray, tiny_dataset.contract), verbose=0)
    # assert: Pillow rounds luminance to whole pixels; the file computes it exactly
    assert (from_rgb.argmax(1) == from_gray.argmax(1)).all() and np.abs(from_rgb - from_gray).max() < 0.02


def test_tflite_int8_takes_uint8_pixels_returns_float_and_tracks_keras(tiny_build, tiny_test_images, keras_outputs):
    run_dir, _ = tiny_build
    _, dataset = tiny_test_images
    runner = TFLiteRunner(run_dir / "model_int8.tflite")
    assert runner.input_dtype == "uint8" and np.dtype(runner.output["dtype"]) == np.float32
    assert runner.input["quantization"] == (1.0, 0)  # the uint8 values are the pixels
    probabilities = runner.predict(rgb_pixels(dataset))
    agreement = (probabilities.argmax(1) == keras_outputs.argmax(1)).mean()
    assert agreement >= 0.97 and np.abs(probabilities - keras_outputs).max() < 0.25


def test_int8_io_for_microcontrollers_is_still_available(tiny_build, tmp_path):
    # setup
    from edgecnn import api

    run_dir, _ = tiny_build
    shutil.copytree(run_dir, tmp_path / "run")
    # execute
    api.export(tmp_path / "run", ["export.int8_io=int8", "export.formats=[tflite_int8]"], show_progress=False)
    # assert
    runner = TFLiteRunner(tmp_path / "run" / "model_int8.tflite")
    assert runner.input_dtype == "int8" and np.dtype(runner.output["dtype"]) == np.int8
    assert read_metadata(tmp_path / "run" / "model_int8.tflite")["input"]["dtype"] == "int8"


def test_onnx_matches_keras_with_dynamic_batch(tiny_build, tiny_test_images, keras_outputs):
    run_dir, _ = tiny_build
    _, dataset = tiny_test_images
    x = rgb_pixels(dataset)
    model = onnx.load(str(run_dir / "model_float32.onnx"))
    assert max(op.version for op in model.opset_import if op.domain in ("", "ai.onnx")) >= 17
    graph_input = model.graph.input[0]
    assert graph_input.name == "input"
    assert graph_input.type.tensor_type.shape.dim[0].dim_value == 0  # symbolic batch dimension
    runner = OnnxRunner(run_dir / "model_float32.onnx")
    np.testing.assert_allclose(runner.predict(x), keras_outputs, atol=1e-4)
    np.testing.assert_allclose(runner.predict(x[:7], batch_size=3), keras_outputs[:7], atol=1e-4)


def test_ort_format_copy_and_operator_config_beside_the_onnx(tiny_build, tiny_test_images):
    run_dir, _ = tiny_build
    _, dataset = tiny_test_images
    x = rgb_pixels(dataset)[:50]
    ort_file, config = run_dir / "model_float32.ort", run_dir / "model_float32.required_operators.config"
    assert ort_file.read_bytes()[4:8] == b"ORTM"  # the ORT flatbuffer identifier
    np.testing.assert_allclose(OnnxRunner(ort_file).predict(x), OnnxRunner(run_dir / "model_float32.onnx").predict(x),
                               atol=1e-6)
    operators = [line for line in config.read_text().splitlines() if line and not line.startswith("#")]
    assert any(line.startswith("ai.onnx;") and "Conv" in line for line in operators), operators


def test_onnx_batch_fixed_to_one_for_ort_mobile(tiny_build, tiny_dataset, tmp_path):
    # setup
    from edgecnn import api
    from edgecnn.artifacts import open_artifact
    from edgecnn.verify.readiness import check_readiness

    run_dir, _ = tiny_build
    shutil.copytree(run_dir, tmp_path / "run")
    # execute
    api.export(tmp_path / "run", ["export.onnx_fixed_batch=true", "export.formats=[onnx_float32]"], show_progress=False)
    # assert: batch 1 in the file, and ORT Mobile's checker no longer needs the shapes fixed
    path = tmp_path / "run" / "model_float32.onnx"
    assert onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim[0].dim_value == 1
    mobile = check_readiness(open_artifact(path), "float32")["ort_mobile"]
    assert all(info["as_is"] == info["fixed_shapes"] for info in mobile.values()), mobile
    assert OnnxRunner(path).predict(rgb_pixels(tiny_dataset)[:5]).shape == (5, 10)


@pytest.mark.parametrize("filename", ["model_float32.tflite", "model_int8.tflite", "model_float32.onnx"])
def test_metadata_records_labels_and_input_contract(tiny_build, filename):
    run_dir, _ = tiny_build
    meta = read_metadata(run_dir / filename)
    assert meta["schema"] == "edgecnn.metadata/1" and meta["labels"] == [str(i) for i in range(10)]
    assert meta["input"]["shape"] == [1, 16, 16, 3] and meta["input"]["layout"] == "NHWC"
    assert meta["input"]["color"] == "rgb" and meta["input"]["normalization"] == "raw"
    assert meta["input"]["mean"] == 0.0 and meta["input"]["std"] == 1.0 and meta["input"]["value_range"] == [0, 255]
    inside = meta["input"]["inside"]
    assert (inside["normalization"], inside["mean"], inside["std"]) == ("unit", 0.0, 255.0) and "0.299 R" in inside["color"]
    assert contract_of(run_dir / filename).shape == (16, 16, 3)
    if "int8" in filename:
        assert meta["input"]["dtype"] == "uint8" and meta["input"]["quantization"]["zero_point"] == 0
        assert meta["calibration"] == {"samples": 32, "source": "train split"}


def test_tflite_carries_one_stored_zip_with_labels_and_metadata(tiny_build):
    run_dir, _ = tiny_build
    data = (run_dir / "model_int8.tflite").read_bytes()
    assert data.count(b"PK\x05\x06") == 1  # one end-of-central-directory: one zip, not two
    with zipfile.ZipFile(run_dir / "model_int8.tflite") as archive:
        assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
        assert archive.read("labels.txt").decode().split() == [str(i) for i in range(10)]
        assert json.loads(archive.read("metadata.json"))["format"] == "tflite_int8"


def test_files_from_before_the_standard_metadata_still_read(tmp_path):
    # setup: the old layout, an edgecnn zip of its own appended to a bare flatbuffer
    import io

    record = {"schema": "edgecnn.metadata/1", "labels": ["a", "b"], "input": {"height": 8, "width": 8, "channels": 1,
              "normalization": "unit", "mean": 0.0, "std": 255.0}}
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as old:
        old.writestr("metadata.json", json.dumps(record))
        old.writestr("labels.txt", "a\nb\n")
    path = tmp_path / "old.tflite"
    path.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(64) + archive.getvalue())
    # execute / assert
    assert read_metadata(path) == record and contract_of(path).labels == ["a", "b"]


@pytest.mark.parametrize("filename", ["model_float32.tflite", "model_int8.tflite"])
def test_weight_buffers_stay_16_byte_aligned_after_adding_metadata(tiny_build, filename):
    # LiteRT maps aligned buffers in place and copies unaligned ones ("unaligned buffer ... copying")
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs((tiny_build[0] / filename).read_bytes(), 0)
    starts = []
    for i in range(model.BuffersLength()):
        buffer = model.Buffers(i)
        field = buffer._tab.Offset(4)  # the `data` vector
        if field and buffer.DataLength():
            starts.append(buffer._tab.Vector(field))
    assert len(starts) > 5 and all(start % 16 == 0 for start in starts), starts


@pytest.mark.build
def test_the_same_recipe_builds_byte_identical_files(tmp_path):
    # Same recipe, seed and machine: the delivered files are byte for byte the same (no clock, temp
    # path or process-wide name counter inside them). Two fresh processes, as a user's two builds are.
    import hashlib
    import subprocess
    import sys

    import yaml

    from tests.conftest import TINY_RECIPE

    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(yaml.safe_dump({**TINY_RECIPE, "train": {**TINY_RECIPE["train"], "epochs": 1}}))
    folders = [tmp_path / "first", tmp_path / "second"]
    for folder in folders:
        done = subprocess.run([sys.executable, "-m", "edgecnn", "build", str(recipe), "--out", str(folder), "-q"],
                              capture_output=True, text=True)
        assert done.returncode in (0, 1), done.stderr
    # Not the .ort: onnxruntime's converter orders some tables differently from run to run (same content).
    names = ["model_float32.tflite", "model_int8.tflite", "model_float32.onnx", "model_float32.required_operators.config",
             "splits.csv", "labels.txt", "recipe.yaml", "reference.npz", "model.keras", "confusion.png"]
    digest = {folder: [hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in names] for folder in folders}
    assert digest[folders[0]] == digest[folders[1]]
    assert _untimed_report(folders[0]) == _untimed_report(folders[1])


def _untimed_report(folder) -> dict:
    """report.json without what a clock measures, its own folder's name written as RUN."""
    import json

    def drop_times(node):
        if isinstance(node, dict):
            return {k: drop_times(v) for k, v in node.items() if k not in ("latency", "latency_ms", "timings_s", "seconds")}
        return [drop_times(v) for v in node] if isinstance(node, list) else node

    return drop_times(json.loads((folder / "report.json").read_text().replace(str(folder), "RUN")))


def test_the_vendored_metadata_schema_is_mediapipes():
    """edgecnn/_vendor's flatc bindings equal the ones in the installed MediaPipe wheel, below their provenance
    header (found, not imported: importing MediaPipe imports TensorFlow)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("mediapipe")
    if spec is None:
        pytest.skip("needs the clients extra")
    theirs = Path(spec.origin).parent / "tasks" / "metadata" / "metadata_schema_py_generated.py"
    ours = Path(__file__).resolve().parents[1] / "edgecnn" / "_vendor" / "metadata_schema_py_generated.py"
    lines = ours.read_text().splitlines(keepends=True)
    body = "".join(lines[next(i for i, line in enumerate(lines) if not line.startswith("#")):])
    assert lines[0].startswith("# The TFLite Model Metadata schema") and body == theirs.read_text()
