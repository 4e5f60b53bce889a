"""A `.tflite` in TensorFlow Lite Micro's Python interpreter: the firmware runtime's reference kernels, and the
tensor arena it really allocates (its RecordingMicroAllocator's total, which firmware must reserve).

The interpreter is TFLM's own x86-64 build: its arena holds 64-bit pointers where a Cortex-M's holds 32-bit
ones, so the figure is an upper bound for the reference kernels on a 32-bit part (optimized kernels such as
CMSIS-NN may ask for scratch buffers on top)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgecnn.artifacts.runners import dequantized, to_tensor_dtype
from edgecnn.errors import VerificationError
from edgecnn.fileio import captured_native_stderr
from edgecnn.mcu import require_mcu_tools

RUNTIME = "TFLM (reference kernels)"
# Room for any model edgecnn makes (the shapes recipe's int8 file uses 94 KiB); the measured total is reported.
ARENA_PROBE_BYTES = 16 << 20
_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")
_FAILED_NODE = re.compile(r"Node (\w+) \(number \d+\) failed to (?:prepare|invoke)")
_MISSING_OP = re.compile(r"(?:Didn't find op for builtin opcode|unsupported op) '?(\w+)'?", re.IGNORECASE)


@dataclass
class TflmRefusal:
    """Why TFLM will not run a file: the operators it failed on and its own words."""

    operators: list[str]
    reason: str


@dataclass
class TflmRunner:
    """One `.tflite` loaded in TFLM, with the interface of the LiteRT runner (`prepare`, `predict`)."""

    path: Path
    interpreter: object
    input: dict = field(repr=False)
    output: dict = field(repr=False)
    runtime: str = RUNTIME

    def prepare(self, images: np.ndarray) -> np.ndarray:
        return to_tensor_dtype(images, self.input)

    def predict(self, images: np.ndarray) -> np.ndarray:
        outputs = []
        for one in self.prepare(images):
            self.interpreter.set_input(one[None], 0)
            self.interpreter.invoke()
            outputs.append(dequantized(self.interpreter.get_output(0), self.output["quantization"])[0])
        return np.stack(outputs)

    def arena_bytes(self) -> int:
        """The arena TFLM's recording allocator used (head + tail), after at least one invoke."""
        with captured_native_stderr(always=True) as log:
            self.interpreter.print_allocations()
        found = _TOTAL.search(log[0])
        if not found:
            raise VerificationError(f"{self.path}: TFLM printed no arena total: {log[0].strip()[:200]}")
        return int(found.group(1))


def open_tflm(path: Path, arena_size: int = ARENA_PROBE_BYTES) -> TflmRunner | TflmRefusal:
    """The file in TFLM, or why TFLM refuses it (an operator or type its kernels lack)."""
    require_mcu_tools(f"{path} in TFLM", None)
    from tflite_micro.python.tflite_micro import runtime  # lazy: the mcu extra

    with captured_native_stderr(always=True) as log:
        try:
            interpreter = runtime.Interpreter.from_file(str(path), arena_size=arena_size)
            failure = None
        except (RuntimeError, ValueError) as exc:
            failure = str(exc)
    if failure is not None:
        return refusal(log[0], failure)
    return TflmRunner(Path(path), interpreter, _details(interpreter.get_input_details(0)),
                      _details(interpreter.get_output_details(0)))


def refusal(log: str, failure: str) -> TflmRefusal:
    """The operators TFLM named when it refused a file, and its most specific line."""
    operators = list(dict.fromkeys(_FAILED_NODE.findall(log) + _MISSING_OP.findall(log)))
    lines = [line.strip() for line in log.splitlines() if line.strip() and not _FAILED_NODE.search(line)]
    reason = lines[0] if lines else failure
    return TflmRefusal(operators, reason.split(" ", 1)[1] if reason.startswith("tensorflow/") else reason)


def _details(details: dict) -> dict:
    """TFLM's tensor details in LiteRT's shape: `quantization` is (scale, zero point), (0, 0) for float."""
    params = details["quantization_parameters"]
    scales, zero_points = params["scales"], params["zero_points"]
    quantization = (float(scales[0]), int(zero_points[0])) if len(scales) else (0.0, 0)
    return {"dtype": details["dtype"], "shape": details["shape"], "quantization": quantization}
