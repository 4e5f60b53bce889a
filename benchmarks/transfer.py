"""Transfer against scratch on few labels: a backbone trained on generated shapes (64 px, 7 classes), then the
photos demo (5 shape classes photographed in camera frames) with N training images per class, trained from
scratch and from that backbone (`model.pretrained` + `train.finetune`), each over several seeds.

    python benchmarks/transfer.py --seeds 0 1 2 --per-class 20 --out /tmp/transfer

Prints one JSON line per build (float and int8 test accuracy from report.json, training seconds) and a summary.
"""

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgecnn import api  # noqa: E402
from edgecnn.data.shapes import write_photo_demo  # noqa: E402
from edgecnn.verify.latency import machine_line  # noqa: E402

PHOTO_CLASSES = ["circle", "square", "triangle", "cross", "star"]
LIGHT_VERIFY = ["verify.runs=20", "verify.threads=[1]", "verify.app_check=never", "optimize.variants=[]"]


def few_label_folder(root: Path, per_class: int, val_per_class: int, seed: int) -> Path:
    """The photos demo split by hand: `per_class` training and `val_per_class` validation images per class, the
    rest for the test."""
    demo = root / "demo"
    write_photo_demo(demo, 1000, PHOTO_CLASSES, seed)
    folder = root / "few"
    for label in PHOTO_CLASSES:
        files = sorted((demo / label).iterdir())
        parts = {"train": files[:per_class], "val": files[per_class:per_class + val_per_class],
                 "test": files[per_class + val_per_class:]}
        for split, chosen in parts.items():
            (folder / split / label).mkdir(parents=True, exist_ok=True)
            for path in chosen:
                shutil.copy(path, folder / split / label / path.name)
    return folder


def source_run(out: Path) -> Path:
    """The backbone: recipes/shapes.yaml's dscnn_m on 2,000 generated shapes, 30 epochs without early stopping (its
    first epochs' validation loss, with BatchNorm statistics still settling, stops it too soon otherwise)."""
    run = out / "source"
    api.build(Path(__file__).resolve().parents[1] / "recipes" / "shapes.yaml", out=run, show_progress=False,
              overrides=["data.shapes.count=2000", "train.epochs=30", "train.early_stopping.patience=0",
                         "export.formats=[tflite_float32]", *LIGHT_VERIFY])
    return run


def few_label_recipe(folder: Path, out: Path, seed: int, pretrained: Path | None, epochs: int) -> dict:
    recipe = {
        "name": "few_labels", "seed": seed,
        "data": {"source": "folder", "path": str(folder), "image_size": [64, 64], "channels": 3, "resize": "crop",
                 "normalization": "symmetric"},
        "model": {"name": "dscnn_m", "dropout": 0.1},
        "train": {"epochs": epochs, "batch_size": 16, "learning_rate": 3e-3,
                  "early_stopping": {"patience": 0, "monitor": "val_accuracy"},  # every epoch; the best kept
                  "augment": {"flip_horizontal": True, "rotation": 0.05, "zoom": 0.1, "translation": 0.1,
                              "brightness": 0.15, "contrast": 0.15}},
        "export": {"formats": ["tflite_float32", "tflite_int8"], "calibration": {"samples": 100, "allow_few": True}},
    }
    if pretrained is not None:
        recipe["model"]["pretrained"] = str(pretrained)
        recipe["train"]["finetune"] = {"freeze_epochs": 5, "learning_rate": 1e-3}
    path = out / f"recipe_{'transfer' if pretrained else 'scratch'}_{seed}.yaml"
    path.write_text(json.dumps(recipe))  # JSON is YAML
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--out", type=Path, default=Path("transfer"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"CPU: {machine_line()}", flush=True)
    start = time.perf_counter()
    source = source_run(args.out)
    print(json.dumps({"source": str(source), "seconds": round(time.perf_counter() - start, 1)}), flush=True)
    folder = few_label_folder(args.out, args.per_class, 10, seed=7)
    results: dict[str, list[dict]] = {"scratch": [], "transfer": []}
    for seed in args.seeds:
        for mode in ("scratch", "transfer"):
            recipe = few_label_recipe(folder, args.out, seed, source if mode == "transfer" else None, args.epochs)
            built = api.build(recipe, out=args.out / f"{mode}_{seed}", overrides=LIGHT_VERIFY, show_progress=False)
            report = built.report
            row = {"mode": mode, "seed": seed, "float": report.row("tflite_float32").accuracy,
                   "int8": report.row("tflite_int8").accuracy, "train_s": report.timings_s.train,
                   "test_images": report.data.test}
            results[mode].append(row)
            print(json.dumps(row), flush=True)
    for mode, rows in results.items():
        mean = {key: statistics.mean(row[key] for row in rows) for key in ("float", "int8", "train_s")}
        print(f"{mode}: float {mean['float']:.2%} (min {min(row['float'] for row in rows):.2%}), "
              f"int8 {mean['int8']:.2%}, train {mean['train_s']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
