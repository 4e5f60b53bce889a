"""Every optimization technique on the tiny model, checked in the files it writes."""

import shutil

import numpy as np
import onnx
import pytest

from edgecnn.errors import ModelError, RecipeError
from edgecnn.formats import OPTIMIZE_VARIANTS
from edgecnn.artifacts.metadata import read_metadata
from edgecnn.recipe import validate_recipe
from edgecnn.artifacts.kernels import groups_breaking_m_by_n, read_kernels
from tests.conftest import TINY_RECIPE

FAST_OPTIMIZE = {
    "variants": list(OPTIMIZE_VARIANTS),
    "qat": {"epochs": 1},
    "prune": {"epochs": 3, "final_sparsity": 0.75, "schedule": "constant", "exclude": ["block_0_conv"]},
    "pqat": {"epochs": 1},
    "structured": {"epochs": 1},
    "cluster": {"clusters": 8, "epochs": 1, "cqat_epochs": 1},
    "pcqat": {"clusters": 8, "epochs": 1, "cqat_epochs": 1, "sparsity": 0.85},  # its own, higher sparsity
}


def tiny_recipe(**sections):
    return validate_recipe({**TINY_RECIPE, **sections})


@pytest.fixture(scope="module")
def optimized(tiny_build, tmp_path_factory):
    """Every variant made from the tiny build's trained model: (run folder, rows by name, recipe)."""
    from edgecnn import api

    source, _ = tiny_build
    run_dir = tmp_path_factory.mktemp("optimized") / "run"
    shutil.copytree(source, run_dir)
    recipe = tiny_recipe(optimize=FAST_OPTIMIZE)
    overrides = [(f"optimize.{key}", value) for key, value in FAST_OPTIMIZE.items()]
    report = api.optimize(run_dir, overrides, show_progress=False).report.to_dict()  # as report.json holds it
    return run_dir, {row["name"]: row for row in report["artifacts"]}, recipe, report


def kernels_by_layer(path):
    return {kernel.layer: kernel for kernel in read_kernels(path)}


def test_every_variant_is_written_verified_and_described(optimized):
    run_dir, rows, recipe, _ = optimized
    for name, fmt in OPTIMIZE_VARIANTS.items():
        row = rows[name]
        assert (run_dir / fmt.filename).is_file() and row["runtime"] == fmt.runtime
        assert row["technique"] == fmt.technique and read_metadata(run_dir / fmt.filename)["technique"] == fmt.technique
        assert row["accuracy"] is not None and row["latency_ms"]["p50"] > 0 and row["gzip_bytes"] < row["size_bytes"]
        assert row["accuracy_change"] == pytest.approx(row["accuracy"] - rows["keras_float32"]["accuracy"], abs=1e-5)


def test_post_training_quantization_keeps_the_float_answers(optimized):
    _, rows, _, _ = optimized
    assert rows["ptq_float16"]["agreement"] >= 0.99 and rows["ptq_dynamic"]["agreement"] >= 0.97
    for name in ("ptq_int8", "aeq_w8a8", "aeq_w8a16", "onnx_qdq_int8", "onnx_dynamic_int8", "qat_int8"):
        assert rows[name]["agreement"] >= 0.9, name
    float_size = rows["tflite_float32"]["size_bytes"]
    for name in ("ptq_float16", "ptq_int8", "aeq_w8a8", "aeq_w4"):
        assert rows[name]["size_bytes"] < 0.8 * float_size, name


def test_quantized_files_hold_the_promised_types(optimized):
    from ai_edge_litert.interpreter import Interpreter

    run_dir, _, _, _ = optimized
    kernels = read_kernels(run_dir / "optimized/ptq_float16.tflite")
    assert kernels and all(k.values.dtype == np.float16 for k in kernels)
    assert all(np.issubdtype(k.values.dtype, np.integer) for k in read_kernels(run_dir / "optimized/ptq_int8.tflite"))
    # phone-ready I/O: uint8 pixels in for converter int8 files, float pixels in for the LiteRT quantizer's
    for name, dtype in (("ptq_int8", np.uint8), ("qat_int8", np.uint8), ("aeq_w8a8", np.float32),
                        ("aeq_w8a16", np.float32)):
        interpreter = Interpreter(model_path=str(run_dir / f"optimized/{name}.tflite"))
        assert interpreter.get_input_details()[0]["dtype"] == dtype, name
        assert interpreter.get_output_details()[0]["dtype"] == np.float32, name
    # ... while the LiteRT quantizer's activations inside stay int8 and int16
    for name, dtype in (("aeq_w8a8", np.int8), ("aeq_w8a16", np.int16)):
        interpreter = Interpreter(model_path=str(run_dir / f"optimized/{name}.tflite"))
        assert any(d["dtype"] == dtype and d["name"].endswith("_quantized") for d in interpreter.get_tensor_details())
    qdq = onnx.load(str(run_dir / "optimized/onnx_qdq_int8.onnx"))
    assert {"QuantizeLinear", "DequantizeLinear"} <= {node.op_type for node in qdq.graph.node}
    # only the opset domains its nodes use (the quantizer imports com.microsoft, ai.onnx.training, ... by default)
    assert {entry.domain for entry in qdq.opset_import} == {node.domain for node in qdq.graph.node} == {""}
    dynamic_ops = {node.op_type for node in onnx.load(str(run_dir / "optimized/onnx_dynamic_int8.onnx")).graph.node}
    assert dynamic_ops & {"ConvInteger", "MatMulInteger", "DynamicQuantizeLinear"}


def test_calibration_count_and_source_are_recorded(optimized):
    run_dir, rows, recipe, _ = optimized
    expected = {"samples": recipe.export.calibration.samples, "source": "train split"}
    for name in ("ptq_int8", "aeq_w8a8", "aeq_w8a16", "onnx_qdq_int8"):
        assert rows[name]["calibration"] == expected
        assert read_metadata(run_dir / OPTIMIZE_VARIANTS[name].filename)["calibration"] == expected
    assert rows["qat_int8"]["calibration"] == expected  # its activation ranges start from the same images


def test_pruning_reaches_its_sparsity_in_the_file_and_pqat_keeps_it(optimized):
    run_dir, rows, recipe, _ = optimized
    target = recipe.optimize.prune.final_sparsity
    for name in ("pruned_float32", "pqat_int8"):
        sparsity = rows[name]["sparsity"]
        pruned = rows[name]["optimization"]["pruned_layers"]
        assert "block_0_conv" not in pruned and "classifier" in pruned
        assert sparsity["pruned_layers"] >= target - 0.01, name
        kernels = kernels_by_layer(run_dir / OPTIMIZE_VARIANTS[name].filename)
        for layer in pruned:
            assert kernels[layer].sparsity >= target - 0.02, (name, layer)
        assert kernels["block_0_conv"].sparsity < 0.1  # excluded: untouched
    assert rows["pqat_int8"]["gzip_bytes"] < rows["tflite_int8"]["gzip_bytes"]


def test_two_of_four_pattern_holds_in_the_exported_file(optimized):
    run_dir, rows, _, _ = optimized
    pruned = rows["prune_2of4_float32"]["optimization"]["pruned_layers"]
    kernels = kernels_by_layer(run_dir / "optimized/prune_2of4_float32.tflite")
    assert pruned and all(kernels[layer].kind in ("pointwise", "dense") for layer in pruned)
    for layer in pruned:
        assert groups_breaking_m_by_n(kernels[layer].values) == 0, layer
    unpruned = [k for name, k in kernels.items() if name not in pruned and k.values.shape[-1] % 4 == 0]
    assert any(groups_breaking_m_by_n(k.values) > 0 for k in unpruned)  # the check can fail


def test_clustered_kernels_keep_few_distinct_values_per_channel(optimized):
    run_dir, _, recipe, _ = optimized
    clusters = recipe.optimize.cluster.clusters
    kernels = [k for k in read_kernels(run_dir / "optimized/cqat_int8.tflite") if k.kind == "pointwise"]
    assert kernels
    for kernel in kernels:
        per_channel = [len(np.unique(channel)) for channel in kernel.values.reshape(kernel.values.shape[0], -1)]
        assert max(per_channel) <= clusters, kernel.layer
    plain = [k for k in read_kernels(run_dir / "optimized/qat_int8.tflite") if k.kind == "pointwise"]
    assert max(len(np.unique(c)) for k in plain for c in k.values.reshape(k.values.shape[0], -1)) > clusters


def test_pcqat_keeps_the_zeros_and_the_clusters(optimized):
    run_dir, rows, recipe, _ = optimized
    row, pqat = rows["pcqat_int8"], rows["pqat_int8"]
    pruned = row["optimization"]["pruned_layers"]
    assert row["optimization"]["final_sparsity"] == 0.85 and pqat["optimization"]["final_sparsity"] == 0.75
    assert row["sparsity"]["pruned_layers"] >= 0.84 > pqat["sparsity"]["pruned_layers"]  # the int8 file's own zeros
    clusters = recipe.optimize.pcqat.clusters
    distinct = row["sparsity"]["distinct_per_channel"]
    assert all(distinct[layer] <= clusters + 1 for layer in pruned), distinct  # the clusters and zero
    assert max(pqat["sparsity"]["distinct_per_channel"][layer] for layer in pruned) > clusters + 1
    assert row["gzip_bytes"] < pqat["gzip_bytes"]


def test_report_names_the_best_variant_within_the_budgets(optimized):
    run_dir, rows, _, report = optimized
    best = report["best"]
    assert best["objective"] == "gzip_bytes"
    passing = [r for r in rows.values() if r["runtime"] != "tensorflow" and r["name"] not in best["rejected"]]
    assert best["name"] == min(passing, key=lambda r: (r["gzip_bytes"], -r["accuracy"]))["name"]
    markdown = (run_dir / "report.md").read_text()
    assert f"Best under the budgets: {best['name']}" in markdown and "Sparsity per layer" in markdown


def test_budgets_reject_variants_that_lose_too_much():
    from edgecnn.recipe import BudgetConfig
    from edgecnn.verify.judge import gate, select_best
    from tests.records import result_row

    def row(name, gzip, change):
        return result_row(name, accuracy=0.9 + change, accuracy_change=change, agreement=1.0, size_bytes=gzip * 2,
                          gzip_bytes=gzip)

    rows = [row("tiny_but_wrong", 10, -0.05), row("small", 20, -0.004), row("big", 40, 0.0)]
    best = select_best(rows, gate(rows, BudgetConfig(max_accuracy_drop=0.01), []), "gzip_bytes")
    assert best.name == "small"
    assert best.rejected == {"tiny_but_wrong": ["max_accuracy_drop: measured 0.05, limit 0.01"]}
    both = BudgetConfig(max_accuracy_drop=0.01, max_gzip_bytes=5)
    assert select_best(rows, gate(rows, both, []), "gzip_bytes").name is None


def test_the_best_pick_judges_files_by_what_an_app_gets_when_mediapipe_measured_it():
    from edgecnn.recipe import BudgetConfig
    from edgecnn.verify.judge import gate, select_best
    from tests.records import result_row

    def row(name, accuracy, app_accuracy):
        return result_row(name, accuracy=accuracy, accuracy_change=0.0, agreement=1.0,
                          app={"accuracy": app_accuracy, "gap": round(accuracy - app_accuracy, 6)})

    # the same size: the report's accuracy alone would pick "looks_best"; its app figure is the lowest
    rows = [row("looks_best", 0.99, app_accuracy=0.95), row("steady", 0.98, app_accuracy=0.979)]
    none = BudgetConfig(max_accuracy_drop=None)
    assert select_best(rows, gate(rows, none, []), "accuracy").name == "steady"
    assert select_best(rows, gate(rows, none, []), "gzip_bytes").name == "steady"  # ties on size: the app figure
    checks = gate(rows, BudgetConfig(max_accuracy_drop=None, max_app_gap=0.005), ["looks_best"])
    assert [(c.artifact, c.passed) for c in checks.checks] == [("looks_best", False), ("steady", True)]
    assert checks.missed_checks[0].missed_text() == "measured 0.04, limit 0.005"


@pytest.mark.parametrize(
    "calibration, message",
    [
        ({"samples": 20}, "samples 20 is below min_samples 100"),
        ({"split": "test"}, "split 'test': calibrating on images the files are scored on"),
    ],
)
def test_calibration_guard_rejects_few_or_outside_images(calibration, message):
    with pytest.raises(RecipeError, match=message):
        tiny_recipe(export={"calibration": calibration})


def test_calibration_guard_checks_what_the_split_really_holds(tiny_dataset):
    from edgecnn.export.calibration import calibration_set

    recipe = tiny_recipe(export={"calibration": {"samples": 5000, "min_samples": 2000}})
    with pytest.raises(RecipeError, match=r"export.calibration.samples: \d+ calibration images .* has \d+\)"):
        calibration_set(tiny_dataset, recipe.export.calibration, 0)
    allowed = tiny_recipe(export={"calibration": {"split": "val", "allow_outside_train": True, "samples": 100,
                                                  "min_samples": 50}})
    chosen = calibration_set(tiny_dataset, allowed.export.calibration, 0)
    assert chosen.record() == {"samples": 100, "source": "val split"} and chosen.images.dtype == np.float32


def layer_norm_model():
    from edgecnn._tf import keras

    K = keras()
    inputs = K.Input((8, 8, 1), name="input")
    x = K.layers.Conv2D(4, 3, name="conv")(inputs)
    x = K.layers.LayerNormalization(name="norm")(x)
    x = K.layers.GlobalAveragePooling2D(name="pool")(x)
    return K.Model(inputs, K.layers.Dense(3, activation="softmax", name="classifier")(x))


@pytest.mark.build
def test_a_layer_tfmot_cannot_quantize_is_named_with_the_way_out():
    from edgecnn.optimize.qat import quantize_for_training

    with pytest.raises(ModelError) as info:
        quantize_for_training(layer_norm_model())
    message = str(info.value)
    assert "'norm' (LayerNormalization)" in message and "optimize.qat.leave_float" in message


@pytest.mark.build
def test_leaving_that_layer_in_float_gives_a_working_int8_file():
    from ai_edge_litert.interpreter import Interpreter

    from edgecnn.export.tflite import convert_to_tflite
    from edgecnn.optimize.qat import quantize_for_training

    model = quantize_for_training(layer_norm_model(), leave_float=["norm"])
    images = np.random.default_rng(0).random((8, 8, 8, 1), dtype=np.float32)
    model(images)  # initialise the quantizers' ranges
    interpreter = Interpreter(model_content=convert_to_tflite(model, "qat", io_dtype="float32", allow_float_ops=True))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], images[:1])
    interpreter.invoke()
    assert interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).sum() == pytest.approx(1, abs=0.05)
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert "QUANTIZE" in ops and "DEQUANTIZE" in ops  # int8 around the float layer


def test_unknown_layer_pattern_is_a_clear_error(tiny_build):
    from edgecnn.optimize.layers import select_layers
    from edgecnn.run import RunFolder

    model = RunFolder(tiny_build[0]).load_model()
    with pytest.raises(RecipeError, match="optimize.prune.exclude: 'block_99' matches no layer"):
        select_layers(model, ["pointwise"], ["block_99"], "optimize.prune")
    assert select_layers(model, ["pointwise"], ["block_1_*"], "optimize.prune") == [
        layer.name for layer in model.layers if layer.name.endswith("_pw") and not layer.name.startswith("block_1_")
    ]


def test_variant_names_are_checked():
    with pytest.raises(RecipeError, match="optimize.variants.0"):
        tiny_recipe(optimize={"variants": ["qat_int4"]})
    with pytest.raises(RecipeError, match="variant 'qat_int8' listed twice"):
        tiny_recipe(optimize={"variants": ["qat_int8", "qat_int8"]})


@pytest.mark.parametrize("method", ["minmax", "entropy", "percentile"])
def test_onnx_static_quantization_supports_each_calibration_method(tiny_build, tiny_dataset, method):
    from edgecnn.data import normalize
    from edgecnn.optimize.onnx_int8 import quantize_onnx
    from edgecnn.recipe import OnnxQuantConfig
    from edgecnn.artifacts.runners import OnnxRunner

    from edgecnn.artifacts.metadata import contract_of

    run_dir, _ = tiny_build
    contract = contract_of(run_dir / "model_float32.onnx")  # the file takes 0..255 RGB pixels
    images = normalize(tiny_dataset.train.images(np.arange(64)), contract)
    settings = OnnxQuantConfig(method=method, per_channel=True)
    quantized = quantize_onnx(onnx.load(str(run_dir / "model_float32.onnx")), "static", images, settings)
    path = run_dir.parent / f"qdq_{method}.onnx"
    onnx.save(quantized, str(path))
    test_images = normalize(tiny_dataset.x_test, contract)
    float_top1 = OnnxRunner(run_dir / "model_float32.onnx").predict(test_images).argmax(1)
    int8_top1 = OnnxRunner(path).predict(test_images).argmax(1)
    assert (float_top1 == int8_top1).mean() >= 0.9
    scales = [init for init in quantized.graph.initializer if init.name.endswith("_scale") and init.dims]
    assert scales  # per-channel weight scales are vectors


@pytest.mark.parametrize("reduce_range, largest_weight", [(False, 127), (True, 64)])
def test_onnx_reduce_range_quantizes_weights_to_seven_bits(tiny_build, tiny_dataset, reduce_range, largest_weight):
    from onnx import numpy_helper

    from edgecnn.data import normalize
    from edgecnn.optimize.onnx_int8 import quantize_onnx
    from edgecnn.recipe import OnnxQuantConfig

    from edgecnn.artifacts.metadata import contract_of

    run_dir, _ = tiny_build
    images = normalize(tiny_dataset.train.images(np.arange(32)), contract_of(run_dir / "model_float32.onnx"))
    settings = OnnxQuantConfig(per_channel=True, reduce_range=reduce_range)
    quantized = quantize_onnx(onnx.load(str(run_dir / "model_float32.onnx")), "static", images, settings)
    kernels = [numpy_helper.to_array(init) for init in quantized.graph.initializer
               if init.data_type == onnx.TensorProto.INT8 and len(init.dims) > 1]
    assert kernels
    # per channel, each kernel's largest weight takes the top of the (7- or 8-bit) range
    assert max(int(np.abs(k.astype(np.int32)).max()) for k in kernels) == largest_weight


def test_every_optimized_tflite_loads_in_mediapipe(optimized):
    from tests.clients import mediapipe_refusal

    run_dir, rows, _, _ = optimized
    for name, row in rows.items():
        if row["path"].endswith(".tflite"):
            assert row["readiness"]["mediapipe"]["loads"], (name, row["readiness"]["mediapipe"])
            assert mediapipe_refusal(row["path"]) is None, name


def test_folding_batchnorm_keeps_the_outputs_and_the_zeros(tiny_build):
    from edgecnn._tf import keras
    from edgecnn.modelfile import load_keras
    from edgecnn.optimize.batchnorm import fold_batchnorm

    model = load_keras(tiny_build[0] / "model.keras")
    pointwise = next(layer for layer in model.layers if layer.name.endswith("_pw"))
    kernel = pointwise.get_weights()[0]
    kernel[..., ::2] = 0.0  # zeros must stay zeros through the fold
    pointwise.set_weights([kernel])
    folded = fold_batchnorm(model)
    K = keras()
    assert not any(isinstance(layer, K.layers.BatchNormalization) for layer in folded.layers)
    assert len(folded.layers) < len(model.layers)
    images = np.random.default_rng(0).random((4, *model.input_shape[1:]), dtype=np.float32)
    np.testing.assert_allclose(folded(images, training=False), model(images, training=False), atol=1e-5)
    assert (folded.get_layer(pointwise.name).get_weights()[0][..., ::2] == 0).all()


@pytest.mark.build
def test_per_tensor_pcqat_keeps_few_codes_per_layer_and_one_scale(tiny_build, tiny_dataset, tmp_path):
    from edgecnn.artifacts.kernels import builtin_interpreter
    from edgecnn.export.calibration import calibration_set
    from edgecnn.modelfile import load_keras
    from edgecnn.optimize.variants import Job, make_pcqat

    settings = {**FAST_OPTIMIZE, "pcqat": {**FAST_OPTIMIZE["pcqat"], "per_tensor": True}}
    recipe = tiny_recipe(optimize=settings)
    job = Job(load_keras(tiny_build[0] / "model.keras"), recipe, tiny_dataset,
              calibration_set(tiny_dataset, recipe.export.calibration, recipe.seed), show_progress=False)
    path = make_pcqat(job, OPTIMIZE_VARIANTS["pcqat_int8"], tmp_path / "pcqat_int8.tflite")
    clusters = recipe.optimize.pcqat.clusters
    kernels = [k for k in read_kernels(path)
               if k.kind in ("conv", "pointwise") and k.layer not in ("block_0_conv", "input_pixels")]
    assert kernels
    for kernel in kernels:  # the whole layer, not each channel: one scale maps the clusters to the same codes
        assert len(np.unique(kernel.values)) <= clusters + 1, kernel.layer
        assert (kernel.values == 0).mean() >= 0.84, kernel.layer
    interpreter = builtin_interpreter(path)
    weights = [d for d in interpreter.get_tensor_details()
               if len(d["shape"]) == 4 and d["shape"][0] > 1 and "input_pixels" not in d["name"]]
    assert weights and all(len(d["quantization_parameters"]["scales"]) == 1 for d in weights)
