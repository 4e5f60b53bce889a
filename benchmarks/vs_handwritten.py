"""`edgecnn build RECIPE` against the same job written by hand (`benchmarks/handwritten_digits.py`), interleaved.

    python benchmarks/vs_handwritten.py recipes/digits.yaml --pairs 5

Each pair runs both, one after the other, in fresh processes (TensorFlow import included), alternating which
goes first; the optimized variants are off, as the script makes no variants. Prints each pair's wall times and
ratio (edgecnn / script), both sides' accuracies and stage times, and the median ratio; exits 1 if the median
is above --target.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from edgecnn.verify.latency import machine_line
from edgecnn.verify.record import BuildReport

HERE = Path(__file__).resolve().parent


def timed(command: list[str]) -> tuple[float, dict]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    text = done.stdout.strip()
    return seconds, json.loads(text if text.startswith("{\n") else text.splitlines()[-1])  # report, or one line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--target", type=float, default=0.8, help="largest acceptable median ratio")
    args = parser.parse_args()
    edgecnn = shutil.which("edgecnn", path=os.path.dirname(sys.executable)) or "edgecnn"
    print(f"CPU: {machine_line()}")
    ratios = []
    for pair in range(args.pairs):
        with tempfile.TemporaryDirectory() as out:
            ours = [edgecnn, "build", args.recipe, "--out", f"{out}/edgecnn", "--set", "optimize.variants=[]",
                    "--json", "-q"]
            theirs = [sys.executable, str(HERE / "handwritten_digits.py"), args.recipe, "--out", f"{out}/script"]
            order = [("edgecnn", ours), ("script", theirs)]
            results = dict((name, timed(command)) for name, command in (order if pair % 2 == 0 else order[::-1]))
        (ours_s, record), (theirs_s, script) = results["edgecnn"], results["script"]
        report = BuildReport.from_dict(record)
        ratios.append(ours_s / theirs_s)
        accuracy = {row.name: round(100 * row.accuracy, 2) for row in report.artifacts}
        print(f"pair {pair + 1} ({'edgecnn' if pair % 2 == 0 else 'script'} first): edgecnn {ours_s:.1f} s, "
              f"script {theirs_s:.1f} s, ratio {ours_s / theirs_s:.2f}")
        print(f"  edgecnn stages {report.timings_s.to_dict()} accuracy % {accuracy}")
        print(f"  script parts {script['seconds']} accuracy % "
              f"{ {name: round(100 * r['accuracy'], 2) for name, r in script['files'].items()} }")
    median = statistics.median(ratios)
    print(f"median ratio {median:.2f} (range {min(ratios):.2f}-{max(ratios):.2f}, {len(ratios)} pairs); "
          f"target {args.target}: {'met' if median <= args.target else 'MISSED'}")
    return 0 if median <= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
