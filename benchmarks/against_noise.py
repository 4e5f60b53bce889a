"""Does `edgecnn verify NEW --against OLD` flap? Run it N times and print each verdict.

    python benchmarks/against_noise.py runs/digits/model_float32.tflite runs/digits/model_float32.tflite --times 10
    python benchmarks/against_noise.py runs/big/model_float32.tflite runs/digits/model_float32.tflite --times 10

Run it while something else loads the machine (a build beside it) to see the gate under noise: the
same file against itself must never fail, a slower file must fail every time. Exits 1 otherwise
when --expect is given.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("new")
    parser.add_argument("old")
    parser.add_argument("--times", type=int, default=10)
    parser.add_argument("--max-slowdown", default="5%")
    parser.add_argument("--expect", choices=["pass", "fail"], help="exit 1 unless every run passes or every run fails")
    args = parser.parse_args()
    edgecnn = shutil.which("edgecnn", path=os.path.dirname(sys.executable)) or "edgecnn"
    codes = []
    print("run  exit  ratio   95% interval    rounds  verdict         seconds")
    for run in range(1, args.times + 1):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            done = subprocess.run([edgecnn, "verify", args.new, "--against", args.old, "--max-slowdown",
                                   args.max_slowdown, "--set", "verify.runs=20", "--json", "-q", "--out", out],
                                  capture_output=True, text=True)
            seconds = time.perf_counter() - start
        if done.returncode not in (0, 1):
            print(done.stderr.strip())
            return 2
        record = json.loads(done.stdout)["against"]["comparisons"][0]
        codes.append(done.returncode)
        low, high = record["ci95"]
        print(f"{run:>3}  {done.returncode:>4}  {record['ratio']:.3f}  {low:.3f}-{high:.3f}  {record['rounds']:>6}  "
              f"{record['verdict']:<14}  {seconds:.1f}")
    failed = sum(code == 1 for code in codes)
    print(f"{failed} of {len(codes)} runs failed the gate")
    if args.expect == "pass" and failed or args.expect == "fail" and failed != len(codes):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
