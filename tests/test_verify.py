import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from edgecnn.errors import VerificationError
from edgecnn.verify import file_sizes
from edgecnn.verify.latency import measure_latency
from edgecnn.verify.runtimes import TFLiteRunner, open_runner


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
    predictions = TFLiteRunner(run_dir / "model_int8.tflite").predict(normalize(ds.x_test, ds.contract))
    row = next(a for a in report["artifacts"] if a["name"] == "tflite_int8")
    assert row["accuracy"] == pytest.approx((predictions.argmax(1) == ds.y_test).mean())


def test_sizes_are_real(tiny_build):
    run_dir, report = tiny_build
    row = next(a for a in report["artifacts"] if a["name"] == "tflite_float32")
    size, gz = file_sizes(run_dir / "model_float32.tflite")
    assert row["size_bytes"] == size == (run_dir / "model_float32.tflite").stat().st_size and 0 < gz < size


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
    with pytest.raises(VerificationError, match="junk.tflite: LiteRT cannot load it"):
        open_runner(junk)
    with pytest.raises(VerificationError, match="unknown model type '.pt'"):
        (tmp_path / "m.pt").write_bytes(b"x")
        open_runner(tmp_path / "m.pt")
    with pytest.raises(VerificationError, match="file not found"):
        open_runner(tmp_path / "missing.onnx")


def test_verifying_exported_files_never_imports_tensorflow(tiny_build):
    run_dir, _ = tiny_build
    script = textwrap.dedent(f"""
        import sys
        from edgecnn.pipeline import load_run_recipe, verify_stage
        from edgecnn.data import load_dataset
        import edgecnn.pipeline as pipeline
        pipeline.importlib.util.find_spec = lambda name: None  # pretend TensorFlow is not installed
        recipe = load_run_recipe({str(run_dir)!r}, ["verify.runs=5"])
        report = verify_stage(recipe, {str(run_dir)!r}, show_progress=False)
        assert [a["name"] for a in report["artifacts"]] == ["tflite_float32", "tflite_int8", "onnx_float32"]
        assert report["artifacts"][1]["agreement"] is not None
        assert "tensorflow" not in sys.modules, "tensorflow was imported"
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"
