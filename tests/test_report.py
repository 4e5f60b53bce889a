"""Reports a CI job can trust: GFM tables, terminal tables that fit, per-class results, verify folders of
its own, files described by themselves, pictures that do not mislead, and the A/B latency gate."""

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from edgecnn_cli.main import app
from tests.gfm import assert_gfm_tables

runner = CliRunner()


def foreign_onnx(path, height, width, classes=5):
    """An NCHW classifier not made by edgecnn: strided conv, pooling, dense, softmax."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["pixels", "k"], ["c"], strides=[4, 4], pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c"], ["r"]), helper.make_node("GlobalAveragePool", ["r"], ["g"]),
         helper.make_node("Flatten", ["g"], ["f"]), helper.make_node("Gemm", ["f", "w"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["scores"])],
        "foreign", [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["n", 3, height, width])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["n", classes])],
        [numpy_helper.from_array(rng.normal(size=(8, 3, 3, 3)).astype(np.float32), "k"),
         numpy_helper.from_array(rng.normal(size=(8, classes)).astype(np.float32), "w")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


@pytest.fixture
def run_copy(tiny_build, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_build[0], run_dir)
    return run_dir


EARLIER_REPORTS = sorted((Path(__file__).parent / "data" / "reports").glob("*.json"))


@pytest.mark.parametrize("path", EARLIER_REPORTS, ids=lambda path: path.stem)
def test_a_report_json_of_today_reads_back_typed_and_writes_the_same_record(path):
    # setup: report.json files the untyped report code wrote on 2026-12-05 (builds with A/B, baseline, app rows;
    # verifies of files with synthetic or skipped images)
    import xml.etree.ElementTree as ET

    from edgecnn.report import report_markdown
    from edgecnn.verify.junit import junit_xml
    from edgecnn.verify.record import BuildReport

    text = path.read_text()
    # execute
    report = BuildReport.from_json(text)
    # assert: the same record comes back, key for key, and every renderer reads it
    assert report.to_dict() == json.loads(text)
    assert report.artifacts and report.gate.checks is not None
    assert assert_gfm_tables(report_markdown(report)) >= 2
    assert ET.fromstring(junit_xml(report)).tag == "testsuites"


def test_a_report_that_is_not_edgecnns_is_one_named_line():
    from edgecnn.verify.record import BuildReport

    record = json.loads(EARLIER_REPORTS[0].read_text())
    record["artifacts"][0]["latency_ms"] = "fast"
    with pytest.raises(ValueError, match=r"^artifacts\.0\.latency_ms: Input should be an object$"):
        BuildReport.from_json(json.dumps(record))


def test_every_report_kind_is_valid_github_markdown(tiny_build, run_copy, tmp_path):
    from edgecnn.report import report_markdown

    run_dir, report = tiny_build
    assert assert_gfm_tables(report_markdown(report, run_dir)) >= 6  # build: results, budgets, per class x2, ...
    verified = runner.invoke(app, ["verify", str(run_copy), "-q", "--set", "verify.runs=5", "--out", str(tmp_path / "v")])
    assert verified.exit_code == 0, verified.output
    assert assert_gfm_tables((tmp_path / "v" / "report.md").read_text()) >= 5
    files = runner.invoke(app, ["verify", str(run_copy / "model_int8.tflite"), "-q", "--set", "verify.runs=5",
                                "--out", str(tmp_path / "f")])
    assert files.exit_code == 0, files.output
    assert assert_gfm_tables((tmp_path / "f" / "report.md").read_text()) >= 1
    inspected = runner.invoke(app, ["data", "inspect", "digits", "--out", str(tmp_path / "d"), "--json"])
    assert inspected.exit_code == 0, inspected.output
    assert assert_gfm_tables((tmp_path / "d" / "summary.md").read_text()) == 1
    text = report_markdown(report, run_dir)
    assert "## Stage times" in text and "| train |" in text and "{" not in text.split("## Stage times")[1]
    assert "| -0 |" not in text  # a drop of -0.0 (no change) prints as 0


def test_the_gfm_check_catches_a_bar_that_splits_a_cell():
    with pytest.raises(AssertionError, match="parsed as tables"):
        assert_gfm_tables("| a | max |diff| |\n|---|---|\n| 1 | 2 |\n")
    with pytest.raises(AssertionError, match="header cells"):
        assert_gfm_tables("| a | b |\n|---|---|\n| 1 | 2 | 3 |\n")


def test_verify_of_a_run_folder_writes_its_own_folder_and_never_the_builds(run_copy, tmp_path):
    before = {name: (run_copy / name).read_bytes() for name in ("report.json", "report.md", "junit.xml")}
    first = runner.invoke(app, ["verify", str(run_copy), "-q", "--set", "verify.runs=5"])
    second = runner.invoke(app, ["verify", str(run_copy), "-q", "--set", "verify.runs=5"])
    assert first.exit_code == second.exit_code == 0, first.output
    assert {name: (run_copy / name).read_bytes() for name in before} == before
    for folder in ("verify", "verify-2"):
        assert {"report.json", "report.md", "junit.xml", "confusion.png"} <= {p.name for p in (run_copy / folder).iterdir()}
    chosen = runner.invoke(app, ["verify", str(run_copy), "-q", "--set", "verify.runs=5", "--out", str(tmp_path / "mine")])
    assert chosen.exit_code == 0 and (tmp_path / "mine" / "report.json").is_file()
    refused = runner.invoke(app, ["verify", str(run_copy / "model_int8.tflite"), "-q", "--out", str(run_copy)])
    assert refused.exit_code == 2 and "is a build's run folder" in refused.stderr
    assert {name: (run_copy / name).read_bytes() for name in before} == before


def test_verify_of_a_foreign_hd_nchw_file_without_data_invents_nothing(tmp_path):
    path = foreign_onnx(tmp_path / "hd.onnx", 720, 1280)
    result = runner.invoke(app, ["verify", str(path), "--json", "-q", "--set", "verify.runs=10",
                                 "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["recipe"]) == {"name", "verify"} and report["recipe_hash"] is None
    assert report["data"]["source"] is None and report["data"]["image_shape"] == [720, 1280, 3]
    row = report["artifacts"][0]
    assert row["accuracy"] is None and row["latency_ms"]["p50"] > 0 and row["runtime"] == "onnxruntime"
    text = (tmp_path / "r" / "report.md").read_text()
    assert "digits" not in text and "dscnn" not in text and "no labelled images" in text


def test_class_results_count_precision_recall_and_top5():
    from edgecnn.verify.classes import class_results

    labels = np.array([0, 0, 1, 1, 2, 5])
    probabilities = np.full((6, 6), 0.01)
    for i, predicted in enumerate([0, 1, 1, 1, 0, 4]):
        probabilities[i, predicted] = 0.9
    probabilities[5, 5] = 0.5  # second choice for the last image: inside the top 5
    probabilities[4, 2] = 0.0  # the true class ranked last of 6: outside the top 5
    record = class_results(probabilities, labels, list("abcdef"))
    assert record["confusion_matrix"][0] == [1, 1, 0, 0, 0, 0] and record["confusion_matrix"][2][0] == 1
    assert record["per_class"]["a"] == {"images": 2, "accuracy": 0.5, "recall": 0.5, "precision": 0.5}
    assert record["per_class"]["b"]["precision"] == pytest.approx(2 / 3) and record["per_class"]["b"]["recall"] == 1.0
    assert record["per_class"]["d"] == {"images": 0, "accuracy": None, "recall": None, "precision": None}
    assert record["top5_accuracy"] == pytest.approx(5 / 6)
    assert "top5_accuracy" not in class_results(probabilities[:, :3], labels.clip(0, 2), list("abc"))


def test_build_report_has_per_class_results_a_confusion_png_and_a_telling_best_line(tiny_build):
    from edgecnn.report import best_line

    run_dir, report = tiny_build
    for row in report.artifacts:
        matrix = np.asarray(row.confusion_matrix)
        assert matrix.sum() == report.data.test
        assert np.trace(matrix) / matrix.sum() == pytest.approx(row.accuracy)
        assert row.top5_accuracy >= row.accuracy
    assert Image.open(run_dir / "confusion.png").size[0] > 400
    text = (run_dir / "report.md").read_text()
    assert "## Per class" in text and "## Confusion matrices" in text and "true \\ predicted" in text
    line = best_line(report)
    assert report.best.gated == list(report.recipe.parsed().export.formats)
    assert "gated (a missed budget fails the run): " + ", ".join(report.best.gated) in line
    assert "agreement" in line
    # the picture's panels are named in report.md, every file of each panel
    caption = text.split("Confusion matrices as a picture: ")[1].splitlines()[0]
    for row in report.artifacts:
        assert row.name in caption


def test_a_confusion_panel_names_every_file_it_stands_for(tmp_path):
    # setup: six files that classify alike share one panel (the title once said "keras_float32 and 5 more")
    from edgecnn.verify.classes import confusion_panels_caption, draw_confusion

    from tests.records import build_report, result_row

    names = ["keras_float32", "tflite_float32", "tflite_int8", "onnx_float32", "ptq_float16", "ptq_dynamic"]
    per_class = {label: {"images": 4, "accuracy": 1.0, "recall": 1.0, "precision": 1.0} for label in "ab"}
    report = build_report([result_row(n, confusion_matrix=[[3, 1], [0, 4]], per_class=per_class) for n in names])
    # execute
    path = draw_confusion(report, tmp_path / "confusion.png")
    # assert
    assert path.is_file() and confusion_panels_caption(report) == "panel 1: " + ", ".join(names)


def test_a_file_that_misses_the_ab_check_is_not_within_the_budgets(tiny_build, tmp_path):
    # setup: a verify report of two files, then an A/B comparison the first one failed
    from edgecnn.report import best_line
    from edgecnn.verify.against import add_against
    from edgecnn.verify.record import Against, BuildReport

    run_dir, _ = tiny_build
    files = [str(run_dir / "model_int8.tflite"), str(run_dir / "model_float32.tflite")]
    result = runner.invoke(app, ["verify", *files, "--data", "digits", "-q", "--json", "--set", "verify.runs=5",
                                 "--out", str(tmp_path / "v")])
    report = BuildReport.from_json(result.stdout)
    assert report.best.within_budgets == 2
    sizes = {"size_bytes": 10, "gzip_bytes": 9}
    slower = {"artifact": "model_int8", "new": files[0], "old": files[1], "ratio": 1.4, "ci95": [1.3, 1.5],
              "verdict": "slower", "rounds": 20, "sizes": {"new": sizes, "old": sizes}, "accuracy": None}
    # execute
    only = report.model_copy(deep=True)
    report = add_against(report, Against(max_slowdown=0.05, comparisons=[slower]))
    # assert: the best pick and its line agree with the gate
    assert report.gate.missed == 1 and report.best.name == "model_float32"
    assert "model_int8" in report.best.rejected and "1 of 2 artifacts within the budgets" in best_line(report)
    only.artifacts, only.gate.checks = only.artifacts[:1], []
    only = add_against(only, Against(max_slowdown=0.05, comparisons=[slower]))
    assert only.best.name is None and "Best under the budgets: none" in best_line(only)


def test_best_line_names_the_readiness_caveats_of_the_pick():
    from edgecnn.verify.judge import readiness_caveats
    from edgecnn.verify.record import Readiness

    mobile = {"as_is": "NO", "fixed_shapes": "YES", "supported_nodes": "9/9", "partitions": 1}
    readiness = Readiness(mediapipe={"loads": False}, float_operators=["CONV_2D"], ort_mobile={"CoreML": mobile})
    caveats = readiness_caveats(readiness)
    assert caveats == ["MediaPipe Tasks refuses it", "float operators: CONV_2D",
                       "ORT Mobile CoreML: no as is (batch fixed: yes)"]


def report_with_long_names(report):
    rows = [report.artifacts[1 + i % 3].model_copy(update={"name": name})
            for i, name in enumerate(["prune_2of4_float32", "onnx_dynamic_int8", "pqat_int8", "pruned_float32"])]
    return report.model_copy(update={"artifacts": report.artifacts + rows})


@pytest.mark.parametrize("columns", [80, 120])
def test_terminal_table_keeps_the_columns_that_matter(tiny_build, monkeypatch, columns):
    import edgecnn.console as console_module
    from rich.console import Console

    from edgecnn.report import print_report

    report = report_with_long_names(tiny_build[1])
    out = io.StringIO()
    monkeypatch.setattr(console_module, "_console", Console(file=out, width=columns, no_color=True))
    print_report(report)
    table = out.getvalue().split("Best under")[0]
    assert max(len(line) for line in table.splitlines()) <= columns and "…" not in table
    for header in ("artifact", "accuracy", "vs float", "agreement", "p50 ms", "size"):
        assert header in table
    for row in report.artifacts:
        assert f" {row.name} " in table
    assert ("gzip" in table) == (columns >= 120)
    out.truncate(0)
    print_report(report, wide=True)
    assert "technique" in out.getvalue() and "runtime" in out.getvalue()


def test_pictures_keep_pixels_one_scale_and_the_sign(tmp_path):
    from edgecnn.anatomy.pictures import TILE, enlarged, feature_grid, kernel_grid

    maps = np.zeros((2, 2, 2), dtype=np.float32)
    maps[0, 0, 0], maps[1, 1, 1] = 1.0, 4.0
    sheet = np.asarray(feature_grid(maps, "layer"))
    tile0 = sheet[48:48 + TILE, 4:4 + TILE]  # first tile: 2x2 blocks, nearest neighbour, no blending
    assert len(np.unique(tile0.reshape(-1, 3), axis=0)) == 2
    assert tile0.max() < 255 // 2  # 1.0 on the sheet's one 0..4 scale is dark, not white
    kernels = np.zeros((3, 3, 1, 2), dtype=np.float32)
    kernels[0, 0, 0, 0], kernels[0, 0, 0, 1] = -1.0, 1.0
    sheet = np.asarray(kernel_grid(kernels, "first convolution"))
    negative, positive = sheet[48 + 2, 4 + 2], sheet[48 + 2, 4 + TILE + 4 + 2]
    assert negative[2] > negative[0] and positive[0] > positive[2]  # blue below zero, red above
    assert min(enlarged(Image.new("L", (16, 16))).size) >= 160


def test_help_shows_no_python_types(tiny_build):
    result = runner.invoke(app, ["verify", "--help"], env={"COLUMNS": "200"})
    assert "<bool>" not in result.output and "list[" not in result.output and "<path>..." in result.output
    assert "never over a build's reports" in result.output


def test_bootstrap_interval_and_verdicts():
    from edgecnn.verify.against import bootstrap_median, judge, verdict_text
    from edgecnn.verify.record import AgainstComparison

    sizes = {"size_bytes": 10, "gzip_bytes": 9}

    noisy_same = np.exp(np.random.default_rng(1).normal(0, 0.02, size=40))
    ratio, low, high = bootstrap_median(noisy_same)
    assert low < ratio < high and low < 1 < high and judge(low, high, 0.05) == "within"
    assert judge(*bootstrap_median(noisy_same * 1.3)[1:], 0.05) == "slower"
    assert judge(1.0, 1.12, 0.05) == "inconclusive"
    # the words a passing comparison is reported in: faster, slower within the limit, or the same
    words = {(0.80, 0.90): "faster", (1.01, 1.04): "slower, within the limit", (0.98, 1.02): "same within noise",
             (1.0, 1.12): "inconclusive, noise too high", (1.2, 1.3): "slower"}
    for (low, high), text in words.items():
        record = AgainstComparison(artifact="a", new="a.onnx", old="b.onnx", ratio=1.0, ci95=[low, high],
                                   verdict=judge(low, high, 0.05), rounds=20,
                                   sizes={"new": sizes, "old": sizes})
        assert verdict_text(record) == text


def test_against_fails_a_slower_file_and_passes_the_same_file(tmp_path):
    small, big = foreign_onnx(tmp_path / "small.onnx", 32, 32), foreign_onnx(tmp_path / "big.onnx", 256, 256)
    same = runner.invoke(app, ["verify", str(small), "--against", str(small), "-q", "--json", "--set", "verify.runs=5",
                               "--out", str(tmp_path / "same")])
    assert same.exit_code == 0, same.output
    record = json.loads(same.stdout)["against"]["comparisons"][0]
    assert record["verdict"] != "slower" and record["ci95"][0] <= record["ratio"] <= record["ci95"][1]
    assert record["rounds"] >= 20 and record["sizes"]["new"] == record["sizes"]["old"]
    slower = runner.invoke(app, ["verify", str(big), "--against", str(small), "-q", "--json", "--set", "verify.runs=5",
                                 "--out", str(tmp_path / "slower")])
    assert slower.exit_code == 1 and "p50 vs small.onnx (max slowdown 5%)" in slower.stderr
    record = json.loads(slower.stdout)["against"]["comparisons"][0]
    assert record["verdict"] == "slower" and record["ci95"][0] > 1.05
    assert "## Against the old files" in (tmp_path / "slower" / "report.md").read_text()
    assert_gfm_tables((tmp_path / "slower" / "report.md").read_text())


def test_against_pairs_run_folders_by_file_and_compares_accuracy(run_copy, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(run_copy, old)
    result = runner.invoke(app, ["verify", str(run_copy), "--against", str(old), "-q", "--json", "--set",
                                 "verify.runs=5", "--ab-seconds", "2"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    records = {r["artifact"]: r for r in report["against"]["comparisons"]}
    assert {"tflite_float32", "tflite_int8", "onnx_float32"} <= set(records)
    rows = {row["name"]: row for row in report["artifacts"]}
    for name in ("tflite_float32", "tflite_int8"):
        assert records[name]["accuracy"]["old"] == records[name]["accuracy"]["new"] == pytest.approx(rows[name]["accuracy"])


@pytest.mark.parametrize("args, message", [
    (["--against", "a.tflite", "--against", "b.tflite"], "give one OLD file per NEW file"),
    (["--max-slowdown", "lots"], "--max-slowdown 'lots': expected a percentage"),
])
def test_against_bad_input_exits_2(tiny_build, args, message):
    result = runner.invoke(app, ["verify", str(tiny_build[0] / "model_int8.tflite"), "-q", *args])
    assert result.exit_code == 2 and message in result.stderr


def test_an_inconclusive_latency_check_is_a_skipped_junit_case_not_a_failure():
    import xml.etree.ElementTree as ET

    from edgecnn.verify.junit import junit_xml

    from tests.records import build_report, result_row

    check = {"artifact": "a", "budget": "p50 vs old.tflite (max slowdown 5%)", "measured": 1.04, "limit": 1.05,
             "passed": True, "inconclusive": True, "gated": True}
    report = build_report([result_row("a")], name="files", gate={"artifacts": ["a"], "checks": [check]})
    suite = ET.fromstring(junit_xml(report)).find("testsuite")
    assert suite.get("skipped") == "1" and suite.get("failures") == "0"
    assert "inconclusive, noise too high" in suite.find("testcase/skipped").get("message")
