"""`edgecnn data inspect` and every bad-data case: one line naming the file or key, exit code 2."""

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from edgecnn.data.shapes import write_shapes_folder
from edgecnn_cli.main import app

runner = CliRunner()


def inspect(*args):
    return runner.invoke(app, ["data", "inspect", *map(str, args)])


@pytest.fixture
def photos(tmp_path):
    root = tmp_path / "photos"
    write_shapes_folder(root, 60, ["circle", "cross", "line"], seed=0, sides=(20, 40))
    return root


def test_inspect_counts_sizes_modes_and_contact_sheet(photos, tmp_path):
    # setup: one class made small, so the imbalance warning shows
    for path in sorted((photos / "line").iterdir())[:14]:
        path.unlink()
    # execute
    result = inspect(photos, "--out", tmp_path / "look", "--per-class", 4, "--json")
    # assert
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [(c["name"], c["images"]) for c in summary["classes"]] == [("circle", 20), ("cross", 20), ("line", 6)]
    assert 20 <= summary["image_sizes"]["width"]["min"] <= summary["image_sizes"]["width"]["max"] <= 40
    assert summary["modes"] == {"RGB": 46}
    assert "class imbalance: 'line' has 6 images, 'circle' 20" in summary["warnings"][0]
    sheet = Image.open(tmp_path / "look" / "contact_sheet.png")
    assert sheet.height >= 3 * 64 and sheet.width >= 4 * 64
    assert json.loads((tmp_path / "look" / "summary.json").read_text())["images"] == 46


def test_inspect_built_in_and_per_split_counts(tmp_path):
    for split in ("train", "test"):
        write_shapes_folder(tmp_path / "set" / split, 12 if split == "train" else 6, ["ring", "star"], seed=2)
    result = inspect(tmp_path / "set", "--out", tmp_path / "look", "--json")
    rows = json.loads(result.stdout)["classes"]
    assert rows[0]["splits"] == {"train": 6, "val": 0, "test": 3}
    digits = json.loads(inspect("digits", "--out", tmp_path / "d", "--json").stdout)
    assert digits["images"] == 1797 and digits["image_sizes"]["most_common"][0]["width"] == 8


def _corrupt_jpeg(photos):
    victim = next(p for p in sorted((photos / "cross").iterdir()) if p.suffix == ".jpg")
    victim.write_bytes(victim.read_bytes()[:200])  # truncated mid-scan
    return victim


def _text_as_png(photos):
    victim = photos / "circle" / "notes.png"
    victim.write_text("this is not a picture")
    return victim


def _empty_class(photos):
    (photos / "triangle").mkdir()
    return photos / "triangle"


def _single_class(photos):
    for folder in ("cross", "line"):
        for path in (photos / folder).iterdir():
            path.unlink()
        (photos / folder).rmdir()
    return photos


@pytest.mark.parametrize("make_bad, message", [
    (_corrupt_jpeg, "corrupt image data"),
    (_text_as_png, "not an image Pillow can decode"),
    (_empty_class, "empty class folder"),
    (_single_class, "needs at least 2 classes with images, found 1 (circle)"),
])
def test_bad_folder_exits_2_naming_the_file(photos, tmp_path, make_bad, message):
    culprit = make_bad(photos)
    result = inspect(photos, "--out", tmp_path / "look")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and message in result.output and str(culprit) in result.output
    assert not (tmp_path / "look").exists()  # nothing written


def test_skip_bad_files_counts_and_lists_them(photos, tmp_path):
    corrupt, text = _corrupt_jpeg(photos), _text_as_png(photos)
    result = inspect(photos, "--out", tmp_path / "look", "--skip-bad-files", "--json")
    assert result.exit_code == 0, result.output
    skipped = json.loads(result.stdout)["skipped"]
    assert skipped["count"] == 2 and {f["path"] for f in skipped["files"]} == {str(corrupt), str(text)}


def _write_list(photos, rows):
    path = photos / "labels.csv"
    path.write_text("path,label\n" + "".join(f"{p},{lab}\n" for p, lab in rows))
    return path


def test_list_label_outside_class_list_and_missing_path(photos, tmp_path):
    good = [(str(p.relative_to(photos)), p.parent.name) for p in sorted(photos.rglob("*.*"))]
    bad_label = _write_list(photos, [*good, (good[0][0], "hexagon")])
    result = inspect(bad_label, "--set", "data.classes=[circle,cross,line]", "--out", tmp_path / "a")
    assert result.exit_code == 2
    assert f"{bad_label} line {len(good) + 2}: label 'hexagon' is not in the class list" in result.output
    missing = _write_list(photos, [*good, ("circle/gone.png", "circle")])
    result = inspect(missing, "--out", tmp_path / "b")
    assert result.exit_code == 2 and "circle/gone.png: file not found" in result.output


def test_unreadable_paths_name_themselves(tmp_path):
    result = inspect(tmp_path / "nowhere", "--out", tmp_path / "a")
    assert result.exit_code == 2 and f"{tmp_path / 'nowhere'}: no such file or folder" in result.output
    result = inspect(tmp_path / "nowhere.npz", "--out", tmp_path / "a")
    assert result.exit_code == 2 and "nowhere.npz" in result.output


@pytest.mark.parametrize("arrays, message", [
    ({"x_train": np.zeros((10, 8, 8), np.uint8), "y_train": np.zeros(9, int)},
     "x_train has 10 images but y_train has 9 labels"),
    ({"x_train": np.zeros((10, 8), np.uint8), "y_train": np.zeros(10, int)}, "x_train has shape [10, 8]"),
    ({"x_train": np.zeros((10, 8, 8), np.uint8), "y_train": np.zeros(10, int), "x_test": np.zeros((4, 9, 9)),
      "y_test": np.zeros(4, int)}, "image shapes differ between splits"),
    ({"x_train": np.zeros((10, 8, 8), np.uint8)}, "missing array 'y_train'"),
    ({"x_train": np.zeros((10, 8, 8), np.uint8), "y_train": np.full(10, 12)}, "label 12"),
])
def test_bad_npz_exits_2_naming_the_key(tmp_path, arrays, message):
    arrays = {"x_test": np.zeros((4, 8, 8), np.uint8), "y_test": np.zeros(4, int), **arrays}
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    result = inspect(path, "--set", "data.classes=[a,b,c]", "--out", tmp_path / "a")
    assert result.exit_code == 2 and message in result.output and str(path) in result.output


def test_train_on_bad_folder_exits_2_before_writing(photos, tmp_path):
    _text_as_png(photos)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: r\ndata: {{source: folder, path: {photos}, image_size: [16, 16]}}\n")
    result = runner.invoke(app, ["train", str(recipe), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "notes.png: not an image" in result.output
    assert not (tmp_path / "run").exists()


def test_demo_writes_a_mixed_folder_and_refuses_a_full_one(tmp_path):
    result = runner.invoke(app, ["data", "demo", str(tmp_path / "photos"), "--count", "25"])
    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "photos").rglob("*.*"))
    assert len(files) == 25 and {f.suffix for f in files} == {".png", ".jpg"}
    assert len({Image.open(f).size for f in files}) > 5  # mixed sizes
    # camera-shaped frames, the subject framed in the centre square: what a crop recipe keeps holds all of it
    aspects = {round(max(Image.open(f).size) / min(Image.open(f).size), 1) for f in files}
    assert aspects == {1.0, 1.3, 1.8}  # 1:1, 4:3, 16:9 (rounded to whole pixels)
    for f in files:
        pixels = np.asarray(Image.open(f).convert("RGB")).astype(int)
        height, width = pixels.shape[:2]
        side = min(height, width)
        inside = np.zeros((height, width), bool)
        inside[(height - side) // 2:(height + side) // 2, (width - side) // 2:(width + side) // 2] = True
        outside = pixels[~inside]
        if len(outside):
            far = np.abs(outside - np.median(outside, axis=0)).max(axis=1) > 80  # 6 noise deviations
            assert far.mean() < 0.01, f
    again = runner.invoke(app, ["data", "demo", str(tmp_path / "photos")])
    assert again.exit_code == 2 and "exists and is not empty" in again.output


@pytest.mark.parametrize("command", ["inspect", "demo"])
def test_data_commands_have_examples(command):
    result = runner.invoke(app, ["data", command, "--help"])
    assert result.exit_code == 0 and "Example: edgecnn" in result.output


def test_cli_caps_malloc_arenas_unless_the_environment_says(monkeypatch):
    import sys

    from edgecnn.memory import cap_malloc_arenas

    assert cap_malloc_arenas() is sys.platform.startswith("linux")
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert cap_malloc_arenas() is False


@pytest.mark.build
def test_train_data_option_replaces_the_recipe_source(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, size=(60, 8, 8), dtype=np.uint8), np.arange(60) % 2
    np.savez(tmp_path / "pairs.npz", x_train=x[:40], y_train=y[:40], x_test=x[40:], y_test=y[40:])
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: r\ndata: {source: shapes, image_size: [8, 8]}\nmodel: {name: dscnn_tiny}\n"
                      "train: {epochs: 1}\n")
    result = runner.invoke(app, ["train", str(recipe), "--data", str(tmp_path / "pairs.npz"), "--out",
                                 str(tmp_path / "run"), "--quiet"])
    assert result.exit_code == 0, result.output
    saved = (tmp_path / "run" / "recipe.yaml").read_text()
    assert "source: npz" in saved and str(tmp_path / "pairs.npz") in saved
    missing = runner.invoke(app, ["train", str(recipe), "--data", str(tmp_path / "none.npz")])
    assert missing.exit_code == 2 and "none.npz: .npz file not found" in missing.output
