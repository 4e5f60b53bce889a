"""Phone readiness: edgecnn's MediaPipe verdict for a `.tflite` agrees with MediaPipe Tasks itself, on files
it loads and on each kind of file it refuses; the standard metadata reads back through MediaPipe's schema."""

import json
import shutil

import pytest

from edgecnn.export.tflite_metadata import MIN_PARSER_VERSION, read_standard_metadata
from edgecnn.artifacts import open_artifact
from edgecnn.verify.readiness import check_readiness
from tests.clients import mediapipe_metadata, mediapipe_refusal


@pytest.fixture(scope="module")
def refused_files(tiny_build, tiny_dataset, tmp_path_factory):
    """Files MediaPipe must refuse: int8 input (microcontroller I/O), a 1-channel input, and a float
    file without standard metadata."""
    from edgecnn.export.pixels import FileInput
    from edgecnn.export.tflite import convert_to_tflite
    from edgecnn import api
    from edgecnn.recipe import load_recipe
    from edgecnn.modelfile import load_keras

    run_dir, _ = tiny_build
    files = {}
    for name, overrides in (("int8_io", ["export.int8_io=int8", "export.formats=[tflite_int8]"]),
                            ("grayscale", ["export.rgb_input=false", "export.formats=[tflite_float32]"])):
        out = tmp_path_factory.mktemp(name) / "run"
        shutil.copytree(run_dir, out)
        files[name] = api.export(out, overrides, show_progress=False)[0].path
    recipe = load_recipe(run_dir / "recipe.yaml")
    bare = tmp_path_factory.mktemp("bare") / "bare.tflite"
    bare.write_bytes(convert_to_tflite(load_keras(run_dir / "model.keras"),
                                       file_input=FileInput.for_recipe(recipe, tiny_dataset.contract)))
    files["no_metadata"] = bare
    return files


@pytest.mark.parametrize("filename", ["model_float32.tflite", "model_int8.tflite"])
def test_built_files_load_in_mediapipe_and_the_report_says_so(tiny_build, filename):
    run_dir, report = tiny_build
    assert mediapipe_refusal(run_dir / filename) is None
    row = next(r for r in report.artifacts if r.path.endswith(filename))
    assert row.readiness.mediapipe.to_dict() == {"loads": True, "problems": [], "standard_metadata": True,
                                                 "labels": True}
    assert "MediaPipe Tasks: loads" in (run_dir / "report.md").read_text()


@pytest.mark.parametrize("kind, ours, theirs", [
    ("int8_io", "input type int8", "INT8"),
    ("grayscale", "input shape [1, 16, 16, 1]", "Only RGB color space is supported"),
    ("no_metadata", "without NormalizationOptions", "NormalizationOptions"),
])
def test_refusals_agree_with_mediapipe(refused_files, kind, ours, theirs):
    path = refused_files[kind]
    verdict = check_readiness(open_artifact(path), "int8" if kind == "int8_io" else "float32")["mediapipe"]
    refusal = mediapipe_refusal(path)
    assert not verdict["loads"] and any(ours in problem for problem in verdict["problems"]), verdict
    assert refusal is not None and theirs in refusal, refusal


def test_standard_metadata_reads_the_same_through_mediapipe_and_edgecnn(tiny_build):
    run_dir, _ = tiny_build
    path = run_dir / "model_int8.tflite"
    theirs, ours = mediapipe_metadata(path), read_standard_metadata(path.read_bytes())
    assert theirs["labels"] == [str(i) for i in range(10)] and theirs["packed"] == ["labels.txt", "metadata.json"]
    assert (theirs["name"], theirs["author"], theirs["min_parser_version"]) == ("tiny", "edgecnn", MIN_PARSER_VERSION)
    assert ours["inputs"][0]["normalization"] == {"mean": theirs["mean"], "std": theirs["std"]} == {
        "mean": [0.0], "std": [1.0]}
    assert ours["inputs"][0]["color_space"] == theirs["color_space"] == "RGB"
    assert ours["outputs"][0]["associated_files"] == [{"name": "labels.txt", "type": "TENSOR_AXIS_LABELS"}]


def test_builds_report_what_an_app_gets_through_mediapipe_for_every_tflite(tiny_build):
    # The tiny run's digits are stored at 8x8: MediaPipe enlarges the source images itself, as training did, so
    # the app's own-size accuracy is the report's; camera frames 4x larger go through MediaPipe's region sampling.
    pytest.importorskip("mediapipe")
    run_dir, report = tiny_build
    for name in ("tflite_float32", "tflite_int8"):
        row = report.row(name)
        app = row.app
        assert app.client.startswith("MediaPipe Tasks") and app.camera_scale == 4.0
        assert app.own_size.accuracy == row.accuracy
        # edgecnn predict's pre-processing is MediaPipe's: the same top-1 on every frame, both sizes
        assert app.own_size.agreement == app.camera.agreement == 1.0
        assert app.gap == pytest.approx(row.accuracy - min(app.own_size.accuracy, app.camera.accuracy))
    assert "app" not in report.to_dict()["artifacts"][report.artifacts.index(report.row("onnx_float32"))]
    assert "## What an app gets (via MediaPipe Tasks)" in (run_dir / "report.md").read_text()


def test_max_app_gap_gates_on_the_app_figure(tiny_build, tmp_path):
    from typer.testing import CliRunner

    from edgecnn_cli.main import app

    pytest.importorskip("mediapipe")
    run_dir, report = tiny_build
    gap = max(row.app.gap for row in report.artifacts if row.app)
    result = CliRunner().invoke(app, ["verify", str(run_dir), "--out", str(tmp_path / "v"), "--camera-scale", "4",
                                      "--max-app-gap", str(max(gap, 0.0) + 0.01), "--quiet"])
    assert result.exit_code == 0, result.output
    checks = [c for c in json.loads((tmp_path / "v" / "report.json").read_text())["gate"]["checks"]
              if c["budget"] == "max_app_gap"]
    assert {c["artifact"] for c in checks} == {"tflite_float32", "tflite_int8"} and all(c["passed"] for c in checks)
