"""Is the p50 that `edgecnn verify` reports the model's, not the harness's?

    python benchmarks/latency_harness.py runs/digits/model_int8.tflite runs/digits/model_float32.onnx

For each file and runtime, at 1 thread: the p50 from edgecnn's harness (`measure_latency`), the p50
of an independent plain loop calling the runtime directly (set_tensor + invoke, or session.run),
interleaved in rounds so drift hits both, and the harness's own cost per invoke (the same loop
timing a runner whose invoke does nothing).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from edgecnn.verify.latency import measure_latency
from edgecnn.artifacts.runners import open_runner


def independent_p50(path: Path, images: np.ndarray, runs: int) -> float:
    """A loop written from the runtimes' own documentation, sharing no code with edgecnn's harness."""
    if path.suffix == ".tflite":
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(path), num_threads=1)
        interpreter.allocate_tensors()
        index = interpreter.get_input_details()[0]["index"]

        def call(x):
            interpreter.set_tensor(index, x)
            interpreter.invoke()
    else:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name

        def call(x):
            session.run(None, {name: x})
    for i in range(20):
        call(images[i % len(images)][None])
    times = []
    for i in range(runs):
        x = images[i % len(images)][None]
        start = time.perf_counter()
        call(x)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


class NoOpRunner:
    def invoke(self, prepared_one):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    overhead = measure_latency(NoOpRunner(), np.zeros((64, 4), np.float32), warmup=100, runs=100_000)
    print(f"harness overhead per invoke (no-op runner): p50 {overhead['p50'] * 1000:.3f} us, "
          f"mean {overhead['mean'] * 1000:.3f} us")
    for path in args.files:
        runner = open_runner(path, 1)
        images = runner.prepare(rng.random((64, *runner.input_shape), dtype=np.float32))
        ours, theirs = [], []
        for _ in range(args.rounds):  # interleaved, so machine drift affects both alike
            ours.append(measure_latency(runner, images, warmup=20, runs=args.runs, max_seconds=60)["p50"])
            theirs.append(independent_p50(path, images, args.runs))
        a, b = float(np.median(ours)), float(np.median(theirs))
        print(f"{path}: edgecnn p50 {a * 1000:.2f} us, independent loop p50 {b * 1000:.2f} us, "
              f"difference {100 * (a - b) / b:+.1f}%")


if __name__ == "__main__":
    main()
