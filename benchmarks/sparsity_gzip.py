"""Where the gzip bytes of a pruned int8 TFLite file go, against the float32 file's gzip size.

    python benchmarks/sparsity_gzip.py runs/shapes/optimized/pqat_int8.tflite runs/shapes/model_float32.tflite

Prints the kernels' own gzip size (all kernels, and the pruned ones), the rest of the file, and the
ratio to the float32 file's gzip size: the kernel bytes alone bound how small the file can get.
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import numpy as np

from edgecnn.artifacts.kernels import read_kernels


def gzip_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pruned", type=Path)
    parser.add_argument("float32", type=Path)
    args = parser.parse_args()
    float_gzip = gzip_size(args.float32.read_bytes())
    pruned_file = args.pruned.read_bytes()
    kernels = read_kernels(args.pruned)
    sparse = [k for k in kernels if k.sparsity > 0.5]
    rows = [
        ("whole file", len(pruned_file), gzip_size(pruned_file)),
        ("all kernels", *_packed(kernels)),
        ("pruned kernels", *_packed(sparse)),
        ("float32 file", args.float32.stat().st_size, float_gzip),
    ]
    zeros = sum(int((k.values == 0).sum()) for k in sparse) / max(1, sum(k.values.size for k in sparse))
    print(f"pruned kernels: {len(sparse)} layers, {100 * zeros:.1f}% zeros")
    print(f"{'part':<16}{'bytes':>10}{'gzip':>10}{'gzip / float32 gzip':>22}")
    for name, size, packed in rows:
        print(f"{name:<16}{size:>10}{packed:>10}{packed / float_gzip:>21.1%}")
    print(f"one tenth of the float32 gzip: {float_gzip / 10:.0f} bytes")


def _packed(kernels) -> tuple[int, int]:
    data = b"".join(k.values.astype(np.int8 if np.issubdtype(k.values.dtype, np.integer) else k.values.dtype).tobytes()
                    for k in kernels)
    return len(data), gzip_size(data)


if __name__ == "__main__":
    main()
