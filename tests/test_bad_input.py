"""Bad input, table-driven: each case exits 2 with one line naming the culprit, no traceback, and writes
nothing. Recipe and CLI cases need no model, so the table runs in seconds."""

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from edgecnn_cli.main import app

runner = CliRunner()

ALIAS_BOMB = "name: t\na: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n" for p, n in zip("abcdefg", "bcdefgh"))

# (recipe text or bytes, extra CLI args, what the one line must contain)
RECIPES = [
    (b"name: t\n\xff\xfe\n", [], "not UTF-8 text"),
    ("name: t\nx: " + "[" * 5000 + "]" * 5000 + "\n", [], "nested deeper than 40 levels"),
    (ALIAS_BOMB, [], "expands to more than 100,000 values"),
    ("name: t\ntrain: {epochs: 2}\ntrain: {epochs: 3}\n", [], "key 'train' appears twice (line 3)"),
    ("name: t\ntrain:\n  epochs: true\n", [], "epochs: expected a number, received True"),
    ("name: t\n", ["--set", "train.epochs=true"], "epochs: expected a number, received True"),
    ("name: t\n", ["--set", "train.batch_size=no"], "batch_size: expected a number, received False"),  # YAML no
    ("name: t\ndata: {image_size: [8, 8], channels: 2}\n", [], "data.channels"),
    ("name: t\nmodle: {name: dscnn_xs}\n", [], "did you mean 'model'"),
    ("- a\n- b\n", [], "a recipe must be a mapping"),
    ("name: t\ntrain: {epochs: [1, 2\n", [], "not valid YAML (line"),
    ("name: t\n", ["--set", "train.epochs"], "expected KEY=VALUE"),
    ("name: t\n", ["--set", "x=" + "[" * 5000], "--set x"),
    ("name: t\ndata: {source: folder}\n", [], "needs data.path"),
    ("name: t\ndata: {note: " + "x" * 300 + "}\n", [], "unknown key 'data.note'"),
]


@pytest.mark.parametrize("text, args, message", RECIPES, ids=range(len(RECIPES)))
def test_bad_recipe_is_one_named_line_and_writes_nothing(tmp_path, text, args, message):
    recipe = tmp_path / "bad.yaml"
    recipe.write_bytes(text if isinstance(text, bytes) else text.encode())
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", str(recipe), "--out", str(out), "-q", *args])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and message in lines[0], result.stderr
    assert len(lines[0]) < 400 and "Traceback" not in result.output
    assert not out.exists()


# CLI values and names: Typer's usage errors as one line, with the suggestion kept.
USAGE = [
    (["verfy", "x"], "No such command 'verfy'. Did you mean 'verify'?"),
    (["verify", "--ot", "x"], "No such option: --ot"),
    (["verify"], "Missing argument"),
    (["verify", "a.tflite", "--seed", "x"], "Invalid value for '--seed'"),
    (["data", "nope"], "No such command 'nope'"),
    (["data", "demo", "f", "--count", "3"], "--count"),
    (["train"], "Missing argument"),
    (["build", "r.yaml", "--set"], "Option '--set' requires an argument"),
]


@pytest.mark.parametrize("args, message", USAGE, ids=range(len(USAGE)))
def test_usage_errors_are_one_line(tmp_path, args, message):
    result = runner.invoke(app, args)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and message in lines[0] and lines[0].startswith("error:"), \
        result.stderr


@pytest.mark.parametrize("flag_target", ["file", "under_file"])
def test_out_that_cannot_be_a_folder_is_named(tmp_path, flag_target):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: t\n")
    blocker = tmp_path / "a_file"
    blocker.write_text("keep")
    out = blocker if flag_target == "file" else blocker / "sub"
    result = runner.invoke(app, ["train", str(recipe), "--out", str(out), "-q"])
    assert result.exit_code == 2 and f"--out {out}" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert blocker.read_text() == "keep"


def test_a_second_writer_is_refused_and_a_stale_lock_taken_over(tmp_path):
    from edgecnn.errors import RecipeError
    from edgecnn.runlock import LOCK_FILE, run_lock

    folder = tmp_path / "run"
    with run_lock(folder):
        holder = (folder / LOCK_FILE).read_text()
        with pytest.raises(RecipeError, match=f"another edgecnn \\(process {holder}\\) is writing"):
            with run_lock(folder):
                pass
    assert not (folder / LOCK_FILE).exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (folder / LOCK_FILE).write_text(dead.stdout.strip())  # a process that has exited
    with run_lock(folder):
        assert (folder / LOCK_FILE).read_text() == str(os.getpid())
