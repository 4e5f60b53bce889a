import importlib.util
import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from edgecnn.errors import VerificationError
from edgecnn.verify import file_sizes
from edgecnn.verify.latency import measure_latency
from edgecnn.artifacts.runners import TFLiteRunner, open_runner


def test_report_schema_and_rows(tiny_build):
    run_dir, report = tiny_build
    on_disk = json.loads((run_dir / "report.json").read_text())
    assert on_disk["schema"] == "edgecnn.report/1" and on_disk["recipe"]["name"] == "tiny"
    names = [a["name"] for a in on_disk["artifacts"]]
    assert names == ["keras_float32", "tflite_float32", "tflite_int8", "onnx_float32"]
    for row in on_disk["artifacts"]:
        assert {"name", "path", "format", "precision", "size_bytes", "accuracy", "agreement", "latency_ms", "threads"} <= set(row)
        assert row["latency_ms"]["p50"] > 0 and row["latency_ms"]["p90"] >= row["latency_ms"]["p50"]
        assert row["threads"] == 1 and row["latency_ms"]["runs"] <= 20
    assert set(on_disk["timings_s"]) >= {"train", "export", "verify", "total"}
    assert "| tflite_int8 |" in (run_dir / "report.md").read_text()


def test_report_accuracy_is_recomputed_from_the_file(tiny_build):
    from edgecnn.data import load_dataset, normalize
    from edgecnn.recipe import validate_recipe
    from tests.conftest import TINY_RECIPE

    run_dir, report = tiny_build
    recipe = validate_recipe(TINY_RECIPE)
    ds = load_dataset(recipe.data, recipe.seed)
    from edgecnn.artifacts.metadata import contract_of

    path = run_dir / "model_int8.tflite"
    predictions = TFLiteRunner(path).predict(normalize(ds.x_test, contract_of(path)))
    assert report.row("tflite_int8").accuracy == pytest.approx((predictions.argmax(1) == ds.y_test).mean())


def test_sizes_are_real(tiny_build):
    run_dir, report = tiny_build
    row = report.row("tflite_float32")
    size, gz = file_sizes(run_dir / "model_float32.tflite")
    assert row.size_bytes == size == (run_dir / "model_float32.tflite").stat().st_size and 0 < gz < size


def test_latency_stops_at_time_budget():
    class SlowRunner:
        def invoke(self, x):
            import time

            time.sleep(0.01)

    timing = measure_latency(SlowRunner(), np.zeros((4, 2)), warmup=1, runs=1000, max_seconds=0.1)
    assert timing["runs"] < 20 and timing["p50"] >= 10


def test_open_runner_rejects_bad_files(tmp_path):
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model")
    with pytest.raises(VerificationError, match="junk.tflite: not a TFLite flatbuffer"):
        open_runner(junk)
    with pytest.raises(VerificationError, match="unknown model type '.pt'"):
        (tmp_path / "m.pt").write_bytes(b"x")
        open_runner(tmp_path / "m.pt")
    with pytest.raises(VerificationError, match="file not found"):
        open_runner(tmp_path / "missing.onnx")


def test_verifying_exported_files_never_imports_tensorflow(tiny_build, tmp_path):
    run_dir, _ = tiny_build
    script = textwrap.dedent(f"""
        import sys
        from edgecnn import api
        import edgecnn.pipeline as pipeline
        pipeline.importlib.util.find_spec = lambda name: None  # pretend TensorFlow is not installed
        report = api.verify([{str(run_dir)!r}], overrides=["verify.runs=5"], out={str(tmp_path / "v")!r},
                            show_progress=False).report
        assert [a.name for a in report.artifacts] == ["tflite_float32", "tflite_int8", "onnx_float32"]
        assert report.artifacts[1].agreement is not None
        assert "tensorflow" not in sys.modules, "tensorflow was imported"
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"


def test_latency_report_has_the_full_statistics(tiny_build):
    _, report = tiny_build
    row = report.row("tflite_int8")
    assert row.latency[0].threads == 1
    for timing in row.latency:
        assert timing.min <= timing.p50 <= timing.p90 <= timing.p99 <= timing.max
        assert timing.std >= 0 and timing.first_ms > 0 and timing.init_ms > 0
        assert timing.throughput_per_s == pytest.approx(1000 / timing.mean, rel=0.01)
        assert timing.gmac_per_s == pytest.approx(row.macs / (timing.p50 / 1000) / 1e9, rel=0.01)
        assert timing.runtime_settings["num_threads"] == timing.threads  # the runtime's own option names
    onnx_row = report.row("onnx_float32")
    assert onnx_row.latency[0].runtime_settings["graph_optimization_level"] == "ORT_ENABLE_ALL"


def test_macs_counted_from_the_files_match_the_architecture(tiny_build):
    from edgecnn.models.registry import resolve_layers
    from edgecnn.models.spec import count
    from edgecnn.artifacts import open_artifact

    run_dir, _ = tiny_build
    pixel_convolution = 16 * 16 * 3 * 1  # exported files start with RGB pixels -> normalized grayscale
    expected = count(resolve_layers("dscnn_xs", (16, 16, 1), 10))["macs"] + pixel_convolution
    for name in ("model_float32.tflite", "model_int8.tflite", "model_float32.onnx"):
        assert open_artifact(run_dir / name).macs == expected, name


def test_verify_files_with_data_matches_the_run_folder(tiny_build, tiny_recipe_file, tmp_path):
    from edgecnn.verify.files import verify_files

    run_dir, report = tiny_build
    files = [run_dir / "model_int8.tflite", run_dir / "model_float32.onnx"]
    result, _ = verify_files(files, str(tiny_recipe_file), None, 0, ["verify.runs=5"], show_progress=False)
    for row, original in zip(result.artifacts, ("tflite_int8", "onnx_float32")):
        built = report.row(original)
        assert row.accuracy == pytest.approx(built.accuracy)
        assert row.per_class == built.per_class and row.confusion_matrix == built.confusion_matrix
        assert row.agreement is None and row.input_dtype == built.input_dtype
    recorded = result.to_dict()["recipe"]  # what the report knows of the recipe: no model
    assert recorded["data"]["source"] == "digits" and "model" not in recorded


def test_verify_files_reads_nchw_onnx_not_built_by_edgecnn(tiny_dataset, tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from edgecnn.verify.files import verify_files

    weights = np.random.default_rng(0).normal(size=(256, 10)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["pixels"], ["flat"]), helper.make_node("MatMul", ["flat", "w"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["scores"])],
        "foreign", [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["n", 1, 16, 16])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["n", 10])], [numpy_helper.from_array(weights, "w")],
    )
    path = tmp_path / "foreign.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    report, _ = verify_files([path], "digits", "unit", 3, ["verify.runs=5"], show_progress=False)
    row = report.artifacts[0]
    assert row.accuracy is not None and 0 <= row.accuracy <= 1 and row.macs == 2560
    with pytest.raises(VerificationError, match="10 outputs, but --data shapes has 6 classes"):
        verify_files([path], "shapes", "unit", 3, [], show_progress=False)


def test_verify_files_without_data_gives_latency_only_and_never_imports_tensorflow(tiny_build, tmp_path):
    run_dir, _ = tiny_build
    script = textwrap.dedent(f"""
        import importlib.util, sys
        from pathlib import Path
        from edgecnn.verify.files import verify_files
        real_find_spec = importlib.util.find_spec
        importlib.util.find_spec = lambda name, *a: None if name == "tensorflow" else real_find_spec(name, *a)
        report, _ = verify_files([Path({str(run_dir / 'model_int8.tflite')!r})], None, None, 0, ["verify.runs=5"],
                              show_progress=False)
        row = report.artifacts[0]
        assert row.accuracy is None and row.latency_ms.p50 > 0, row
        assert row.readiness.float_operators == []
        gpu = row.readiness.gpu_delegate  # the export's verdict, read from the file without TensorFlow
        assert gpu.checked and gpu.compatible and gpu.source == "recorded at export", gpu
        asked, _ = verify_files([Path({str(run_dir / 'model_int8.tflite')!r})], None, None, 0,
                             ["verify.runs=5", "verify.gpu_check=always"], show_progress=False)
        assert "needs TensorFlow" in asked.artifacts[0].readiness.gpu_delegate.reason
        print("tensorflow" in sys.modules, "tf_keras" in sys.modules)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_what_an_app_gets_is_measured_without_importing_tensorflow(tiny_build):
    """With the clients extra, verifying a .tflite on data runs it through MediaPipe Tasks, and MediaPipe, which
    imports TensorFlow for a docs decorator when it can, does not here (`mediapipe_tasks`)."""
    if importlib.util.find_spec("mediapipe") is None:
        pytest.skip("needs the clients extra")
    run_dir, _ = tiny_build
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from edgecnn.verify.files import verify_files
        report, _ = verify_files([Path({str(run_dir / 'model_int8.tflite')!r})], "digits", None, 3,
                                 ["verify.runs=5", "verify.camera_scale=2"], show_progress=False)
        app = report.artifacts[0].app
        assert app.client.startswith("MediaPipe Tasks") and app.own_size.agreement == 1.0, app
        print("tensorflow" in sys.modules)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False"]


def test_phone_readiness_is_reported_per_file(tiny_build):
    run_dir, _ = tiny_build
    from edgecnn.artifacts import open_artifact
    from edgecnn.verify.readiness import check_readiness

    int8 = check_readiness(open_artifact(run_dir / "model_int8.tflite"), "int8")
    assert int8["float_operators"] == [] and "CONV_2D" in int8["operators"]
    assert int8["gpu_delegate"]["checked"] and int8["gpu_delegate"]["compatible"]
    analyzed = check_readiness(open_artifact(run_dir / "model_int8.tflite"), "int8", gpu_check="always")
    assert analyzed["gpu_delegate"]["source"] == "analyzed now" and analyzed["gpu_delegate"]["compatible"]
    skipped = check_readiness(open_artifact(run_dir / "model_int8.tflite"), "int8", gpu_check="never")
    assert not skipped["gpu_delegate"]["checked"]
    float_file = check_readiness(open_artifact(run_dir / "model_float32.tflite"), "float32")
    assert "float_operators" not in float_file  # only int8 files are held to that
    as_if_int8 = check_readiness(open_artifact(run_dir / "model_float32.tflite"), "int8")
    assert any(op.startswith("CONV_2D") for op in as_if_int8["float_operators"])  # the check can fail
    onnx_file = check_readiness(open_artifact(run_dir / "model_float32.onnx"), "float32")
    assert onnx_file["onnx_checker"] == "passed (full check)"
    assert onnx_file["ort_mobile"]["NNAPI"]["fixed_shapes"] == "YES"
    assert "## Phone readiness" in (run_dir / "report.md").read_text()


def test_verifying_a_run_folder_reuses_its_measurements_and_writes_nothing_into_it(tiny_build, tmp_path):
    """`verify RUN` is the build's verify stages over the folder: with the build's settings on this machine every
    measurement is reused; a changed setting measures again; the folder's files stay byte for byte."""
    from edgecnn import api
    from edgecnn.fileio import file_sha256

    source, built = tiny_build
    run_dir = tmp_path / "run"
    shutil.copytree(source, run_dir)
    before = {path: file_sha256(path) for path in run_dir.rglob("*") if path.is_file()}
    same = api.verify([run_dir], out=tmp_path / "same", show_progress=False).report
    fewer_runs = api.verify([run_dir], out=tmp_path / "fewer", overrides=["verify.runs=5"], show_progress=False).report
    assert {path: file_sha256(path) for path in run_dir.rglob("*") if path.is_file()} == before
    actions = {d.stage: d.action for d in same.stages}
    assert {actions[f"verify:{row.name}"] for row in built.artifacts} == {"reused"}
    assert [row.latency_ms for row in same.artifacts] == [row.latency_ms for row in built.artifacts]
    assert {d.action for d in fewer_runs.stages if d.stage.startswith("verify:")} == {"run"}
    assert {row.latency_ms.runs for row in fewer_runs.artifacts} == {5}
