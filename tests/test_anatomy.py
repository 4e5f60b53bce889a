"""`edgecnn inspect`: per-layer MACs checked by hand, published MobileNet totals, memory from tensor
lifetimes, pictures, and the report's layer section."""

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from edgecnn.anatomy import describe_model
from edgecnn.artifacts import open_artifact
from edgecnn.artifacts.layers import infer_stride_padding, read_layers, separable_savings, totals
from edgecnn_cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def one_block(tmp_path_factory):
    """Input 8x8x4 -> depthwise 3x3 -> pointwise 4->6 -> average -> dense 6->3, as Keras and TFLite."""
    from edgecnn._tf import keras
    from edgecnn.export.tflite import convert_to_tflite

    K = keras()
    inputs = K.Input((8, 8, 4))
    x = K.layers.DepthwiseConv2D(3, padding="same", name="dw")(inputs)
    x = K.layers.Conv2D(6, 1, name="pw")(x)
    x = K.layers.GlobalAveragePooling2D(name="pool")(x)
    model = K.Model(inputs, K.layers.Dense(3, name="head")(x))
    path = tmp_path_factory.mktemp("block") / "block.tflite"
    path.write_bytes(convert_to_tflite(model, "float32"))
    return model, path


@pytest.mark.build  # builds Keras models: TensorFlow
def test_depthwise_separable_block_macs_by_hand(one_block):
    model, path = one_block
    for source in (model, path):
        rows = {row.name: row for row in read_layers(source)}
        dw, pw = rows["dw"], rows["pw"]
        assert dw.macs == 3 * 3 * 4 * 8 * 8  # k*k*C*H*W = 2,304
        assert pw.macs == 4 * 6 * 8 * 8  # Cin*Cout*H*W = 1,536
        assert [row.macs for row in rows.values() if row.kind == "dense"] == [6 * 3]
        assert (dw.kernel, dw.stride, dw.padding) == ("3x3", 1, "same")
        saving = separable_savings(list(rows.values()))[0]
        assert saving["standard_macs"] == 3 * 3 * 4 * 6 * 8 * 8  # one 3x3 conv 4->6: 13,824
        assert saving["saving"] == round(13824 / (2304 + 1536), 2)


@pytest.mark.build  # its one_block is a Keras model: TensorFlow
def test_peak_activation_memory_from_lifetimes(one_block):
    _, path = one_block
    memory = describe_model(open_artifact(path))["memory"]
    # float32 chain: input 8x8x4 (1 KiB) -> dw 8x8x4 (1 KiB) -> pw 8x8x6 (1.5 KiB); while pw runs its input
    # and output are both live: 1,024 + 1,536 bytes, more than any other pair.
    assert memory["peak_activation_bytes"] == 1024 + 1536 and memory["peak_at"] == "pw"
    assert sorted(t["bytes"] for t in memory["largest_live_tensors"]) == [1024, 1536]
    assert memory["flash_bytes"] == path.stat().st_size


@pytest.mark.build  # builds Keras models: TensorFlow
def test_mobilenet_v1_totals_match_the_paper():
    from edgecnn.models import create_model

    layers = read_layers(create_model("mobilenet_v1", (224, 224, 3), 1000, alpha=1.0))
    counted = totals(layers)
    assert counted["params"] == 4_253_864  # tf_keras.applications.MobileNet
    assert abs(counted["macs"] - 569e6) / 569e6 < 0.001  # Howard et al. 2017, Table 1: 569 million mult-adds
    assert len(separable_savings(layers)) == 13


@pytest.mark.parametrize("size_in, size_out, kernel, expected", [
    (16, 8, 3, (2, "same")), (8, 6, 3, (1, "valid")), (9, 4, 3, (2, "valid")), (8, 8, 1, (1, "same")),
])
def test_stride_and_padding_from_shapes(size_in, size_out, kernel, expected):
    assert infer_stride_padding(size_in, size_out, kernel) == expected


def test_tflite_and_onnx_count_the_same_macs(tiny_build):
    run_dir, _ = tiny_build
    counts = [describe_model(open_artifact(run_dir / name))["totals"]["macs"] for name in
              ("model_float32.tflite", "model_int8.tflite", "model_float32.onnx")]
    keras_macs = totals(read_layers(run_dir / "model.keras"))["macs"]
    pixel_convolution = 16 * 16 * 3 * 1  # exported files start with RGB pixels -> normalized grayscale
    assert counts == [keras_macs + pixel_convolution] * 3


def test_inspect_cli_draws_kernels_feature_maps_and_strongest_images(tiny_build, tmp_path):
    run_dir, _ = tiny_build
    image = tmp_path / "digit.png"
    Image.fromarray(np.full((16, 16), 200, np.uint8)).save(image)
    result = runner.invoke(app, ["inspect", str(run_dir / "model_int8.tflite"), "--image", str(image), "--out",
                                 str(tmp_path / "look"), "--layers", "block_0_conv,block_2_pw", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    pictures = record["pictures"]
    assert len(pictures["feature_maps"]) == 2 and "block_2_pw" in pictures["feature_maps"][1]
    kernels = Image.open(pictures["kernels"])
    assert kernels.width > 100 and Image.open(pictures["strongest"]).height > 100
    assert json.loads((tmp_path / "look" / "inspect.json").read_text())["totals"] == record["totals"]


def test_inspect_unknown_layer_exits_2(tiny_build, tmp_path):
    run_dir, _ = tiny_build
    image = tmp_path / "digit.png"
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(image)
    result = runner.invoke(app, ["inspect", str(run_dir / "model_float32.tflite"), "--image", str(image),
                                 "--layers", "block_9", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "--layers 'block_9': no such layer" in result.output


def test_build_report_embeds_layers_and_links_pictures(tiny_build):
    run_dir, report = tiny_build
    markdown = (run_dir / "report.md").read_text()
    assert "## Layers (model_float32.tflite, batch 1)" in markdown
    assert "| block_1_dw | DEPTHWISE_CONV_2D | 3x3 | 2 |" in markdown
    for link in ("training_curves.png", "inspect/first_conv_kernels.png", "inspect/strongest_"):
        assert link in markdown
    assert report.anatomy.totals.macs > 0
    assert (run_dir / "training_curves.png").is_file()
