"""Wall time of `edgecnn build RECIPE` as a user runs it (a fresh process, TensorFlow import included).

    python benchmarks/build_time.py recipes/digits.yaml --repeats 2 --target 90

Prints each run's wall time and the report's accuracies; exits 1 if the best run misses --target.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from edgecnn.verify.record import BuildReport


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--target", type=float, default=90.0, help="seconds the best run must stay under")
    args = parser.parse_args()
    edgecnn = shutil.which("edgecnn", path=os.path.dirname(sys.executable)) or "edgecnn"
    best = float("inf")
    for run in range(args.repeats):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            done = subprocess.run([edgecnn, "build", args.recipe, "--out", out, "--json", "-q"],
                                  capture_output=True, text=True)
            seconds = time.perf_counter() - start
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return 2
            report = BuildReport.from_json(done.stdout)
        best = min(best, seconds)
        accuracies = {row.name: round(100 * row.accuracy, 2) for row in report.artifacts}
        print(f"run {run + 1}: {seconds:.1f} s wall (stages {report.timings_s.to_dict()}) accuracy % {accuracies}")
    print(f"best {best:.1f} s; target {args.target:.0f} s: {'met' if best <= args.target else 'MISSED'}")
    return 0 if best <= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
