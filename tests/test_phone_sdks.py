"""Phone readiness: edgecnn's MediaPipe verdict for a `.tflite` agrees with MediaPipe Tasks itself, on files
it loads and on each kind of file it refuses; the standard metadata reads back through MediaPipe's schema."""

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
    from edgecnn.pipeline import export_stage
    from edgecnn.recipe import load_recipe
    from edgecnn.modelfile import load_keras

    run_dir, _ = tiny_build
    files = {}
    for name, overrides in (("int8_io", ["export.int8_io=int8", "export.formats=[tflite_int8]"]),
                            ("grayscale", ["export.rgb_input=false", "export.formats=[tflite_float32]"])):
        out = tmp_path_factory.mktemp(name)
        (out / "model.keras").symlink_to(run_dir / "model.keras")
        recipe = load_recipe(run_dir / "recipe.yaml", overrides)
        files[name] = export_stage(recipe, out, dataset=tiny_dataset, show_progress=False)[0].path
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
    row = next(r for r in report["artifacts"] if r["path"].endswith(filename))
    assert row["readiness"]["mediapipe"] == {"loads": True, "problems": [], "standard_metadata": True, "labels": True}
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
