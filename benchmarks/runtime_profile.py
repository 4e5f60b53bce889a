"""Where the time of a run folder's files goes, per operator, in LiteRT and ONNX Runtime (1 thread, batch 1).

    python benchmarks/runtime_profile.py runs/shapes [--runs 2000] [--rounds 3] [--kernels] [--layers]

1. ONNX Runtime session options on the float ONNX file against LiteRT float32, interleaved in rounds
   (graph optimization levels, spinning, IOBinding that keeps input and output buffers bound): p50 and the
   ratio to LiteRT float32.
2. ONNX Runtime's own per-node profile (`enable_profiling`) of the float and int8 ONNX files, summed by
   operator type.
3. With --kernels (needs Linux `perf`): LiteRT's own kernels, sampled by `perf record` while a child
   process invokes the float32 and the int8 TFLite file: each XNNPACK micro-kernel or TFLite builtin
   function (by symbol) with its share of the samples and its time per run (share x the file's p50
   measured here, interleaved). The kernel names say what runs: e.g. `..._dwconv_..._9p32c__avx512skx_mul32`
   is the 3x3 depthwise convolution on AVX-512, int8 multiplied in 32-bit lanes.
4. With --layers (needs TensorFlow and the run's model.keras): the model is cut after each block's
   activation, each cut converted to float32 and int8 (calibrated on the training images, as the export
   does) and timed interleaved; a layer's cost is the difference between consecutive cuts (noisy where a
   layer costs less than the machine's jitter). Prints float32 and int8 time per layer and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np


def p50_ms(invoke, runs: int) -> float:
    for _ in range(max(20, runs // 20)):
        invoke()
    times = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter_ns()
        invoke()
        times[i] = time.perf_counter_ns() - start
    return float(np.median(times)) / 1e6


def interleaved_p50_ms(invokers: dict, runs: int, rounds: int) -> dict:
    """Each invoker's p50 (ms), the median over `rounds` rounds that time every invoker in turn."""
    times = defaultdict(list)
    for _ in range(rounds):
        for key, invoke in invokers.items():
            times[key].append(p50_ms(invoke, runs))
    return {key: statistics.median(values) for key, values in times.items()}


def litert_invoke(path_or_bytes, image_float: np.ndarray):
    from ai_edge_litert.interpreter import Interpreter

    kwargs = {"model_content": path_or_bytes} if isinstance(path_or_bytes, bytes) else {"model_path": str(path_or_bytes)}
    interpreter = Interpreter(num_threads=1, **kwargs)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    scale, zero = detail["quantization"]
    dtype = np.dtype(detail["dtype"])
    image = (np.clip(np.round(image_float / scale) + zero, np.iinfo(dtype).min, np.iinfo(dtype).max).astype(dtype)
             if scale else image_float.astype(dtype))
    index = detail["index"]

    def invoke():
        interpreter.set_tensor(index, image)
        interpreter.invoke()

    return invoke


def ort_session(path: Path, level: str = "ORT_ENABLE_ALL", spinning: bool = True, profile: str | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if profile:
        options.enable_profiling = True
        options.profile_file_prefix = profile
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def ort_invoke(session, image: np.ndarray, binding: bool = False):
    import onnxruntime as ort

    name = session.get_inputs()[0].name
    if not binding:
        return lambda: session.run(None, {name: image})
    bound = session.io_binding()
    bound.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(image))
    output = session.get_outputs()[0]
    shape = [1 if not isinstance(d, int) else d for d in output.shape]
    bound.bind_ortvalue_output(output.name, ort.OrtValue.ortvalue_from_numpy(np.zeros(shape, np.float32)))
    return lambda: session.run_with_iobinding(bound)


def session_options(run: Path, image: np.ndarray, runs: int, rounds: int) -> None:
    onnx_file, tflite_file = run / "model_float32.onnx", run / "model_float32.tflite"
    candidates = {
        "LiteRT float32 (XNNPACK)": lambda: litert_invoke(tflite_file, image),
        "ORT as verify runs it (ENABLE_ALL)": lambda: ort_invoke(ort_session(onnx_file), image),
        "ORT ENABLE_EXTENDED (no NCHWc layout)": lambda: ort_invoke(ort_session(onnx_file, "ORT_ENABLE_EXTENDED"), image),
        "ORT ENABLE_BASIC": lambda: ort_invoke(ort_session(onnx_file, "ORT_ENABLE_BASIC"), image),
        "ORT ENABLE_ALL, no spinning": lambda: ort_invoke(ort_session(onnx_file, spinning=False), image),
        "ORT ENABLE_ALL + IOBinding": lambda: ort_invoke(ort_session(onnx_file), image, binding=True),
        "ORT ENABLE_EXTENDED + IOBinding": lambda: ort_invoke(ort_session(onnx_file, "ORT_ENABLE_EXTENDED"), image,
                                                              binding=True),
    }
    p50 = interleaved_p50_ms({name: make() for name, make in candidates.items()}, runs, rounds)
    litert = p50["LiteRT float32 (XNNPACK)"]
    print(f"\n## ONNX Runtime session options against LiteRT float32 ({rounds} rounds x {runs} runs, 1 thread)\n")
    print("| runtime, settings | p50 ms (median of rounds) | / LiteRT float32 |\n|---|---:|---:|")
    for name, ms in p50.items():
        print(f"| {name} | {ms:.4f} | {ms / litert:.2f} |")


def ort_node_profile(path: Path, image: np.ndarray, runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        session = ort_session(path, profile=os.path.join(folder, "ort"))
        invoke = ort_invoke(session, image)
        for _ in range(runs):
            invoke()
        events = json.loads(Path(session.end_profiling()).read_text())
    per_op: dict[str, float] = defaultdict(float)
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            per_op[event["args"]["op_name"]] += event["dur"] / runs / 1000.0  # us -> ms per run
    return dict(sorted(per_op.items(), key=lambda item: -item[1]))


def node_profiles(run: Path, image: np.ndarray, runs: int) -> None:
    files = {"float32": run / "model_float32.onnx", "int8 QDQ": run / "optimized" / "onnx_qdq_int8.onnx"}
    for label, path in files.items():
        if not path.is_file():
            continue
        per_op = ort_node_profile(path, image, runs)
        total = sum(per_op.values())
        print(f"\n## ONNX Runtime per-operator time, {label} ({path.name}): {total:.4f} ms of kernels per run\n")
        print("| operator | ms per run | share |\n|---|---:|---:|")
        for op, ms in per_op.items():
            print(f"| {op} | {ms:.4f} | {100 * ms / total:.0f}% |")


_INVOKE_LOOP = """
import sys, numpy as np
from ai_edge_litert.interpreter import Interpreter
interpreter = Interpreter(model_path=sys.argv[1], num_threads=1)
interpreter.allocate_tensors()
detail = interpreter.get_input_details()[0]
interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
for _ in range(int(sys.argv[2])):
    interpreter.invoke()
"""
_PERF_LINE = re.compile(r"^\s*([\d.]+)%\s+\[\.\]\s+(.+?)\s*$")


def perf_kernels(path: Path, runs: int, limit: float = 0.5) -> list[tuple[str, float]]:
    """(symbol, share of samples) of a child process invoking `path` `runs` times, from `perf record`."""
    with tempfile.TemporaryDirectory() as folder:
        data = os.path.join(folder, "perf.data")
        # One BLAS thread: NumPy's idle OpenBLAS workers would otherwise show up among the kernels.
        subprocess.run(["perf", "record", "-q", "-o", data, sys.executable, "-c", _INVOKE_LOOP, str(path), str(runs)],
                       check=True, capture_output=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
        report = subprocess.run(["perf", "report", "-i", data, "--stdio", "--fields", "overhead,sym",
                                 "--percent-limit", str(limit)], check=True, capture_output=True, text=True).stdout
    found = (_PERF_LINE.match(line) for line in report.splitlines() if not line.startswith("#"))
    return [(match.group(2), float(match.group(1)) / 100) for match in found if match]


def kernel_profiles(run: Path, image: np.ndarray, runs: int, rounds: int) -> None:
    if shutil.which("perf") is None:
        print("\n(--kernels needs Linux perf on PATH; skipped)")
        return
    files = {"float32": run / "model_float32.tflite", "int8": run / "model_int8.tflite"}
    p50 = interleaved_p50_ms({label: litert_invoke(path, image) for label, path in files.items()}, runs, rounds)
    print(f"\n## LiteRT kernels sampled by perf (1 thread; p50 float32 {p50['float32']:.4f} ms, int8 "
          f"{p50['int8']:.4f} ms, int8 / float32 {p50['int8'] / p50['float32']:.2f})")
    for label, path in files.items():
        print(f"\n### {path.name}\n\n| kernel (symbol) | share of samples | ms per run |\n|---|---:|---:|")
        for symbol, share in perf_kernels(path, 20 * runs):
            print(f"| `{symbol}` | {100 * share:.1f}% | {share * p50[label]:.4f} |")


def layer_profile(run: Path, runs: int, rounds: int) -> None:
    from edgecnn.data import load_dataset
    from edgecnn.export.calibration import calibration_set
    from edgecnn.export.pixels import FileInput
    from edgecnn.export.tflite import convert_to_tflite
    from edgecnn.modelfile import load_keras
    from edgecnn.recipe import load_recipe
    from edgecnn._tf import keras

    recipe = load_recipe(run / "recipe.yaml", [])
    dataset = load_dataset(recipe.data, recipe.seed)
    model = load_keras(run / "model.keras")
    file_input = FileInput.for_recipe(recipe, dataset.contract)
    pixels = file_input.prepare(calibration_set(dataset, recipe.export.calibration, recipe.seed).pixels)
    cuts = [layer.name for layer in model.layers if layer.name.endswith("_relu")] + [model.layers[-1].name]
    image = pixels[:1]
    invokers = {}
    for name in cuts:
        part = keras().Model(model.input, model.get_layer(name).output)
        invokers[(name, "float32")] = litert_invoke(convert_to_tflite(part, "float32", file_input=file_input), image)
        invokers[(name, "int8")] = litert_invoke(
            convert_to_tflite(part, "int8", pixels, recipe.export.int8_io, file_input=file_input), image)
    p50 = interleaved_p50_ms(invokers, runs, rounds)
    print(f"\n## LiteRT per layer (cut after each activation; {rounds} rounds x {runs} runs, 1 thread)\n")
    print("| up to layer | float32 ms | int8 ms | layer float32 ms | layer int8 ms | int8 / float32 |")
    print("|---|---:|---:|---:|---:|---:|")
    before = {"float32": 0.0, "int8": 0.0}
    for name in cuts:
        f, q = p50[(name, "float32")], p50[(name, "int8")]
        df, dq = f - before["float32"], q - before["int8"]
        ratio = f"{dq / df:.2f}" if df > 0.002 else "-"
        print(f"| {name} | {f:.4f} | {q:.4f} | {df:+.4f} | {dq:+.4f} | {ratio} |")
        before = {"float32": f, "int8": q}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kernels", action="store_true", help="also LiteRT's kernels sampled by Linux perf")
    parser.add_argument("--layers", action="store_true", help="also the LiteRT per-layer profile (TensorFlow)")
    args = parser.parse_args()
    from edgecnn.verify.latency import machine_line

    print(f"CPU: {machine_line()}")
    import onnxruntime as ort

    session = ort.InferenceSession(str(args.run / "model_float32.onnx"), providers=["CPUExecutionProvider"])
    shape = [1 if not isinstance(d, int) else d for d in session.get_inputs()[0].shape]
    image = np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)
    session_options(args.run, image, args.runs, args.rounds)
    node_profiles(args.run, image, args.runs)
    if args.kernels:
        kernel_profiles(args.run, image, args.runs, args.rounds)
    if args.layers:
        layer_profile(args.run, args.runs, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
