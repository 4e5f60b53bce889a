"""The README's GitHub Actions model gate, run as written on the install it gives: a fresh venv with the base
install only (no extras: no TensorFlow, no matplotlib). Its `run:` steps are read out of the README's YAML
block and run by bash in a checkout-like folder; only the GitHub variables are given values."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from edgecnn.data import load_dataset

REPO = Path(__file__).resolve().parents[1]


def readme_gate_steps() -> list[str]:
    """The `run:` steps of the README's model-gate workflow, in order."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"```yaml\n(name: model-gate\n.*?)```", text, re.S)
    assert block, "README: the model-gate workflow block is gone"
    steps = yaml.safe_load(block.group(1))["jobs"]["model-gate"]["steps"]
    return [step["run"] for step in steps if "run" in step]


def package_source(folder: Path) -> Path:
    """What `pip install edgecnn @ ...` builds from, copied out of this checkout (a build in place would leave
    build/ and egg-info files in the repository)."""
    for part in ("edgecnn", "cli"):
        shutil.copytree(REPO / part, folder / part, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, folder / name)
    return folder


def write_class_folders(images: np.ndarray, labels: np.ndarray, names: list[str], folder: Path) -> None:
    for i, (image, label) in enumerate(zip(images, labels)):
        target = folder / names[label]
        target.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(target / f"{i:04d}.png")


def git(checkout: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(checkout), *args], check=True, capture_output=True)


@pytest.mark.slow
def test_readme_ci_gate_runs_as_written_on_the_base_install(digits_build, tmp_path):
    # setup: the workflow's checkout: the model on main (origin/main) and the pull request's model, the team's
    # labelled test images; the requirements file the README describes, pointing at this checkout
    recipe, run_dir, _ = digits_build
    checkout, runner_temp = tmp_path / "checkout", tmp_path / "runner_temp"
    runner_temp.mkdir()
    (checkout / "models").mkdir(parents=True)
    (checkout / "models" / "model_int8.tflite").write_bytes((run_dir / "model_int8.tflite").read_bytes())
    git(checkout, "init", "-q", "-b", "main")
    git(checkout, "-c", "user.name=t", "-c", "user.email=t@t", "add", "models")
    git(checkout, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "main's model")
    git(checkout, "update-ref", "refs/remotes/origin/main", "HEAD")
    dataset = load_dataset(recipe.data, recipe.seed)
    write_class_folders(dataset.x_test, dataset.y_test, dataset.class_names, checkout / "test-images" / "test")
    (checkout / ".github").mkdir()
    source = package_source(tmp_path / "edgecnn-source")
    (checkout / ".github" / "edgecnn-requirements.txt").write_text(f"edgecnn @ file://{source}\n")
    # the runner's Python (actions/setup-python): a fresh venv, nothing installed in it yet
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    bin_dir = tmp_path / "venv" / "bin"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "RUNNER_TEMP": str(runner_temp),
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), "VIRTUAL_ENV": str(tmp_path / "venv"),
           "NO_COLOR": "1"}
    env.pop("PYTHONPATH", None)
    # execute: every run step as written (GitHub's expression for the base branch filled in)
    outcomes = []
    for step in readme_gate_steps():
        script = step.replace("${{ github.base_ref }}", "main")
        outcomes.append(subprocess.run(["bash", "-e", "-c", script], cwd=checkout, env=env, capture_output=True,
                                       text=True, timeout=1200))
    # assert: the base install really is without the extras, and every step passed
    missing = subprocess.run([bin_dir / "python", "-c", "import tensorflow"], capture_output=True)
    assert missing.returncode != 0
    assert subprocess.run([bin_dir / "python", "-c", "import matplotlib"], capture_output=True).returncode != 0
    for step, outcome in zip(readme_gate_steps(), outcomes):
        assert outcome.returncode == 0, f"{step}\n{outcome.stdout[-2000:]}\n{outcome.stderr[-2000:]}"
    report = (checkout / "verify-report" / "report.md").read_text()
    assert "Accuracy" in report or "accuracy" in report
    assert "needs matplotlib" in report or "pictures need matplotlib" in report  # the picture's absence said
    assert (checkout / "junit.xml").is_file() and (tmp_path / "summary.md").read_text() == report
