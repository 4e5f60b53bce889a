"""What a rebuild costs: `edgecnn build RECIPE` in a fresh folder, then the same build again, then with only
a budget changed, then with one more optimized variant; and, through a shared cache, a second run folder
whose recipe differs only in its budgets. Each is a fresh process (TensorFlow import included), as a user
runs it. Prints each case's wall time, its ratio to the full build, and the stage lines the build printed.

    python benchmarks/rebuild_time.py recipes/digits.yaml --budget verify.budgets.max_accuracy_drop=0.01 \\
        --variant ptq_int8 --rounds 2

Exits 1 if an unchanged or budget-only rebuild takes more than 0.1x the full build, or the new variant trains.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

from edgecnn.verify.record import BuildReport


def build(edgecnn: str, recipe: str, out: str, extra: list[str]) -> tuple[float, dict, str]:
    start = time.perf_counter()
    done = subprocess.run([edgecnn, "build", recipe, "--out", out, "--json", *extra], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"})
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        sys.exit(f"build failed ({done.returncode}): {done.stderr[-2000:]}")
    lines = [line for line in done.stderr.splitlines() if re.match(r"(run|reused|cached) +\S", line)]
    return seconds, BuildReport.from_json(done.stdout), "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe")
    parser.add_argument("--budget", default="verify.budgets.max_accuracy_drop=0.01", help="the one budget changed")
    parser.add_argument("--variant", default="ptq_int8", help="the optimized variant added")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    edgecnn = shutil.which("edgecnn", path=os.path.dirname(sys.executable)) or "edgecnn"
    variants = (yaml.safe_load(open(args.recipe)).get("optimize") or {}).get("variants") or []
    more = f"optimize.variants=[{','.join([*variants, args.variant])}]"
    cases = [("full build", []), ("unchanged", []), ("budget only", ["--set", args.budget]),
             ("new variant", ["--set", args.budget, "--set", more])]
    times: dict[str, list[float]] = {name: [] for name, _ in cases + [("cache, second folder", [])]}
    failed = False
    for round_number in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            out, cache = os.path.join(tmp, "run"), os.path.join(tmp, "cache")
            for name, extra in cases:
                seconds, report, lines = build(edgecnn, args.recipe, out, [*extra, "--cache", cache])
                times[name].append(seconds)
                trained = any(s.stage == "train" and s.action == "run" for s in report.stages)
                print(f"\nround {round_number + 1}, {name}: {seconds:.1f} s wall, trained: {trained}\n{lines}")
                failed |= name == "new variant" and trained
            seconds, report, lines = build(edgecnn, args.recipe, os.path.join(tmp, "second"),
                                           ["--set", args.budget, "--cache", cache])
            times["cache, second folder"].append(seconds)
            print(f"\nround {round_number + 1}, cache, second folder: {seconds:.1f} s wall\n{lines}")
    full = statistics.median(times["full build"])
    print("\ncase                   median s   x full build")
    for name, values in times.items():
        ratio = statistics.median(values) / full
        print(f"{name:<22} {statistics.median(values):8.1f}   {ratio:6.3f}")
        failed |= name in ("unchanged", "budget only") and ratio > 0.1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
