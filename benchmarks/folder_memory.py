"""Peak resident memory of `edgecnn train` on a folder of 20,000 128x128 JPEGs.

Folders are streamed through tf.data (paths shuffled, files decoded batch by batch), so memory must
stay bounded however many images the folder holds. Held in memory the same images would take
20,000 x 128 x 128 x 3 = 983 MB as uint8, 3.9 GB as float32. Measured with /usr/bin/time -v.

    python benchmarks/folder_memory.py [--images 20000] [--epochs 1] [--work /tmp/edgecnn-folder-bench]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

CLASSES = ["circle", "square", "triangle", "cross", "line", "ring", "star"]
LIMIT_GIB = 1.5


def make_folder(root: Path, images: int) -> None:
    from edgecnn.data.shapes import write_shapes_folder

    if root.is_dir() and sum(1 for _ in root.rglob("*.jpg")) == images:
        print(f"reusing {root} ({images} JPEGs)")
        return
    shutil.rmtree(root, ignore_errors=True)
    start = time.perf_counter()
    write_shapes_folder(root, images, CLASSES, seed=0, sides=(128, 128), formats=("jpg",))
    print(f"wrote {images} 128x128 JPEGs to {root} in {time.perf_counter() - start:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--work", type=Path, default=Path("/tmp/edgecnn-folder-bench"))
    args = parser.parse_args()
    folder = args.work / "jpegs"
    make_folder(folder, args.images)
    recipe = {
        "name": "folder-memory", "seed": 0,
        "data": {"source": "folder", "path": str(folder), "image_size": [128, 128], "channels": 3},
        "model": {"name": "dscnn_m"},
        "train": {"epochs": args.epochs, "batch_size": args.batch_size, "early_stopping": {"patience": 0}},
    }
    recipe_path = args.work / "recipe.yaml"
    recipe_path.write_text(yaml.safe_dump(recipe))
    edgecnn = Path(sys.executable).with_name("edgecnn")
    command = ["/usr/bin/time", "-v", str(edgecnn), "train", str(recipe_path), "--out", str(args.work / "run"),
               "--quiet"]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        print(result.stderr[-3000:])
        return 1
    peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    peak_gib = peak_kib / 2**20
    print(f"edgecnn train, {args.images} images at 128x128x3, {args.epochs} epoch(s): {seconds:.0f} s wall, "
          f"peak RSS {peak_kib / 1024:.0f} MiB = {peak_gib:.2f} GiB (limit {LIMIT_GIB} GiB): "
          f"{'OK' if peak_gib < LIMIT_GIB else 'OVER'}")
    print(result.stderr.strip().splitlines()[-1] if "error" in result.stderr.lower() else "")
    return 0 if peak_gib < LIMIT_GIB else 1


if __name__ == "__main__":
    sys.exit(main())
