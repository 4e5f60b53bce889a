"""Batch-1 latency: a first invoke, warm-up, then timed invokes until a run count or a time budget.

Only `runner.invoke` (set the input, run) sits between the two `perf_counter_ns` reads; inputs are
real test images prepared (quantized) beforehand, so the harness adds a Python call and a clock
read per invoke (`benchmarks/latency_harness.py` measures both).
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np


def measure_latency(runner, prepared_images: np.ndarray, warmup: int = 10, runs: int = 200,
                    max_seconds: float = 5.0, macs: int | None = None) -> dict:
    """Time `runner.invoke` per call with perf_counter_ns, cycling through real test images."""
    samples = [image[None] for image in prepared_images[: max(1, min(len(prepared_images), 64))]]
    start = time.perf_counter_ns()
    runner.invoke(samples[0])
    first_ns = time.perf_counter_ns() - start
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
    return latency_stats(np.asarray(timings_ns, dtype=np.float64) / 1e6, warmup, first_ns / 1e6,
                         getattr(runner, "init_ms", None), macs)


def latency_stats(ms: np.ndarray, warmup: int, first_ms: float, init_ms: float | None, macs: int | None) -> dict:
    p50 = float(np.percentile(ms, 50))
    stats = {
        "p50": p50,
        "p90": float(np.percentile(ms, 90)),
        "p99": float(np.percentile(ms, 99)),
        "mean": float(ms.mean()),
        "std": float(ms.std()),
        "min": float(ms.min()),
        "max": float(ms.max()),
        "first_ms": first_ms,
        "init_ms": init_ms,
        "throughput_per_s": 1000.0 / float(ms.mean()),
        "gmac_per_s": macs / (p50 / 1000.0) / 1e9 if macs else None,
    }
    stats = {key: None if value is None else round(value, 6) for key, value in stats.items()}  # ms: ns precision
    return {**stats, "runs": int(len(ms)), "warmup": int(warmup)}


def machine() -> dict:
    """The CPU, cores and system latency was measured on: a latency figure means nothing without them."""
    cpu, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            lines = info.read().splitlines()
        cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), cpu)
        flags = set(next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), []))
    except OSError:
        pass
    # int8 speed hangs on these: VNNI does int8 dot products in one instruction, AVX2 needs three.
    vector = [flag for flag in ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni") if flag in flags]
    return {"cpu": cpu, "cores": os.cpu_count(), "vector_extensions": vector, "system": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}


def machine_line() -> str:
    """The machine in one line, for benchmark output: CPU, cores and vector extensions."""
    info = machine()
    return f"{info['cpu']}, {info['cores']} cores, {' '.join(info['vector_extensions']) or 'no AVX2'}"
