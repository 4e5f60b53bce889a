"""Verify artifacts in their own runtimes: accuracy, agreement with the float model, size, latency.

Nothing here imports TensorFlow, except for the optional Keras reference row.
"""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgecnn.artifacts import Artifact
from edgecnn.artifacts.kernels import sparsity_summary
from edgecnn.artifacts.runners import predict_pixels
from edgecnn.data import normalize
from edgecnn.errors import VerificationError
from edgecnn.verify.classes import class_results
from edgecnn.verify.latency import measure_latency
from edgecnn.verify.mcu import mcu_applies, measure_mcu
from edgecnn.verify.readiness import check_readiness
from edgecnn.verify.record import ArtifactResult, LatencyStats, ThreadLatency

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import VerifyConfig

__all__ = ["ArtifactResult", "MCU_DIR", "verify_artifact", "file_sizes"]

MCU_DIR = "mcu"  # Vela's outputs (per-layer CSV, compiled file) per file and NPU, beside the verified files


def file_sizes(path: Path) -> tuple[int, int]:
    """Bytes on disk and gzip-compressed bytes (what a download or an app bundle costs)."""
    data = Path(path).read_bytes()
    return len(data), len(gzip.compress(data, compresslevel=9, mtime=0))


def verify_artifact(artifact: Artifact, name: str, fmt_name: str, images: np.ndarray | None,
                    labels: np.ndarray | None, contract, reference: np.ndarray | None, settings: VerifyConfig,
                    precision: str | None = None, mcu_folder: Path | None = None) -> ArtifactResult:
    """Run one file on the test images (uint8); time it at batch 1 at each of the settings' thread counts. An int8
    `.tflite` also runs in TensorFlow Lite Micro and through Vela (`verify.mcu`), Vela writing into `mcu_folder`."""
    threads = settings.thread_counts()
    runner = artifact.runner(threads[0])
    if runner.input_shape != tuple(contract.shape):
        raise VerificationError(
            f"{artifact.path}: input shape {list(runner.input_shape)} does not match the data's {list(contract.shape)}"
        )
    probabilities = predict_pixels(runner, images, contract)
    x = normalize(images[:64], contract)  # the latency harness cycles through up to 64 real images
    accuracy = float((probabilities.argmax(1) == labels).mean()) if labels is not None else None
    per_class = class_results(probabilities, labels, contract.labels) if labels is not None else {}
    agreement = max_diff = None
    if reference is not None:
        agreement = float((probabilities.argmax(1) == reference.argmax(1)).mean())
        max_diff = float(np.abs(probabilities - reference).max())
    latencies = []
    for count in threads:
        timed = artifact.runner(count)
        stats = measure_latency(timed, timed.prepare(x), settings.warmup, settings.runs, settings.max_seconds,
                                artifact.macs)
        latencies.append(ThreadLatency(threads=count, **stats, runtime_settings=timed.settings))
    size, gz = file_sizes(artifact.path)
    precision = precision or artifact.precision
    mcu = None
    if mcu_applies(artifact.kind, precision, settings):
        folder = mcu_folder or Path(tempfile.mkdtemp(prefix="edgecnn-vela-"))  # not kept: nowhere was named
        mcu = measure_mcu(artifact.path, images, labels, contract, probabilities, settings, folder)
    return ArtifactResult(
        name=name, path=str(artifact.path), format=fmt_name, precision=precision, runtime=runner.runtime,
        size_bytes=size, gzip_bytes=gz, accuracy=accuracy, agreement=agreement, max_abs_diff=max_diff,
        latency_ms=LatencyStats(**stats_of(latencies[0])), threads=threads[0], input_dtype=runner.input_dtype,
        accuracy_change=None, **describe_file(artifact), macs=artifact.macs, latency=latencies, **per_class,
        readiness=check_readiness(artifact, precision, settings.gpu_check), mcu=mcu,
    )


def stats_of(timing: ThreadLatency) -> dict:
    """The timings alone (the first thread count's are the row's `latency_ms`)."""
    return timing.model_dump(exclude={"threads", "runtime_settings"}, exclude_unset=True)


def describe_file(artifact: Artifact) -> dict:
    """What the file says about how it was made (technique, calibration, optimization), and the
    sparsity of the kernels it really holds."""
    metadata = artifact.metadata
    optimization = metadata.get("optimization") or {}
    described = {"technique": metadata.get("technique", "none" if artifact.kind == "keras" else "unknown")}
    if "calibration" in metadata:
        described["calibration"] = metadata["calibration"]
    if optimization:
        described["optimization"] = optimization
    described["sparsity"] = sparsity_summary(artifact.kernels, optimization.get("pruned_layers"))
    return described  # keyword arguments of ArtifactResult
