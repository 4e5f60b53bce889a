"""A small student alone against the same student distilled from a larger teacher (`train.distill`), on digits,
over several seeds: recipes/digits.yaml's dscnn_s is the teacher, dscnn_xs at half width (--student, --width) the
student.

    python benchmarks/distill.py --seeds 0 1 2 --out /tmp/distill

Prints one JSON line per build (float and int8 test accuracy from report.json, parameters, training seconds) and a
summary.
"""

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgecnn import api  # noqa: E402
from edgecnn.verify.latency import machine_line  # noqa: E402

DIGITS = Path(__file__).resolve().parents[1] / "recipes" / "digits.yaml"
LIGHT = ["verify.runs=20", "verify.threads=[1]", "verify.app_check=never", "optimize.variants=[]",
         "export.formats=[tflite_float32,tflite_int8]"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--temperature", type=float, default=4.0)
    parser.add_argument("--alpha", type=float, default=0.5, help="weight of the labels' loss")
    parser.add_argument("--student", default="dscnn_xs")
    parser.add_argument("--width", type=float, default=0.5, help="the student's model.alpha")
    parser.add_argument("--out", type=Path, default=Path("distill"))
    args = parser.parse_args()
    print(f"CPU: {machine_line()}", flush=True)
    teacher = api.build(DIGITS, out=args.out / "teacher", overrides=LIGHT, show_progress=False)
    print(json.dumps({"teacher": "dscnn_s", "float": teacher.report.row("tflite_float32").accuracy}), flush=True)
    results: dict[str, list[dict]] = {"alone": [], "distilled": []}
    for seed in args.seeds:
        for mode in results:
            distill = ([f"train.distill.teacher={args.out / 'teacher'}",
                        f"train.distill.temperature={args.temperature}", f"train.distill.alpha={args.alpha}"]
                       if mode == "distilled" else [])
            built = api.build(DIGITS, out=args.out / f"{mode}_{seed}", show_progress=False,
                              overrides=[f"seed={seed}", f"model.name={args.student}", f"model.alpha={args.width}",
                                         *distill, *LIGHT])
            report = built.report
            row = {"mode": mode, "seed": seed, "float": report.row("tflite_float32").accuracy,
                   "int8": report.row("tflite_int8").accuracy, "train_s": report.timings_s.train,
                   "params": report.anatomy.totals.params if report.anatomy else None}
            results[mode].append(row)
            print(json.dumps(row), flush=True)
    for mode, rows in results.items():
        each = ", ".join(f"{row['float']:.2%}" for row in rows)
        mean = {key: statistics.mean(row[key] for row in rows) for key in ("float", "int8", "train_s")}
        print(f"{mode}: float {mean['float']:.2%} ({each}), int8 {mean['int8']:.2%}, train {mean['train_s']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
