"""Multiply-accumulates per batch-1 inference, counted from the file itself (no TensorFlow).

Conventional counts: a k x k convolution over an H x W output costs k*k*Cin*Cout*H*W, a depthwise
one k*k*C*H*W, a dense layer Cin*Cout. Used for achieved GMAC/s in the latency report.
"""

from __future__ import annotations

from pathlib import Path


def count_macs(path: str | Path) -> int | None:
    """Total MACs of a `.tflite` or `.onnx` file, from the same per-layer count `edgecnn inspect` shows."""
    from edgecnn.anatomy.layers import read_layers, totals

    path = Path(path)
    if path.suffix not in (".tflite", ".onnx"):
        return None
    try:
        return totals(read_layers(path))["macs"]
    except Exception:  # a file we cannot analyse still gets latency, just no GMAC/s
        return None
