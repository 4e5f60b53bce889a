"""A build stopped from outside: Ctrl-C (SIGINT) and SIGTERM at four moments (training, export, optimize,
verify), and writes that fail for want of space (RLIMIT_FSIZE, the file size limit). Each time: the exit code
(130, 143, 2), one line, no half-written file, scratch folder or held lock left, a manifest that records only
stages whose files landed; and the next build reuses every finished stage."""

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from edgecnn.fileio import file_sha256
from edgecnn.runlock import SCRATCH_DIR, run_lock
from tests.conftest import TINY_RECIPE

pytestmark = pytest.mark.slow

RECIPE = {**TINY_RECIPE, "train": {**TINY_RECIPE["train"], "epochs": 6}, "optimize": {"variants": ["ptq_dynamic"]}}


def start_build(recipe: Path, out: Path, **popen) -> subprocess.Popen:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "edgecnn", "build", str(recipe), "--out", str(out)], env=env,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, **popen)


def stop_at(build: subprocess.Popen, marker: str, signum: int) -> tuple[int, list[str]]:
    """Send `signum` once a line starting with `marker` appears on stderr; the exit code and every line."""
    lines = []
    for line in build.stderr:
        lines.append(line.rstrip("\n"))
        if line.startswith(marker):
            build.send_signal(signum)
            break
    lines += build.stderr.read().splitlines()
    return build.wait(timeout=300), lines


def assert_nothing_half_done(out: Path) -> dict:
    """No temporary file or scratch folder, the lock free, and every stage in the manifest with its files intact;
    the manifest's stages."""
    leftovers = [p for p in out.rglob(".*.tmp*")] + [p for p in out.rglob(SCRATCH_DIR)]
    assert not leftovers, leftovers
    with run_lock(out):  # a held lock would be refused here
        pass
    stages = json.loads((out / "manifest.json").read_text())["stages"] if (out / "manifest.json").exists() else {}
    for stage, entry in stages.items():
        for name, record in entry["outputs"].items():
            assert file_sha256(out / name) == record["sha256"], (stage, name)
    return stages


def test_interrupts_at_four_moments_leave_nothing_and_the_rerun_reuses_what_finished(tmp_path):
    # setup
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(yaml.safe_dump(RECIPE))
    out = tmp_path / "run"
    moments = [("epoch 2/", signal.SIGINT, 130), ("run    export:", signal.SIGTERM, 143),
               ("run    optimize:", signal.SIGINT, 130), ("run    verify:", signal.SIGTERM, 143)]
    finished: set[str] = set()
    for marker, signum, expected in moments:
        # execute
        code, lines = stop_at(start_build(recipe, out), marker, signum)
        # assert: the exit code and one line; stages that finished before are reused, not redone
        assert code == expected, (marker, code, lines[-5:])
        assert lines[-1].startswith("interrupted (") and not any("Traceback" in line for line in lines), lines[-5:]
        reran = {line.split()[1] for line in lines if line.startswith("run ")}
        assert not (reran & finished), (marker, reran & finished)
        finished = set(assert_nothing_half_done(out)) - {"report"}
    done = subprocess.run([sys.executable, "-m", "edgecnn", "build", str(recipe), "--out", str(out), "--json", "-q"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    decisions = {d["stage"]: d["action"] for d in json.loads(done.stdout)["stages"]}
    assert {"data", "train", "export:tflite_float32"} <= finished
    assert all(decisions[stage] == "reused" for stage in finished), decisions


def _limit_file_size(limit: int):
    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing
    return apply


def test_a_write_past_the_file_size_limit_is_one_named_line_and_leaves_no_half_file(tmp_path):
    # setup: model.keras of the tiny model is about 135 kB; the data stage's files are smaller than the limit
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(yaml.safe_dump(RECIPE))
    out = tmp_path / "run"
    # execute
    started = time.perf_counter()
    build = start_build(recipe, out, preexec_fn=_limit_file_size(100_000))
    _, errors = build.communicate(timeout=600)
    # assert: one line naming the file and the limit, nothing half-written, the manifest without the train stage
    lines = errors.strip().splitlines()
    assert build.returncode == 2, errors[-2000:]
    assert lines[-1].startswith("error: ") and "model.keras" in lines[-1] and "ulimit -f: 100,000 bytes" in lines[-1]
    assert "Traceback" not in errors
    stages = assert_nothing_half_done(out)
    assert "data" in stages and "train" not in stages and not (out / "model.keras").exists()
    # the rerun with room reuses the data stage
    done = subprocess.run([sys.executable, "-m", "edgecnn", "build", str(recipe), "--out", str(out), "--json", "-q"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    decisions = {d["stage"]: d["action"] for d in json.loads(done.stdout)["stages"]}
    assert decisions["data"] == "reused" and decisions["train"] == "run"
    print(f"file-size-limit build stopped after {time.perf_counter() - started:.1f} s")
