"""Eight builds at once sharing one `--cache`: four of different recipes and four of the same one, each into
its own folder. Every build exits 0, every cache entry afterwards matches its recorded hashes, and each run
folder's files equal those of the same recipe built alone."""

import json
import os
import subprocess
import sys
import time

import pytest
import yaml

from edgecnn.fileio import file_sha256
from edgecnn.incremental.build import build
from edgecnn.incremental.cache import ENTRY_FILE, FILES_DIR, StageCache
from edgecnn.recipe import validate_recipe
from tests.conftest import TINY_RECIPE

pytestmark = pytest.mark.slow

# Files a build makes from its inputs alone (no clock, no machine): the same recipe gives the same bytes.
REPRODUCIBLE = ("model.keras", "model_float32.tflite", "model_int8.tflite", "model_float32.onnx", "labels.txt",
                "splits.csv", "recipe.yaml", "reference.npz", "history.json")


def recipe_for(seed: int) -> dict:
    return {**TINY_RECIPE, "seed": seed, "verify": {**TINY_RECIPE["verify"], "runs": 5}}


def test_eight_builds_at_once_share_one_cache_safely(tmp_path):
    # setup: seeds 3 (four times), 4, 5, 6 and 7
    seeds = [3, 3, 3, 3, 4, 5, 6, 7]
    cache = tmp_path / "cache"
    env = {**os.environ, "NO_COLOR": "1"}
    builds = []
    for i, seed in enumerate(seeds):
        path = tmp_path / f"recipe{i}.yaml"
        path.write_text(yaml.safe_dump(recipe_for(seed)))
        builds.append(subprocess.Popen([sys.executable, "-m", "edgecnn", "build", str(path), "--out",
                                        str(tmp_path / f"run{i}"), "--cache", str(cache), "-q"], env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    # execute: all eight at once
    started = time.perf_counter()
    results = [(b.wait(timeout=1200), b.stderr.read()) for b in builds]
    wall = time.perf_counter() - started
    # assert: every build exits 0
    assert [code for code, _ in results] == [0] * len(seeds), [err[-500:] for _, err in results]
    # every cache entry is whole: each file matches the size and hash its entry records
    entries = StageCache(cache).entries()
    assert entries
    for entry in entries:
        record = json.loads((entry.folder / ENTRY_FILE).read_text())
        for name, expected in record["outputs"].items():
            assert file_sha256(entry.folder / FILES_DIR / name) == expected["sha256"], (entry.folder, name)
    print(f"8 builds in {wall:.0f} s, exit codes {[code for code, _ in results]}, {len(entries)} cache entries intact")
    # the run folders' files equal a lone build's of the same recipe (no cache), byte for byte
    alone = {}
    for seed in sorted(set(seeds)):
        alone[seed] = tmp_path / f"alone{seed}"
        build(validate_recipe(recipe_for(seed)), alone[seed], show_progress=False)
    for i, seed in enumerate(seeds):
        for name in REPRODUCIBLE:
            if name == "recipe.yaml":  # names the recipe's own file path; compare the settings
                assert (yaml.safe_load((tmp_path / f"run{i}" / name).read_text()) ==
                        yaml.safe_load((alone[seed] / name).read_text())), i
                continue
            assert file_sha256(tmp_path / f"run{i}" / name) == file_sha256(alone[seed] / name), (i, name)
