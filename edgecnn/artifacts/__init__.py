"""A model file opened once: every reader (verify, anatomy, predict, readiness) asks one `Artifact` for
the file's metadata, input contract, layers, kernels, memory and runners, and each is read at most once.

    metadata   the edgecnn metadata a `.tflite`, `.onnx` or `.ort` carries (`artifacts.metadata`)
    runners    LiteRT, ONNX Runtime and (reference only) Keras, same interface (`artifacts.runners`)
    layers     per-layer type, shapes, parameters and MACs (`artifacts.layers`), memory (`artifacts.memory`)
    kernels    the weights as stored: int8, float16 or float32 (`artifacts.kernels`)

No TensorFlow here, except for a `.keras` file.
"""

from __future__ import annotations

import dataclasses
from functools import cached_property
from pathlib import Path

import numpy as np

from edgecnn.artifacts.kernels import Kernel, builtin_interpreter, read_kernels
from edgecnn.artifacts.layers import Layer, read_layers, totals
from edgecnn.artifacts.memory import memory_estimate
from edgecnn.artifacts.metadata import contract_of, read_metadata
from edgecnn.artifacts.runners import open_runner
from edgecnn.data.contract import NORMALIZATIONS, InputContract
from edgecnn.errors import VerificationError
from edgecnn.modelfile import check_model_file, load_onnx
from edgecnn.run import RunFolder

__all__ = ["Artifact", "open_artifact"]


class Artifact:
    """One model file; properties are read on first use and kept."""

    def __init__(self, path: str | Path, model=None):
        self.path = check_model_file(path)
        self._model = model  # a `.keras` file's model when the caller holds it already (not read again)
        self._runners: dict[int, object] = {}

    @property
    def kind(self) -> str:
        """tflite, onnx, ort or keras."""
        return self.path.suffix[1:]

    @cached_property
    def graph(self):
        """The file parsed once for every reader of its graph: a delegate-free LiteRT interpreter (`.tflite`,
        weights as stored), the ONNX ModelProto without external data (`.onnx`); None otherwise."""
        if self.kind == "tflite":
            return builtin_interpreter(self.path, allocate=True)
        return load_onnx(self.path) if self.kind == "onnx" else None

    @cached_property
    def metadata(self) -> dict:
        """The edgecnn metadata the file carries ({} for files made elsewhere, and for `.keras`)."""
        return read_metadata(self.path, self.graph if self.kind == "onnx" else None) or {}

    def runner(self, threads: int = 1):
        """The file loaded in its runtime with `threads` threads (one per thread count, kept)."""
        if threads not in self._runners:
            self._runners[threads] = open_runner(self.path, threads, self._model)
        return self._runners[threads]

    @cached_property
    def layers(self) -> list[Layer]:
        return read_layers(self.path, self.graph)

    @cached_property
    def kernels(self) -> list[Kernel]:
        return read_kernels(self.path, self.graph)

    @cached_property
    def macs(self) -> int | None:
        """Multiply-accumulates per batch-1 inference of a `.tflite` or `.onnx`, counted from its layers
        (k*k*Cin*Cout*H*W per convolution, k*k*C*H*W depthwise, Cin*Cout dense); None when unknown."""
        if self.kind not in ("tflite", "onnx"):
            return None
        # No catch-all here: the readers handle every structure they know (a layer without shapes counts 0),
        # so an exception is a bug to see, not a file to shrug at (ONNX's shape inference, non-strict, raises none).
        return totals(self.layers)["macs"]

    @cached_property
    def memory(self) -> dict:
        """Flash bytes and the activation peak (`.tflite` and `.onnx`)."""
        return memory_estimate(self.path, self.layers, self.graph)

    @cached_property
    def precision(self) -> str:
        """What the file says it is; else what its stored kernels are (int8, float16 or float32)."""
        if self.metadata.get("precision"):
            return self.metadata["precision"]
        kernels = self.kernels
        if kernels and all(np.issubdtype(k.values.dtype, np.integer) for k in kernels):
            return "int8"
        return "float16" if kernels and kernels[0].values.dtype == np.float16 else "float32"

    @cached_property
    def recorded_contract(self) -> InputContract | None:
        """The input contract the file records; for a `.keras`, its run folder's recipe and labels."""
        if self.kind != "keras":
            return contract_of(self.path, self.metadata)
        run = RunFolder(self.path.parent)
        return InputContract.from_config(run.load_recipe().data, run.load_labels()) if run.is_run() else None

    def contract(self, normalization: str | None = None, labels: list[str] | None = None) -> InputContract:
        """How images become this file's input: the recorded contract, else its input shape with
        `normalization` (unit when not given); `labels` name the outputs when the file does not."""
        runner, recorded = self.runner(), self.recorded_contract  # the runtime's refusals come first
        recorded = dataclasses.replace(recorded) if recorded is not None else None  # the kept one stays as read
        if recorded is not None and recorded.shape != tuple(runner.input_shape):
            raise VerificationError(f"{self.path}: its metadata records input {list(recorded.shape)}, the model takes "
                                    f"{list(runner.input_shape)}; re-export it with edgecnn, or strip the metadata")
        if recorded is not None and normalization not in (None, recorded.normalization):
            raise VerificationError(f"--normalization {normalization}: {self.path} records {recorded.normalization}; "
                                    "drop the option to use the file's own")
        if recorded is None:
            height, width, channels = runner.input_shape
            scheme = normalization or "unit"
            mean, std = NORMALIZATIONS[scheme]
            recorded = InputContract(height, width, channels, scheme, mean, std, [],
                                     color="rgb" if channels == 3 else "grayscale",
                                     layout=getattr(runner, "layout", "NHWC"))
        if labels:
            recorded.labels = list(labels)
        if not recorded.labels:
            recorded.labels = [str(i) for i in range(runner.output_size)]
        if len(recorded.labels) != runner.output_size:
            raise VerificationError(f"{self.path}: {runner.output_size} outputs but {len(recorded.labels)} labels")
        return recorded


def open_artifact(path: str | Path, model=None) -> Artifact:
    """A checked model file, ready to be asked anything (nothing is read until asked); `model`: the Keras
    model a `.keras` file holds, when it is in memory already."""
    return Artifact(path, model)
