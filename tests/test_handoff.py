"""`edgecnn handoff`: the app developer's bundle, its model card, and its snippets run for real."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from edgecnn_cli.main import app
from tests.clients import node_top1, predict_top1, write_pngs

runner = CliRunner()


@pytest.fixture(scope="module")
def bundle(tiny_build, tmp_path_factory):
    run_dir, _ = tiny_build
    out = tmp_path_factory.mktemp("handoff") / "bundle"
    result = runner.invoke(app, ["handoff", str(run_dir), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def test_bundle_holds_the_best_file_the_float_files_labels_card_and_snippets(bundle, tiny_build):
    # setup
    out, record = bundle
    _, report = tiny_build
    # assert: the best file under the budgets goes first to the phone SDKs; the float files beside it
    best = report["best"]["name"]
    assert record["phone"] == {"tflite_int8": "model_int8.tflite", "tflite_float32": "model_float32.tflite"}[best]
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted({record["phone"], "model_float32.tflite", "model_float32.onnx", "model_float32.ort",
                            "model_float32.required_operators.config", "labels.txt", "MODEL_CARD.md", "snippets"})
    assert sorted(p.name for p in (out / "snippets").iterdir()) == [
        "classify.py", "classify_android.kt", "classify_ios.swift", "classify_node.mjs", "package.json"]


def test_model_card_states_use_data_accuracy_per_class_latency_machine_and_contract(bundle, tiny_build):
    out, _ = bundle
    _, report = tiny_build
    card = (out / "MODEL_CARD.md").read_text()
    for heading in ("Intended use", "Files", "Input", "Data and splits", "Accuracy per runtime", "Accuracy per class",
                    "Latency", "How the files were made", "Limitations"):
        assert f"## {heading}\n" in card, heading
    assert report["machine"]["cpu"] in card and "[1, 16, 16, 3]" in card and "0.299 R" in card
    rows = [line for line in card.splitlines() if line.startswith("| 7 |")]  # the class "7" row
    int8 = next(r for r in report["artifacts"] if r["name"] == "tflite_int8")
    assert f"{int8['per_class']['7']['accuracy']:.2%}" in rows[0]


def test_snippets_are_filled_in_for_the_files(bundle):
    out, record = bundle
    snippets = out / "snippets"
    android, ios = (snippets / "classify_android.kt").read_text(), (snippets / "classify_ios.swift").read_text()
    assert f'setModelAssetPath("{record["phone"]}")' in android and "class TinyClassifier" in android
    assert f'forResource: "{record["phone"][:-7]}", ofType: "tflite"' in ios
    node = (snippets / "classify_node.mjs").read_text()
    assert "HEIGHT = 16, WIDTH = 16, CHANNELS = 3" in node and "@@" not in android + ios + node


def test_python_snippet_classifies_like_predict(bundle, tiny_dataset, tmp_path):
    out, record = bundle
    pngs = write_pngs(tiny_dataset.x_test[:5], tmp_path)
    done = subprocess.run([sys.executable, str(out / "snippets" / "classify.py"), *map(str, pngs)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    labels = [line.split(" [('", 1)[1].split("'", 1)[0] for line in done.stdout.splitlines()]
    assert labels == [str(i) for i in predict_top1(out / record["phone"], pngs)]


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed: the Node snippet cannot run")
def test_node_snippet_runs_onnx_and_ort_like_predict(bundle, tiny_dataset, tmp_path):
    out, _ = bundle
    images = tiny_dataset.x_test[:50]
    expected = predict_top1(out / "model_float32.onnx", write_pngs(images, tmp_path / "png"))
    for model in ("model_float32.onnx", "model_float32.ort"):
        found = node_top1(out / "snippets" / "classify_node.mjs", out / model, images, tmp_path / "ppm")
        np.testing.assert_array_equal(found, expected)


def test_handoff_names_a_missing_report(tmp_path):
    result = runner.invoke(app, ["handoff", str(tmp_path)])
    assert result.exit_code == 2 and "no report.json" in result.output


def test_handoff_refuses_when_no_file_meets_the_budgets(tiny_build, tmp_path):
    # setup: the tiny run's report, with every artifact over a budget
    run_dir, report = tiny_build
    shutil.copytree(run_dir, tmp_path / "run", ignore=shutil.ignore_patterns("handoff"))
    failed = {**report, "best": {"name": None, "reason": "no artifact meets the budgets"}}
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
