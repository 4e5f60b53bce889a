"""Microcontrollers and NPUs (`edgecnn.mcu`, `edgecnn.verify.mcu`): the MCU export's firmware sources compiled
by the system C++ compiler, TensorFlow Lite Micro's row checked against TFLM's own interpreter driven here by
hand, Vela's estimates, the budgets that gate on them, and the deterministic objectives."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edgecnn.errors import MissingDependency
from edgecnn.recipe import RecipeError, load_recipe, validate_recipe
from edgecnn.sweep.results import TrialRow, best_trial
from edgecnn.verify.judge import select_best, gate
from edgecnn.verify.record import McuResult, NpuEstimate, TflmResult
from tests.conftest import REPO, TINY_RECIPE
from tests.records import result_row

runner = CliRunner()

_DUMP_MAIN = r"""
#include <cstdint>
#include <cstdio>
#include "model_data.h"
#include "model_ops.h"
#include "model_settings.h"

// TFLM's MicroMutableOpResolver as far as these models need it: its Add* methods as its header spells them
// (tensorflow/lite/micro/micro_mutable_op_resolver.h), each returning kTfLiteOk (0).
struct Resolver {
  int added = 0;
  int AddConv2D() { return ++added, 0; }
  int AddDepthwiseConv2D() { return ++added, 0; }
  int AddMean() { return ++added, 0; }
  int AddFullyConnected() { return ++added, 0; }
  int AddSoftmax() { return ++added, 0; }
  int AddQuantize() { return ++added, 0; }
  int AddDequantize() { return ++added, 0; }
  int AddReshape() { return ++added, 0; }
  int AddAdd() { return ++added, 0; }
  int AddAveragePool2D() { return ++added, 0; }
};

int main(int argc, char** argv) {
  Resolver resolver;
  if (!RegisterOperators(resolver) || resolver.added != kNumOperators) return 3;
  std::FILE* out = std::fopen(argv[1], "wb");
  std::fwrite(g_model, 1, g_model_len, out);
  std::fclose(out);
  std::printf("%d %d %d %d %d %d %.9g\n", static_cast<int>(reinterpret_cast<std::uintptr_t>(g_model) % 16),
              kTensorArenaSize, kNumClasses, kInputSize, kInputZeroPoint, kOutputZeroPoint, kOutputScale);
  for (int i = 0; i < kNumClasses; ++i) std::printf("%s\n", kLabels[i]);
  return 0;
}
"""


def _litert(path: Path):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    return interpreter


def _operators(path: Path) -> set[str]:
    """The builtin operators in the file's graph, read with TFLM's own flatbuffer schema."""
    from tflite_micro.python.tflite_micro import runtime

    model = runtime.convert_bytearray_to_object(path.read_bytes())
    names = {code: name for name, code in vars(runtime.schema_fb.BuiltinOperator).items() if not name.startswith("_")}
    return {names[runtime.get_builtin_code_from_operator_code(model.operatorCodes[op.opcodeIndex])]
            for op in model.subgraphs[0].operators}


def _tflm(path: Path, arena: int):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_file(str(path), arena_size=arena)


@pytest.mark.skipif(shutil.which("g++") is None, reason="no C++ compiler on this machine")
def test_firmware_sources_compile_and_hold_the_file_byte_for_byte(mcu_run, tmp_path):
    run, _ = mcu_run
    firmware = run / "firmware"
    (tmp_path / "main.cc").write_text(_DUMP_MAIN)
    binary = tmp_path / "dump"
    subprocess.run(["g++", "-std=c++17", "-Wall", "-Werror", "-I", str(firmware), str(tmp_path / "main.cc"),
                    str(firmware / "model_data.cc"), str(firmware / "model_settings.cc"), "-o", str(binary)],
                   check=True)
    printed = subprocess.run([str(binary), str(tmp_path / "model.bin")], check=True, capture_output=True,
                             text=True).stdout.splitlines()
    model = run / "model_mcu_int8.tflite"
    assert (tmp_path / "model.bin").read_bytes() == model.read_bytes()
    misalignment, arena, classes, input_size, input_zero, output_zero, output_scale = printed[0].split()
    assert misalignment == "0"
    assert f"constexpr int kNumOperators = {len(_operators(model))};" in (firmware / "model_ops.h").read_text()
    assert printed[1:] == (run / "labels.txt").read_text().split() and int(classes) == 10
    # the constants are the file's own, read here by LiteRT, not by the code that wrote them
    litert = _litert(model)
    inp, out = litert.get_input_details()[0], litert.get_output_details()[0]
    assert (inp["dtype"], out["dtype"]) == (np.int8, np.int8)  # int8 in and out: no float operator at the ends
    assert int(input_size) == int(np.prod(inp["shape"])) == 256 and int(input_zero) == inp["quantization"][1]
    assert int(output_zero) == out["quantization"][1] and float(output_scale) == pytest.approx(out["quantization"][0])
    # the arena constant is enough for TFLM, and 64 bytes less than TFLM's measured need is not
    x = np.zeros(inp["shape"], np.int8)
    interpreter = _tflm(model, int(arena))
    interpreter.set_input(x, 0)
    interpreter.invoke()
    with pytest.raises(RuntimeError):
        _tflm(model, int(arena) - 32 - 64)


def test_tflm_row_equals_tflm_driven_by_hand(mcu_run):
    """Accuracy and agreement as TFLM's own interpreter gives them when this test quantizes the pixels itself."""
    from ai_edge_litert.interpreter import Interpreter

    from edgecnn.data import load_dataset

    run, report = mcu_run
    recipe = load_recipe(run / "recipe.yaml")
    dataset = load_dataset(recipe.data, recipe.seed)
    for name, filename in (("tflite_mcu_int8", "model_mcu_int8.tflite"), ("tflite_int8", "model_int8.tflite")):
        row = report.row(name)
        path = run / filename
        litert = Interpreter(model_path=str(path))
        litert.allocate_tensors()
        detail = litert.get_input_details()[0]
        scale, zero = detail["quantization"]
        pixels = np.clip(np.round(dataset.x_test.astype(np.float32) / scale) + zero, -128, 255).astype(detail["dtype"])
        tflm, theirs, ours = _tflm(path, 1 << 20), [], []
        for one in pixels:
            tflm.set_input(one[None], 0)
            tflm.invoke()
            theirs.append(int(np.argmax(tflm.get_output(0))))
            litert.set_tensor(detail["index"], one[None])
            litert.invoke()
            ours.append(int(np.argmax(litert.get_tensor(litert.get_output_details()[0]["index"]))))
        theirs, ours = np.array(theirs), np.array(ours)
        assert row.mcu.tflm.runs and row.mcu.tflm.runtime == "TFLM (reference kernels)"
        assert row.mcu.tflm.accuracy == pytest.approx(float((theirs == dataset.y_test).mean()))
        assert row.mcu.tflm.agreement == pytest.approx(float((theirs == ours).mean()))
        assert row.mcu.tflm.flash_bytes == path.stat().st_size
        assert 8_000 < row.mcu.tflm.arena_bytes < 64 * 1024


def test_vela_puts_every_operator_of_the_mcu_file_on_the_npu(mcu_run):
    from edgecnn.mcu.vela import estimate
    from edgecnn.recipe import NpuConfig

    run, report = mcu_run
    mcu, phone = report.row("tflite_mcu_int8"), report.row("tflite_int8")
    assert [npu.accelerator for npu in mcu.mcu.npu] == ["ethos-u55-128", "ethos-u65-256"]
    for npu in mcu.mcu.npu:
        assert npu.cpu_operators == 0 and npu.npu_share == 1.0 and npu.npu_operators > 10
        assert npu.ms == pytest.approx(npu.cycles / (npu.clock_mhz * 1e3), rel=1e-3)
        per_layer = Path(npu.per_layer_csv).read_text().splitlines()
        assert per_layer[0].startswith("Original Operator") and len(per_layer) > npu.npu_operators
    # the phone file's float output: its DEQUANTIZE stays on the CPU
    assert all(npu.cpu_operators == 1 for npu in phone.mcu.npu)
    assert mcu.mcu.npu[1].system_config == "Ethos_U65_High_End" and mcu.mcu.npu[1].clock_mhz == 1000
    # deterministic: compiled again, the same figures
    again = estimate(run / "model_mcu_int8.tflite", NpuConfig(accelerator="ethos-u55-128"), run / "again")
    assert (again.cycles, again.sram_bytes, again.npu_operators) == (mcu.mcu.npu[0].cycles, mcu.mcu.npu[0].sram_bytes,
                                                                      mcu.mcu.npu[0].npu_operators)


def test_tflm_names_the_operator_it_refuses(mcu_run):
    from edgecnn.mcu.tflm import TflmRefusal, open_tflm

    run, report = mcu_run
    refused = open_tflm(run / "optimized" / "ptq_dynamic.tflite")
    assert isinstance(refused, TflmRefusal) and refused.operators == ["CONV_2D"]
    assert "Hybrid models are not supported" in refused.reason
    assert report.row("ptq_dynamic").mcu is None  # int8 weights, float activations: not a microcontroller file


@pytest.mark.parametrize("flags, check, limit", [
    (["--max-arena-kib", "8"], "max_arena_kib", "8"),
    (["--npu", "ethos-u85-256", "--max-npu-ms", "0.01"], "max_npu_ms (ethos-u85-256)", "0.01"),
    (["--set", "verify.budgets.max_flash_kib=16"], "max_flash_kib", "16"),
])
def test_a_missed_mcu_budget_exits_1_and_fails_its_junit_case(mcu_run, tmp_path, flags, check, limit):
    from edgecnn_cli.main import app

    run = tmp_path / "run"
    shutil.copytree(mcu_run[0], run)
    junit = tmp_path / "junit.xml"
    result = runner.invoke(app, ["verify", str(run), "--quiet", "--junit", str(junit), *flags])
    assert result.exit_code == 1, result.output
    assert check in result.stderr
    suite = next(s for s in ET.parse(junit).getroot().findall("testsuite") if s.get("name") == "tflite_mcu_int8")
    failure = suite.find(f"testcase[@name='{check}']/failure")
    assert failure is not None and f"limit {limit}" in failure.get("message")


def test_the_mcu_file_is_the_pick_by_arena_and_the_report_says_so(mcu_run):
    run, report = mcu_run
    rows = [row for row in report.artifacts if row.arena_bytes is not None]
    assert report.best.objective == "arena_bytes"
    assert report.best_name == min(rows, key=lambda row: row.arena_bytes).name
    text = (run / "report.md").read_text()
    assert "## Microcontrollers and NPUs" in text and "TFLM (reference kernels)" in text and "deterministic" in text


# ---- unit: no training ---------------------------------------------------------------------------------------

def _recipe(**verify):
    return validate_recipe({**TINY_RECIPE, "verify": verify})


def test_npu_settings_take_a_name_or_a_mapping_and_refuse_unknown_ones():
    recipe = _recipe(npu=["ethos-u55-128", {"accelerator": "ethos-u85-256", "memory_mode": "Sram_Only"}])
    assert [npu.label for npu in recipe.verify.npu] == ["ethos-u55-128", "ethos-u85-256/Sram_Only"]
    with pytest.raises(RecipeError, match="verify.npu.0.accelerator"):
        _recipe(npu=["ethos-u99"])
    with pytest.raises(RecipeError, match="max_npu_ms needs an NPU"):
        _recipe(budgets={"max_npu_ms": 1.0})
    with pytest.raises(RecipeError, match="set verify.mcu_check to auto or always"):
        _recipe(mcu_check="never", budgets={"max_arena_kib": 64})


def test_without_the_mcu_extra_the_error_names_it(monkeypatch, tmp_path):
    from edgecnn.mcu.firmware import firmware_for
    from edgecnn.verify.mcu import tflm_row

    monkeypatch.setitem(sys.modules, "tflite_micro", None)  # as if not installed: find_spec gives None
    with pytest.raises(MissingDependency, match=r"pip install 'edgecnn\[mcu\]'"):
        tflm_row(tmp_path / "model.tflite", np.zeros((1, 2, 2, 1), np.uint8), None, lambda x: x, np.zeros((1, 2)))
    with pytest.raises(MissingDependency, match="tflite-micro"):
        firmware_for(tmp_path / "model.tflite", ["a"], tmp_path)


def _mcu_row(name: str, arena: int | None, cycles: int | None, **fields):
    mcu = None
    if arena is not None:
        npu = NpuEstimate(npu="ethos-u55-128", accelerator="ethos-u55-128", system_config="s", memory_mode="m",
                          clock_mhz=500.0, cycles=cycles, npu_cycles=cycles, ms=cycles / 5e5, sram_bytes=1,
                          weights_bytes=1, weights_area="Off-chip Flash", npu_operators=1, cpu_operators=0,
                          npu_share=1.0, macs=1, per_layer_csv="x.csv", compiled="x.tflite")
        mcu = McuResult(tflm=TflmResult(runtime="TFLM", runs=True, arena_bytes=arena, flash_bytes=10), npu=[npu])
    return result_row(name, mcu=mcu, **fields)


def test_deterministic_objectives_pick_by_arena_or_cycles_and_put_unmeasured_files_last():
    rows = [_mcu_row("float", None, None, gzip_bytes=1, accuracy=0.99, precision="float32"),
            _mcu_row("big", 40_000, 50_000, accuracy=0.99), _mcu_row("small", 30_000, 90_000, accuracy=0.98)]
    checks = gate(rows, validate_recipe(TINY_RECIPE).verify.budgets.model_copy(update={"max_accuracy_drop": None}),
                  [])
    assert select_best(rows, checks, "arena_bytes").name == "small"
    assert select_best(rows, checks, "npu_cycles").name == "big"
    assert select_best(rows, checks, "gzip_bytes").name == "float"
    trials = [TrialRow(overrides={"a": i}, status="done", within_budgets=True, accuracy=acc, arena_bytes=arena,
                       npu_cycles=cycles) for i, (acc, arena, cycles) in
              enumerate([(0.99, 40_000, 50_000), (0.98, 30_000, 90_000), (0.995, None, None)])]
    assert best_trial(trials, "arena_bytes") == 1 and best_trial(trials, "npu_cycles") == 0


def test_an_arena_budget_fails_a_file_tflm_refuses():
    refused = result_row("refused", mcu=McuResult(tflm=TflmResult(runtime="TFLM", runs=False, flash_bytes=10,
                                                                  refused_operators=["CONV_2D"])))
    budgets = _recipe(budgets={"max_arena_kib": 64, "max_accuracy_drop": None}).verify.budgets
    checks = gate([refused], budgets, ["refused"])
    assert [(c.budget, c.passed, c.measured) for c in checks.checks] == [("max_arena_kib", False, None)]
    assert not checks.passed


def test_the_mcu_file_keeps_the_standard_metadata(mcu_run):
    pytest.importorskip("mediapipe", reason="the clients extra reads the metadata with MediaPipe's own schema")
    from tests.clients import mediapipe_metadata

    run, _ = mcu_run
    standard = mediapipe_metadata(run / "model_mcu_int8.tflite")
    assert standard["name"] == "mcu" and standard["labels"] == (run / "labels.txt").read_text().split()
    assert standard["packed"] == ["labels.txt", "metadata.json"]


def test_verifying_a_file_for_microcontrollers_needs_no_tensorflow(mcu_run, tmp_path):
    """`edgecnn verify FILE` on a file edgecnn did not keep a run for: TFLM and Vela rows, Vela's CSVs in the
    report's own folder, and TensorFlow never imported."""
    model = mcu_run[0] / "model_mcu_int8.tflite"
    code = (
        "import sys\n"
        "from edgecnn import api\n"
        f"done = api.verify([{str(model)!r}], data='digits', out={str(tmp_path / 'report')!r}, show_progress=False,\n"
        "                  overrides=['verify.npu=[ethos-u55-128]', 'verify.mcu_check=always'])\n"
        "row = done.report.artifacts[0]\n"
        "print(row.mcu.tflm.runs, row.mcu.npu[0].cpu_operators, row.mcu.npu[0].per_layer_csv)\n"
        "assert 'tensorflow' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    runs, cpu_operators, csv_path = done.stdout.split()
    assert (runs, cpu_operators) == ("True", "0")
    assert Path(csv_path).is_relative_to(tmp_path / "report" / "mcu") and Path(csv_path).is_file()


def test_verifying_a_run_writes_vela_into_its_own_folder_not_the_build(mcu_run, tmp_path):
    from edgecnn import api

    run = tmp_path / "run"
    shutil.copytree(mcu_run[0], run)
    done = api.verify([run], overrides=["verify.npu=[ethos-u85-256]"], show_progress=False)
    estimate = done.report.row("tflite_mcu_int8").mcu.npu[0]
    assert estimate.accelerator == "ethos-u85-256" and estimate.cpu_operators == 0
    assert Path(estimate.per_layer_csv).is_relative_to(done.folder / "mcu") and Path(estimate.per_layer_csv).is_file()
    assert not list((run / "mcu").glob("*/ethos-u85-256*"))  # the build's folder is left as the build wrote it


def test_without_the_mcu_extra_auto_adds_no_microcontroller_rows(monkeypatch, tmp_path):
    from edgecnn.verify.mcu import measure_mcu

    monkeypatch.setitem(sys.modules, "tflite_micro", None)
    settings = _recipe().verify
    assert settings.mcu_check == "auto"
    assert measure_mcu(tmp_path / "m.tflite", np.zeros((1, 2, 2, 1), np.uint8), None, lambda x: x,
                       np.zeros((1, 2)), settings, tmp_path) is None
    with pytest.raises(MissingDependency):  # unless a budget needs TFLM's figures
        measure_mcu(tmp_path / "m.tflite", np.zeros((1, 2, 2, 1), np.uint8), None, lambda x: x, np.zeros((1, 2)),
                    _recipe(budgets={"max_arena_kib": 64}).verify, tmp_path)


def test_a_recipe_that_needs_the_mcu_tools_says_so_before_training(monkeypatch, tmp_path):
    from edgecnn.incremental.build import build

    monkeypatch.setitem(sys.modules, "tflite_micro", None)
    with pytest.raises(MissingDependency, match=r"export.formats tflite_mcu_int8 needs TensorFlow Lite Micro"):
        build(load_recipe(REPO / "recipes" / "mcu.yaml"), tmp_path / "run", show_progress=False)
    assert not (tmp_path / "run").exists()  # nothing written, nothing trained
    monkeypatch.setitem(sys.modules, "ethosu", None)
    with pytest.raises(MissingDependency, match=r"verify.npu needs Arm's Vela"):
        build(_recipe(npu=["ethos-u55-128"]), tmp_path / "run", show_progress=False)
