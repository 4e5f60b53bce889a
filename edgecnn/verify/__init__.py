"""Verify artifacts in their own runtimes: accuracy, agreement with the float model, size, latency.

Nothing here imports TensorFlow, except for the optional Keras reference row.
"""

from __future__ import annotations

import gzip
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edgecnn.data import normalize
from edgecnn.errors import VerificationError
from edgecnn.verify.classes import class_results
from edgecnn.verify.latency import measure_latency
from edgecnn.verify.runtimes import open_runner

__all__ = ["ArtifactResult", "verify_artifact", "file_sizes"]


@dataclass
class ArtifactResult:
    name: str
    path: str
    format: str
    precision: str
    runtime: str
    size_bytes: int
    gzip_bytes: int
    accuracy: float | None
    agreement: float | None
    max_abs_diff: float | None
    latency_ms: dict
    threads: int
    input_dtype: str
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        record = asdict(self)
        record.update(record.pop("extra"))
        return record


def file_sizes(path: Path) -> tuple[int, int]:
    """Bytes on disk and gzip-compressed bytes (what a download or an app bundle costs)."""
    data = Path(path).read_bytes()
    return len(data), len(gzip.compress(data, compresslevel=9, mtime=0))


def verify_artifact(
    path: Path, name: str, fmt_name: str, precision: str, images: np.ndarray | None, labels: np.ndarray | None,
    contract, reference: np.ndarray | None, settings,
) -> ArtifactResult:
    """Run one file on the test images (uint8); time it at batch 1 at each of the settings' thread counts."""
    from edgecnn.verify.macs import count_macs

    threads = settings.thread_counts()
    runner = open_runner(path, threads[0])
    if runner.input_shape != tuple(contract.shape):
        raise VerificationError(
            f"{path}: input shape {list(runner.input_shape)} does not match the data's {list(contract.shape)}"
        )
    # Normalized a chunk at a time: float32 is four times the uint8 test split.
    probabilities = np.concatenate([runner.predict(normalize(images[start : start + 256], contract))
                                    for start in range(0, len(images), 256)])
    x = normalize(images[:64], contract)  # the latency harness cycles through up to 64 real images
    accuracy = float((probabilities.argmax(1) == labels).mean()) if labels is not None else None
    per_class = class_results(probabilities, labels, contract.labels) if labels is not None else {}
    agreement = max_diff = None
    if reference is not None:
        agreement = float((probabilities.argmax(1) == reference.argmax(1)).mean())
        max_diff = float(np.abs(probabilities - reference).max())
    macs = count_macs(path)
    latencies = []
    for count in threads:
        timed = runner if count == threads[0] else open_runner(path, count)
        stats = measure_latency(timed, timed.prepare(x), settings.warmup, settings.runs, settings.max_seconds, macs)
        latencies.append({"threads": count, **stats, "runtime_settings": timed.settings})
    size, gz = file_sizes(path)
    from edgecnn.verify.readiness import check_readiness

    described = {**describe_file(path), "macs": macs, "latency": latencies, **per_class,
                 "readiness": check_readiness(path, precision)}
    return ArtifactResult(
        name, str(path), fmt_name, precision, runner.runtime, size, gz, accuracy, agreement, max_diff,
        {k: v for k, v in latencies[0].items() if k not in ("threads", "runtime_settings")}, threads[0],
        runner.input_dtype, described,
    )


def describe_file(path: Path) -> dict:
    """What the file says about how it was made (technique, calibration, optimization), and the
    sparsity of the kernels it really holds."""
    from edgecnn.export.metadata import read_metadata
    from edgecnn.verify.weights import read_kernels, sparsity_summary

    metadata = read_metadata(path) or {}
    optimization = metadata.get("optimization") or {}
    described = {"technique": metadata.get("technique", "none" if Path(path).suffix == ".keras" else "unknown")}
    if "calibration" in metadata:
        described["calibration"] = metadata["calibration"]
    if optimization:
        described["optimization"] = optimization
    described["sparsity"] = sparsity_summary(read_kernels(path), optimization.get("pruned_layers"))
    return described
