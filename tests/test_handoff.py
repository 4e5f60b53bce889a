"""`edgecnn handoff`: the app developer's bundle, its model card, and its snippets run for real."""

import json
import os
import shutil
import stat
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from edgecnn_cli.main import app
from tests.clients import NODE_MODULES, node_top1, predict_top1, write_pngs

runner = CliRunner()


@pytest.fixture(scope="module")
def bundle(tiny_build, tmp_path_factory):
    # a folder name with a space, as an app developer's "my app" folder
    run_dir, _ = tiny_build
    out = tmp_path_factory.mktemp("handoff") / "my app" / "bundle"
    old = os.umask(0o022)
    try:
        result = runner.invoke(app, ["handoff", str(run_dir), "--out", str(out), "--json"])
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def test_bundle_holds_the_best_file_the_float_files_labels_card_and_snippets(bundle, tiny_build):
    # setup
    out, record = bundle
    _, report = tiny_build
    # assert: the best file under the budgets goes first to the phone SDKs; the float files beside it
    best = report.best_name
    assert record["phone"] == {"tflite_int8": "model_int8.tflite", "tflite_float32": "model_float32.tflite"}[best]
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted({record["phone"], "model_float32.tflite", "model_float32.onnx", "model_float32.ort",
                            "model_float32.required_operators.config", "labels.txt", "recipe.yaml", "MODEL_CARD.md",
                            "snippets"})
    # made under umask 022: the folders and files others may read, as every other folder the user makes
    assert stat.S_IMODE(out.stat().st_mode) == 0o755 and stat.S_IMODE((out / "snippets").stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "labels.txt").stat().st_mode) == 0o644
    assert sorted(p.name for p in (out / "snippets").iterdir()) == [
        "classify.py", "classify_android.kt", "classify_ios.swift", "classify_node.mjs", "package.json"]


def test_model_card_states_use_data_accuracy_per_class_latency_machine_and_contract(bundle, tiny_build):
    out, _ = bundle
    _, report = tiny_build
    card = (out / "MODEL_CARD.md").read_text()
    for heading in ("Intended use", "Files", "Input and output", "Data and splits", "Accuracy per runtime",
                    "Accuracy per class", "Latency", "How the files were made", "Limitations"):
        assert f"## {heading}\n" in card, heading
    assert report.machine.cpu in card and "0.299 R" in card
    rows = [line for line in card.splitlines() if line.startswith("| 7 |")]  # the class "7" row
    assert f"{report.row('tflite_int8').per_class['7'].accuracy:.2%}" in rows[0]


def test_model_card_describes_each_shipped_file_by_what_the_file_says(bundle):
    # setup: every model file in the bundle, read by its own runtime
    from edgecnn.artifacts import open_artifact

    out, _ = bundle
    card = (out / "MODEL_CARD.md").read_text()
    shipped = sorted(p for p in out.iterdir() if p.suffix in (".tflite", ".onnx"))
    # assert: one input row per shipped file, with the tensor names, types and shapes the file really has
    for model in shipped:
        io = open_artifact(model).runner().io()
        row = next(line for line in card.splitlines() if line.startswith(f"| `{model.name}` | `{io.input_name}`"))
        assert f"`{io.output_name}`" in row and io.input_dtype in row and io.output_dtype in row
    assert "| `model_float32.onnx` | `input` | float32 | [?, 16, 16, 3] |" in card
    assert "`StatefulPartitionedCall:0`" in card  # the .tflite output's real name, not an invented one
    # only what is in the bundle: no run-folder files, no unshipped artifact in the accuracy table
    assert "splits.csv" not in card and "`recipe.yaml` in this folder" in card
    accuracy, app = card.split("## Accuracy per runtime")[1].split("##")[0].split("Through MediaPipe Tasks")
    listed = [line.split("`")[1] for line in accuracy.splitlines() if line.startswith("| `")]
    assert sorted(listed) == [p.name for p in shipped]
    # what an app gets through MediaPipe, for each shipped .tflite, with the card's own calling steps below
    assert sorted(line.split("`")[1] for line in app.splitlines() if line.startswith("| `")) == [
        p.name for p in shipped if p.suffix == ".tflite"]
    assert "Resize policy `stretch` to 16x16: Hand over the whole frame as it is" in card
    # a grayscale model (digits): frames go in as RGB, and the training images are white on black
    assert "Convert a grayscale picture to RGB" in card and "white (bright) handwritten digits on a black" in card


def test_snippets_are_filled_in_for_the_files(bundle):
    out, record = bundle
    snippets = out / "snippets"
    android, ios = (snippets / "classify_android.kt").read_text(), (snippets / "classify_ios.swift").read_text()
    assert f'setModelAssetPath("{record["phone"]}")' in android and "class TinyClassifier" in android
    assert f'forResource: "{record["phone"][:-7]}", ofType: "tflite"' in ios
    node = (snippets / "classify_node.mjs").read_text()
    assert "HEIGHT = 16, WIDTH = 16, CHANNELS = 3" in node and "@@" not in android + ios + node


def test_python_snippet_copied_into_an_app_classifies_like_predict(bundle, tiny_dataset, tmp_path):
    # setup: the snippet copied out of the bundle into the app's own folder, as an app developer does
    out, record = bundle
    app_dir = tmp_path / "my app"
    app_dir.mkdir()
    shutil.copy(out / "snippets" / "classify.py", app_dir / "classify.py")
    pngs = write_pngs(tiny_dataset.x_test[:5], tmp_path / "images")
    # execute: as its usage line says, run from the app's folder
    done = subprocess.run([sys.executable, "classify.py", str(out / record["phone"]), *map(str, pngs)], cwd=app_dir,
                          capture_output=True, text=True, timeout=120, check=False)
    # assert
    assert done.returncode == 0, done.stderr
    labels = [line.split(" [('", 1)[1].split("'", 1)[0] for line in done.stdout.splitlines()]
    assert labels == [str(i) for i in predict_top1(out / record["phone"], pngs)]


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed: the Node snippet cannot run")
def test_node_snippet_copied_into_an_app_runs_onnx_and_ort_like_predict(bundle, tiny_dataset, tmp_path):
    # setup: the bundle sits in "my app/" (a space in the path); images as PNG, JPEG, BMP and GIF files
    out, _ = bundle
    images = tiny_dataset.x_test[:48]
    kinds = [".png", ".jpg", ".bmp", ".gif"]
    paths = write_pngs(images, tmp_path / "images", suffixes=kinds)
    expected = predict_top1(out / "model_float32.onnx", paths)
    # execute, assert: the snippet's own package.json names the packages the tests installed
    package = json.loads((out / "snippets" / "package.json").read_text())
    assert package["dependencies"] == json.loads((NODE_MODULES.parent / "package.json").read_text())["dependencies"]
    for model in ("model_float32.onnx", "model_float32.ort"):
        found = node_top1(out / "snippets" / "classify_node.mjs", out / model, paths, tmp_path / "app")
        np.testing.assert_array_equal(found, expected)
    assert "npm install --ignore-scripts" in (out / "snippets" / "classify_node.mjs").read_text()


FRAME_SIZES = [(16, 16), (17, 23), (40, 120), (97, 131), (120, 40), (333, 777), (480, 640)]


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed: the Node snippet cannot run")
@pytest.mark.parametrize("policy", ["stretch", "crop", "pad"])
def test_node_snippet_brings_full_size_frames_to_the_model_input_as_edgecnn_does(bundle, policy, tmp_path):
    # setup: the snippet copied into an app, its resize policy set as a crop or pad model's bundle sets it;
    # photo-like frames (smooth gradients, a shape, noise) of several sizes and aspects, as PNG files
    from PIL import Image, ImageDraw

    from edgecnn.data.frames import frame_to_input

    out, _ = bundle
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    source = (out / "snippets" / "classify_node.mjs").read_text()
    assert 'RESIZE = "stretch"' in source
    (app_dir / "classify_node.mjs").write_text(source.replace('RESIZE = "stretch"', f'RESIZE = "{policy}"'))
    (app_dir / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
    rng, paths, expected = np.random.default_rng(0), [], []
    for i, (height, width) in enumerate(FRAME_SIZES):
        ramp = np.linspace(0, 255, width)[None, :, None] * np.linspace(0.2, 1, height)[:, None, None]
        image = Image.fromarray(np.clip(ramp + rng.normal(0, 20, (height, width, 3)), 0, 255).astype(np.uint8))
        ImageDraw.Draw(image).ellipse((width * 0.3, height * 0.3, width * 0.7, height * 0.7), fill=(250, 30, 90))
        paths.append(tmp_path / f"frame{i}.png")
        image.save(paths[-1])
        expected.append(frame_to_input(np.asarray(image), (16, 16), policy))
    (app_dir / "dump.mjs").write_text(
        'import { loadImage } from "./classify_node.mjs";\n'
        "for (const path of process.argv.slice(2)) console.log(JSON.stringify(Array.from(await loadImage(path))));\n")
    # execute
    done = subprocess.run([shutil.which("node"), "dump.mjs", *map(str, paths)], cwd=app_dir, capture_output=True,
                          text=True, timeout=120, check=False)
    # assert: the same bytes, frame by frame
    assert done.returncode == 0, done.stderr
    for line, want, size in zip(done.stdout.splitlines(), expected, FRAME_SIZES):
        got = np.array(json.loads(line), dtype=np.uint8).reshape(16, 16, 3)
        np.testing.assert_array_equal(got, want, err_msg=f"frame {size}, {policy}")


@pytest.mark.parametrize("policy", ["stretch", "crop", "pad"])
def test_python_snippet_hands_mediapipe_the_frame_and_region_that_give_edgecnns_model_input(bundle, policy, tmp_path):
    # setup: the snippet's own module, its policy set as a crop or pad bundle sets it; an identity model whose
    # scores are the input tensor MediaPipe made, so the snippet's exact call shows what the model would see
    import importlib.util

    pytest.importorskip("mediapipe")
    from mediapipe.tasks.python import BaseOptions, vision

    from edgecnn.data.frames import frame_to_input
    from tests.clients import identity_probe

    out, _ = bundle
    spec = importlib.util.spec_from_file_location("classify_snippet", out / "snippets" / "classify.py")
    snippet = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(snippet)
    snippet.RESIZE = policy
    probe = identity_probe(tmp_path / "probe.tflite", 16, 16)
    options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=str(probe)), max_results=-1)
    rng = np.random.default_rng(1)
    with vision.ImageClassifier.create_from_options(options) as classifier:
        for height, width in FRAME_SIZES:
            frame = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            # execute: the snippet's classify, every category kept
            found = snippet.classify(classifier, frame, top_k=16 * 16 * 3)
            tensor = np.zeros(16 * 16 * 3)
            for name, score in found:
                tensor[int(name)] = score
            # assert
            np.testing.assert_array_equal(tensor.reshape(16, 16, 3), frame_to_input(frame, (16, 16), policy),
                                          err_msg=f"frame {height}x{width}, {policy}")


def test_predict_and_the_snippets_read_the_same_kinds_of_image(bundle, tmp_path):
    out, record = bundle
    ppm = tmp_path / "frame.ppm"
    ppm.write_bytes(b"P6\n16 16\n255\n" + bytes(16 * 16 * 3))
    result = runner.invoke(app, ["predict", str(out / record["phone"]), str(ppm)])
    assert result.exit_code == 2 and "not one of the image kinds predict and the app snippets read" in result.stderr
    assert '[".png", ".jpg", ".jpeg", ".bmp", ".gif"]' in (out / "snippets" / "classify_node.mjs").read_text()


def test_handoff_names_a_missing_report(tmp_path):
    result = runner.invoke(app, ["handoff", str(tmp_path)])
    assert result.exit_code == 2 and "no report.json" in result.output


def test_handoff_refuses_when_no_file_meets_the_budgets(tiny_build, tmp_path):
    # setup: the tiny run's report, with every artifact over a budget
    run_dir, report = tiny_build
    shutil.copytree(run_dir, tmp_path / "run", ignore=shutil.ignore_patterns("handoff"))
    failed = {**report.to_dict(), "best": {"name": None, "reason": "no artifact meets the budgets"}}
    (tmp_path / "run" / "report.json").write_text(json.dumps(failed))
    # execute
    result = runner.invoke(app, ["handoff", str(tmp_path / "run")])
    # assert: a missed budget, exit 1, nothing written
    assert result.exit_code == 1 and "no artifact meets verify.budgets" in result.output
    assert not (tmp_path / "run" / "handoff").exists()


def test_handoff_replaces_its_own_bundle_but_never_a_foreign_folder(tiny_build, tmp_path):
    # setup
    run_dir, _ = tiny_build
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"keep me")
    # execute
    refused = runner.invoke(app, ["handoff", str(run_dir), "--out", str(foreign)])
    first = runner.invoke(app, ["handoff", str(run_dir), "--out", str(tmp_path / "bundle")])
    (tmp_path / "bundle" / "stale.txt").write_text("from an older bundle")
    again = runner.invoke(app, ["handoff", str(run_dir), "--out", str(tmp_path / "bundle")])
    # assert
    assert refused.exit_code == 2 and "not an earlier handoff bundle" in refused.output
    assert sorted(p.name for p in foreign.iterdir()) == ["holiday.jpg"]
    assert first.exit_code == again.exit_code == 0 and not (tmp_path / "bundle" / "stale.txt").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind
