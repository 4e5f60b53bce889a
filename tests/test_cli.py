import json
import os
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from edgecnn_cli.main import app

runner = CliRunner()


def _commands(typer_app, prefix=()) -> list[tuple[str, ...]]:
    """Every command the app registers, groups followed down: derived, so a new command is tested too."""
    found = [(*prefix, info.name or info.callback.__name__) for info in typer_app.registered_commands]
    for group in typer_app.registered_groups:
        found += _commands(group.typer_instance, (*prefix, group.name))
    return found


COMMANDS = _commands(app)


def test_help_lists_commands_without_importing_tensorflow():
    script = "import sys; from edgecnn_cli.main import app; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.stdout.strip() == "False"
    help_text = runner.invoke(app, ["--help"]).output
    top = {command[0] for command in COMMANDS}
    assert {"build", "sweep", "verify", "data", "cache"} <= top  # the derived list is the app's
    for command in top:
        assert command in help_text


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_help_has_an_example(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Example: edgecnn" in result.output


def test_models_json_lists_registry():
    result = runner.invoke(app, ["models", "--json"])
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["mobilenet_v1"]["params"] == 4253864 and rows["mobilenet_v2"]["params"] == 3538984
    assert rows["dscnn_s"]["input"] == [16, 16, 1]


def test_bad_recipe_exits_2_with_one_line_and_writes_nothing(tmp_path):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("name: bad\ntrain:\n  epoch: 3\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["build", str(recipe), "--out", str(out)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {recipe}: unknown key 'train.epoch'; did you mean 'train.epochs'?"
    assert not out.exists()


def test_bad_override_exits_2(tiny_recipe_file, tmp_path):
    result = runner.invoke(app, ["build", str(tiny_recipe_file), "--set", "model.name=mobilenet3", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "unknown model 'mobilenet3'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_verify_of_a_folder_without_recipe_exits_2(tmp_path):
    result = runner.invoke(app, ["verify", str(tmp_path)])
    assert result.exit_code == 2 and "no recipe.yaml here" in result.stderr


@pytest.mark.build
def test_stages_one_at_a_time(tiny_recipe_file, tmp_path):
    # setup
    run_dir = tmp_path / "staged"
    # execute: train, export only the int8 file, verify
    trained = runner.invoke(app, ["train", str(tiny_recipe_file), "--out", str(run_dir), "--set", "train.epochs=1", "--json"])
    exported = runner.invoke(app, ["export", str(run_dir), "--set", "export.formats=[tflite_int8]", "-q"])
    verified = runner.invoke(app, ["verify", str(run_dir), "--set", "export.formats=[tflite_int8]", "--json", "-q"])
    # assert
    assert trained.exit_code == 0, trained.output
    assert json.loads(trained.stdout)["best_epoch"] == 1 and (run_dir / "model.keras").is_file()
    assert exported.exit_code == 0, exported.output
    assert (run_dir / "model_int8.tflite").is_file() and not (run_dir / "model_float32.onnx").exists()
    assert verified.exit_code == 0, verified.output
    assert [a["name"] for a in json.loads(verified.stdout)["artifacts"]] == ["keras_float32", "tflite_int8"]


def test_verify_names_a_missing_artifact(tiny_build, tmp_path):
    run_dir, _ = tiny_build
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / "model_float32.onnx").unlink()
    result = runner.invoke(app, ["verify", str(copy), "-q"])
    assert result.exit_code == 2 and "model_float32.onnx: missing; run `edgecnn export" in result.stderr


@pytest.mark.build
def test_installed_console_script_and_module_entry_point(tiny_recipe_file, tmp_path):
    executable = shutil.which("edgecnn", path=os.path.dirname(sys.executable))
    assert executable, "the edgecnn console script is not installed next to this Python"
    out = tmp_path / "cli_run"
    result = subprocess.run(
        [executable, "build", str(tiny_recipe_file), "--out", str(out), "--set", "train.epochs=1", "--json",
         "--handoff"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert len(report["artifacts"]) == 4 and (out / "report.json").is_file()
    assert (out / "handoff" / "MODEL_CARD.md").is_file() and "handoff:" in result.stderr
    version = subprocess.run([sys.executable, "-m", "edgecnn", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("edgecnn ")
    # After TensorFlow is loaded (the Keras row) the CLI leaves without the interpreter's teardown: the
    # gate's exit code and the whole JSON still come out.
    missed = subprocess.run([executable, "verify", str(out), "--out", str(tmp_path / "gate"), "--json", "-q",
                             "--min-accuracy", "1.0", "--set", "verify.runs=5"], capture_output=True, text=True,
                            timeout=600)
    assert missed.returncode == 1, missed.stderr[-3000:]
    assert json.loads(missed.stdout)["gate"]["passed"] is False and "budget(s) missed" in missed.stderr


def test_out_that_is_a_file_exits_2(tiny_recipe_file, tmp_path):
    target = tmp_path / "a_file"
    target.write_text("keep me")
    result = runner.invoke(app, ["build", str(tiny_recipe_file), "--out", str(target)])
    assert result.exit_code == 2 and "exists and is not a folder" in result.stderr
    assert target.read_text() == "keep me"


@pytest.fixture
def run_copy(tiny_build, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_build[0], run_dir)
    return run_dir


def test_optimize_adds_variants_to_the_run_and_its_report(run_copy):
    result = runner.invoke(app, ["optimize", str(run_copy), "--set", "optimize.variants=[ptq_float16,onnx_qdq_int8]",
                                 "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)["artifacts"]}
    assert {"tflite_float32", "ptq_float16", "onnx_qdq_int8"} <= set(rows)
    assert (run_copy / "optimized" / "onnx_qdq_int8.onnx").is_file()
    assert "ptq_float16" in (run_copy / "recipe.yaml").read_text()  # a later `verify` checks the variants too
    again = runner.invoke(app, ["verify", str(run_copy), "--json", "--quiet"])
    assert again.exit_code == 0 and "onnx_qdq_int8" in again.stdout


@pytest.mark.parametrize(
    "overrides, message",
    [
        ([], "lists no optimize.variants"),
        (["optimize.variants=[pruned_float32]", "optimize.prune.include=[block_9_pw]"],
         "optimize.prune.include: 'block_9_pw' matches no layer"),
        (["optimize.variants=[ptq_int8]", "export.calibration.samples=10", "export.calibration.allow_few=false"],
         "below min_samples"),
    ],
)
def test_optimize_bad_input_exits_2_and_writes_no_variant(run_copy, overrides, message):
    args = ["optimize", str(run_copy), "--quiet"] + [item for o in overrides for item in ("--set", o)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (run_copy / "optimized").exists()


def test_verify_exit_codes_follow_the_budgets(run_copy):
    met = runner.invoke(app, ["verify", str(run_copy), "--quiet", "--max-size", "10000000", "--min-accuracy", "0.5"])
    assert met.exit_code == 0, met.output
    missed = runner.invoke(app, ["verify", str(run_copy), "--quiet", "--max-p50-ms", "0.000001", "--max-gzip", "100"])
    assert missed.exit_code == 1
    assert "budget(s) missed" in missed.stderr and "max_gzip_bytes: measured" in missed.stderr and "limit 100" in missed.stderr
    report = json.loads((run_copy / "verify-2" / "report.json").read_text())  # the second verify's own folder
    assert report["gate"]["passed"] is False and report["gate"]["artifacts"] == ["tflite_float32", "tflite_int8", "onnx_float32"]
    bad = runner.invoke(app, ["verify", str(run_copy), "--quiet", "--min-accuracy", "1.5"])
    assert bad.exit_code == 2 and "verify.budgets.min_accuracy" in bad.stderr


def test_junit_xml_has_a_case_per_budget_and_a_failure_per_miss(run_copy, tmp_path):
    import xml.etree.ElementTree as ET

    junit = tmp_path / "ci" / "budgets.xml"
    result = runner.invoke(app, ["verify", str(run_copy), "--quiet", "--junit", str(junit), "--max-gzip", "100",
                                 "--max-size", "10000000", "--set", "verify.threads=[1,2]"])
    assert result.exit_code == 1
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["tflite_float32", "tflite_int8", "onnx_float32"]
    for suite in suites:
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases) == 3 and int(suite.get("failures")) == 1  # + default max drop
        assert all(case.get("classname") and case.get("name") and case.get("time") for case in cases)
        failure = suite.find("testcase[@name='max_gzip_bytes']/failure")
        assert failure is not None and "limit 100" in failure.get("message")
    assert int(root.get("tests")) == 9 and int(root.get("failures")) == 3
    assert (run_copy / "verify" / "junit.xml").is_file()
    assert_follows_common_junit_schema(root)


# The common JUnit schema (Jenkins xunit junit-10.xsd): allowed children, required and allowed attributes.
JUNIT_RULES = {
    "testsuites": ({"testsuite"}, set(), {"name", "time", "tests", "failures", "errors"}),
    "testsuite": ({"testsuite", "properties", "testcase", "system-out", "system-err"}, {"name", "tests", "failures", "errors"},
                  {"group", "time", "skipped", "timestamp", "hostname", "id", "package", "file", "log", "url"}),
    "properties": ({"property"}, set(), set()),
    "property": (set(), {"name", "value"}, set()),
    "testcase": ({"skipped", "error", "failure", "system-out", "system-err"}, {"name"}, {"time", "classname", "group"}),
    "failure": (set(), set(), {"type", "message"}),
    "skipped": (set(), set(), {"message"}),
}


def assert_follows_common_junit_schema(element):
    import re

    children, required, optional = JUNIT_RULES[element.tag]
    assert required <= set(element.attrib) <= required | optional, (element.tag, element.attrib)
    if element.tag in ("testsuites", "testsuite") and "time" in element.attrib:
        assert re.fullmatch(r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?", element.get("time"))
    for child in element:
        assert child.tag in children, (element.tag, child.tag)
        assert_follows_common_junit_schema(child)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "cifar11"], "--data 'cifar11': expected digits, shapes, mnist"),
        (["--min-accuracy", "0.9"], "accuracy budgets need labelled images; add --data"),
        (["--normalization", "zscore"], "'--normalization': Value error, 'zscore' is not one of 'unit', 'symmetric'"),
    ],
)
def test_verify_files_bad_input_exits_2(tiny_build, tmp_path, args, message):
    target = str(tiny_build[0] / "model_int8.tflite")
    result = runner.invoke(app, ["verify", target, "--quiet", "--out", str(tmp_path / "r"), *args])
    assert result.exit_code == 2 and message in result.stderr


def test_verify_files_passes_and_fails_on_budgets(tiny_build, tmp_path):
    target = str(tiny_build[0] / "model_int8.tflite")
    common = ["verify", target, "--data", "digits", "--quiet", "--out", str(tmp_path / "r"), "--set", "verify.runs=5",
              "--set", "data.image_size=[16,16]"]
    assert runner.invoke(app, [*common, "--min-accuracy", "0.5"]).exit_code == 0
    failed = runner.invoke(app, [*common, "--min-accuracy", "0.9999"])
    assert failed.exit_code == 1 and "model_int8: min_accuracy: measured" in failed.stderr


def test_baseline_regression_fails_and_shows_old_new_and_change(run_copy, tmp_path):
    baseline = json.loads((run_copy / "report.json").read_text())
    for row in baseline["artifacts"]:
        row["size_bytes"] = int(row["size_bytes"] / 1.5)  # the new files are 50% bigger than the baseline's
        row["latency_ms"]["p50"] *= 100  # and much faster: timing noise on a busy machine cannot regress
    old = tmp_path / "old.json"
    old.write_text(json.dumps(baseline))
    result = runner.invoke(app, ["verify", str(run_copy), "--quiet", "--baseline", str(old), "--tolerance", "10%",
                                 "--set", "verify.runs=5", "--set", "verify.threads=1"])
    assert result.exit_code == 1 and "baseline size_bytes (tolerance 10%)" in result.stderr
    report = json.loads((run_copy / "verify" / "report.json").read_text())
    regressed = [r for r in report["baseline"]["comparisons"] if r["regressed"]]
    assert {r["metric"] for r in regressed} == {"size_bytes"}
    assert all(r["change"] == pytest.approx(0.5, abs=0.01) for r in regressed)
    assert "## Against the baseline" in (run_copy / "verify" / "report.md").read_text()
    same = runner.invoke(app, ["verify", str(run_copy), "--quiet", "--baseline", str(run_copy / "report.json"),
                               "--tolerance", "500%", "--set", "verify.runs=5"])
    assert same.exit_code == 0, same.stderr


@pytest.mark.parametrize("args, message", [
    (["--baseline", "missing.json"], "--baseline missing.json: file not found"),
    (["--tolerance", "ten"], "--tolerance 'ten': expected a percentage"),
])
def test_baseline_bad_input_exits_2(run_copy, args, message):
    result = runner.invoke(app, ["verify", str(run_copy), "--quiet", *args])
    assert result.exit_code == 2 and message in result.stderr


def test_every_library_package_is_installed_by_pyproject():
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(root).parts) for p in (root / "edgecnn").rglob("__init__.py")}
    assert found <= listed, f"add to pyproject packages: {sorted(found - listed)}"


def test_option_help_shows_its_default_in_brackets():
    # rich reads "[default: ...]" as a style tag and drops it unless escaped, leaving "artifacts ."
    result = runner.invoke(app, ["build", "--help"], env={"COLUMNS": "200"})
    assert "Run folder for the artifacts [default: runs/<recipe name>]." in result.output


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the drop is the point
def test_a_stop_signal_python_drops_in_a_destructor_still_stops_the_command(monkeypatch, capsys):
    # Python prints and drops an exception raised in __del__: a Ctrl-C landing while TensorFlow deletes an
    # iterator would be lost. The handler remembers it, and the command's end raises it again (exit 130).
    import signal

    import typer

    from edgecnn import errors
    from edgecnn_cli._common import user_errors

    monkeypatch.setattr(errors, "_stop_requested", None)

    class DeletedMidSignal:
        def __del__(self):
            errors.stop_on_signal(signal.SIGINT, None)

    with pytest.raises(typer.Exit) as stopped:
        with user_errors():
            DeletedMidSignal()  # dropped at once: the KeyboardInterrupt is printed and swallowed by Python
            assert errors._stop_requested is KeyboardInterrupt  # the command body ran on, as builds did
    assert stopped.value.exit_code == 130 and "interrupted (Ctrl-C)" in capsys.readouterr().err
    monkeypatch.setattr(errors, "_stop_requested", None)
    with pytest.raises(errors.Terminated):
        errors.stop_on_signal(signal.SIGTERM, None)
    with pytest.raises(errors.Terminated):
        errors.raise_if_stop_requested()


def test_a_stage_command_names_what_the_folder_lacks(tiny_build, tmp_path):
    """`export` takes the trained model as the folder's build recorded it; a folder without that record is named,
    with the command that makes it, and nothing is exported."""
    copy = tmp_path / "copy"
    shutil.copytree(tiny_build[0], copy)
    (copy / "manifest.json").unlink()
    (copy / "model_int8.tflite").unlink()
    result = runner.invoke(app, ["export", str(copy), "-q"])
    assert result.exit_code == 2 and f"{copy}: no data here; run `edgecnn train {copy}` first" in result.stderr
    assert not (copy / "model_int8.tflite").exists()
