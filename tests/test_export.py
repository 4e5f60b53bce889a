import json
import zipfile

import numpy as np
import onnx
import pytest

from edgecnn.data import normalize
from edgecnn.export.metadata import read_metadata
from edgecnn.verify.runtimes import OnnxRunner, TFLiteRunner


@pytest.fixture(scope="module")
def tiny_test_images(tiny_dataset):
    return normalize(tiny_dataset.x_test, tiny_dataset.contract), tiny_dataset


@pytest.fixture(scope="module")
def keras_outputs(tiny_build, tiny_test_images):
    from edgecnn.train import load_model

    run_dir, _ = tiny_build
    x, _ = tiny_test_images
    return load_model(run_dir / "model.keras").predict(x, verbose=0)


def test_every_format_written_with_labels(tiny_build):
    run_dir, _ = tiny_build
    for name in ("model_float32.tflite", "model_int8.tflite", "model_float32.onnx", "labels.txt", "recipe.yaml"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "labels.txt").read_text().split() == [str(i) for i in range(10)]
    assert not list(run_dir.glob(".*.tmp*")), "temporary files left behind"


def test_tflite_float_matches_keras(tiny_build, tiny_test_images, keras_outputs):
    run_dir, _ = tiny_build
    x, _ = tiny_test_images
    runner = TFLiteRunner(run_dir / "model_float32.tflite")
    assert runner.input_dtype == "float32"
    np.testing.assert_allclose(runner.predict(x), keras_outputs, atol=1e-4)


def test_tflite_int8_has_int8_io_and_tracks_keras(tiny_build, tiny_test_images, keras_outputs):
    run_dir, _ = tiny_build
    x, _ = tiny_test_images
    runner = TFLiteRunner(run_dir / "model_int8.tflite")
    assert runner.input_dtype == "int8" and np.dtype(runner.output["dtype"]) == np.int8
    scale, zero_point = runner.input["quantization"]
    assert scale == pytest.approx(1 / 255, rel=1e-3) and zero_point == -128
    probabilities = runner.predict(x)
    agreement = (probabilities.argmax(1) == keras_outputs.argmax(1)).mean()
    assert agreement >= 0.97 and np.abs(probabilities - keras_outputs).max() < 0.25


def test_onnx_matches_keras_with_dynamic_batch(tiny_build, tiny_test_images, keras_outputs):
    run_dir, _ = tiny_build
    x, _ = tiny_test_images
    model = onnx.load(str(run_dir / "model_float32.onnx"))
    assert max(op.version for op in model.opset_import if op.domain in ("", "ai.onnx")) >= 17
    graph_input = model.graph.input[0]
    assert graph_input.name == "input"
    assert graph_input.type.tensor_type.shape.dim[0].dim_value == 0  # symbolic batch dimension
    runner = OnnxRunner(run_dir / "model_float32.onnx")
    np.testing.assert_allclose(runner.predict(x), keras_outputs, atol=1e-4)
    np.testing.assert_allclose(runner.predict(x[:7], batch_size=3), keras_outputs[:7], atol=1e-4)


@pytest.mark.parametrize("filename", ["model_float32.tflite", "model_int8.tflite", "model_float32.onnx"])
def test_metadata_records_labels_and_input_contract(tiny_build, filename):
    run_dir, _ = tiny_build
    meta = read_metadata(run_dir / filename)
    assert meta["schema"] == "edgecnn.metadata/1" and meta["labels"] == [str(i) for i in range(10)]
    assert meta["input"]["shape"] == [1, 16, 16, 1] and meta["input"]["layout"] == "NHWC"
    assert meta["input"]["mean"] == 0.0 and meta["input"]["std"] == 255.0
    if "int8" in filename:
        assert meta["input"]["dtype"] == "int8" and meta["input"]["quantization"]["zero_point"] == -128
        assert meta["calibration"] == {"samples": 32, "source": "train split"}


def test_tflite_metadata_is_a_readable_zip(tiny_build):
    run_dir, _ = tiny_build
    with zipfile.ZipFile(run_dir / "model_int8.tflite") as archive:
        assert archive.read("labels.txt").decode().split() == [str(i) for i in range(10)]
        assert json.loads(archive.read("metadata.json"))["format"] == "tflite_int8"
