"""Verify artifacts in their own runtimes: accuracy, agreement with the float model, size, latency.

Nothing here imports TensorFlow, except for the optional Keras reference row.
"""

from __future__ import annotations

import gzip
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgecnn.artifacts import Artifact
from edgecnn.artifacts.kernels import sparsity_summary
from edgecnn.data import normalize
from edgecnn.errors import VerificationError
from edgecnn.verify.classes import class_results
from edgecnn.verify.latency import measure_latency
from edgecnn.verify.readiness import check_readiness

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import VerifyConfig

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
    extra: dict = field(default_factory=dict)  # per-thread latency, readiness, per-class results, sparsity, ...
    accuracy_change: float | None = None  # against the float model, once the report knows its accuracy

    def to_dict(self) -> dict:
        record = asdict(self)
        record.update(record.pop("extra"))
        return record

    @classmethod
    def from_dict(cls, row: dict) -> "ArtifactResult":
        """A report row (as report.json holds it) back as a result."""
        names = {f.name for f in fields(cls)} - {"extra"}
        return cls(**{k: row.get(k) for k in names}, extra={k: v for k, v in row.items() if k not in names})

    @property
    def app_accuracy(self) -> float | None:
        """What an app gets through MediaPipe Tasks (the lower of its two figures) when measured, else the accuracy."""
        measured = (self.extra.get("app") or {}).get("accuracy")
        return self.accuracy if measured is None else measured

    @property
    def latencies(self) -> list[dict]:
        """Latency at each thread count measured (files verified before per-thread timing: the one row)."""
        return self.extra.get("latency") or [{"threads": self.threads, **self.latency_ms}]


def file_sizes(path: Path) -> tuple[int, int]:
    """Bytes on disk and gzip-compressed bytes (what a download or an app bundle costs)."""
    data = Path(path).read_bytes()
    return len(data), len(gzip.compress(data, compresslevel=9, mtime=0))


def verify_artifact(artifact: Artifact, name: str, fmt_name: str, images: np.ndarray | None,
                    labels: np.ndarray | None, contract, reference: np.ndarray | None, settings: VerifyConfig,
                    precision: str | None = None) -> ArtifactResult:
    """Run one file on the test images (uint8); time it at batch 1 at each of the settings' thread counts."""
    threads = settings.thread_counts()
    runner = artifact.runner(threads[0])
    if runner.input_shape != tuple(contract.shape):
        raise VerificationError(
            f"{artifact.path}: input shape {list(runner.input_shape)} does not match the data's {list(contract.shape)}"
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
    latencies = []
    for count in threads:
        timed = artifact.runner(count)
        stats = measure_latency(timed, timed.prepare(x), settings.warmup, settings.runs, settings.max_seconds,
                                artifact.macs)
        latencies.append({"threads": count, **stats, "runtime_settings": timed.settings})
    size, gz = file_sizes(artifact.path)
    precision = precision or artifact.precision
    described = {**describe_file(artifact), "macs": artifact.macs, "latency": latencies, **per_class,
                 "readiness": check_readiness(artifact, precision, settings.gpu_check)}
    return ArtifactResult(
        name, str(artifact.path), fmt_name, precision, runner.runtime, size, gz, accuracy, agreement, max_diff,
        {k: v for k, v in latencies[0].items() if k not in ("threads", "runtime_settings")}, threads[0],
        runner.input_dtype, described,
    )


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
    return described
