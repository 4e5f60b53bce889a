"""Batch-1 latency: warm-up, then timed invokes until a run count or a time budget is reached."""

from __future__ import annotations

import time

import numpy as np


def measure_latency(runner, prepared_images: np.ndarray, warmup: int = 10, runs: int = 200,
                    max_seconds: float = 5.0) -> dict:
    """Time `runner.invoke` per call with perf_counter_ns, cycling through real test images."""
    samples = [image[None] for image in prepared_images[: max(1, min(len(prepared_images), 64))]]
    for i in range(warmup):
        runner.invoke(samples[i % len(samples)])
    timings_ns = []
    deadline = time.perf_counter_ns() + int(max_seconds * 1e9)
    for i in range(runs):
        sample = samples[i % len(samples)]
        start = time.perf_counter_ns()
        runner.invoke(sample)
        end = time.perf_counter_ns()
        timings_ns.append(end - start)
        if end > deadline:
            break
    ms = np.asarray(timings_ns, dtype=np.float64) / 1e6
    return {
        "p50": round(float(np.percentile(ms, 50)), 4),
        "p90": round(float(np.percentile(ms, 90)), 4),
        "mean": round(float(ms.mean()), 4),
        "min": round(float(ms.min()), 4),
        "runs": int(len(ms)),
        "warmup": int(warmup),
    }
