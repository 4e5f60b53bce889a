"""Bad input, table-driven: each case exits 2 with one line naming the culprit, no traceback, and writes
nothing. Recipe and CLI cases need no model, so the table runs in seconds."""

from pathlib import Path
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
    ("name: 'bad name!'\n", [], "key 'name'"),
    ("name: t\nseed: -1\n", [], "key 'seed'"),
    ("name: t\ndata: {image_size: [2, 2]}\n", [], "image_size sides must be in [4, 1024]"),
    ("name: t\ndata: {source: mnist2}\n", [], "key 'data.source'"),
    ("name: t\nmodel: {name: nope}\n", [], "nope"),
    ("name: t\ntrain: {learning_rate: -1}\n", [], "key 'train.learning_rate'"),
    ("name: t\nexport: {formats: [tflite_int4]}\n", [], "tflite_int4"),
    ("name: t\noptimize: {variants: [magic]}\n", [], "magic"),
    ("name: t\ndata: {normalization: mean_std}\n", [], "normalization mean_std needs data.mean and data.std"),
    ("name: t\ndata: {mean: [1]}\n", [], "apply only to normalization mean_std"),
    ("name: t\ndata: {split: {test: 0.9}}\n", [], "key 'data.split.test'"),
    ("", [], "a recipe must be a mapping"),
    ("name: t\ndata: {source: digits, path: x}\n", [], "data.path is not used by the built-in source digits"),
    ("!!python/object/apply:os.system ['echo hi']\n", [], "not valid YAML"),
    ("name: t\ntrain: {epochs: 1.5}\n", [], "key 'train.epochs'"),
    ("name: t\ntrain: {batch_size: 0}\n", [], "key 'train.batch_size'"),
    ("name: t\nmodel: {alpha: 0}\n", [], "key 'model.alpha'"),
    ("name: t\nverify: {budgets: {min_accuracy: 2}}\n", [], "key 'verify.budgets.min_accuracy'"),
    ("name: t\nunknown: 1\n", [], "unknown key 'unknown'"),
    ("name: t\ndata: {image_size: 16}\n", [], "key 'data.image_size'"),
    ("name: t\n", ["--set", "data.image_size=[16,16,16]"], "key 'data.image_size'"),
    ("name: t\n", ["--set", "nope.key=1"], "unknown key 'nope'"),
    ("name: t\n", ["--set", "name=a/b"], "key 'name'"),
    ("name: t\ntrain: {epochs: 3}\n", ["--set", "train.epochs.x=1"], "--set train.epochs.x"),
    ("name: t\nverify: {warmup: false}\n", [], "warmup: expected a number, received False"),
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
    (["verify", "x.tflite", "--max-p50-ms", "abc"], "Invalid value for '--max-p50-ms'"),
    (["predict"], "Missing argument"),
    (["models", "--nope"], "No such option: --nope"),
    (["handoff"], "Missing argument"),
    (["inspect"], "Missing argument"),
    (["verify", "a.tflite", "--tolerance", "ten"], "--tolerance 'ten': expected a percentage"),
    (["verify", "a.tflite", "--max-slowdown", "x"], "--max-slowdown 'x': expected a percentage"),
    (["verify", "a.tflite", "--normalization", "zscore"], "'--normalization': Value error, 'zscore' is not one of 'unit', 'symmetric'"),
    (["data", "demo", "f", "--count", "x"], "Invalid value for '--count'"),
    (["build", "missing.yaml"], "missing.yaml: recipe file not found"),
    (["verify", "a.tflite", "--against", "b.tflite", "--against", "c.tflite"], "give one OLD file per NEW file"),
    (["verify", "a.bin"], "a.bin: expected a .tflite, .onnx or .ort file"),
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


def test_a_second_writer_is_refused_and_a_killed_writers_lock_is_free(tmp_path):
    # setup: another process takes the run folder's lock and holds it
    from edgecnn.errors import RecipeError
    from edgecnn.runlock import run_lock

    folder = tmp_path / "run"
    folder.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom edgecnn.runlock import run_lock\n"
                               f"with run_lock({str(folder)!r}):\n    print('held', flush=True)\n    time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        # execute, assert: refused, naming the holder's process
        with pytest.raises(RecipeError, match=f"another edgecnn \\(process {holder.pid}\\) is writing"):
            with run_lock(folder):
                pass
    finally:
        holder.kill()  # SIGKILL: no cleanup of its own; the kernel frees the lock
        holder.wait()
    with run_lock(folder):
        assert (folder / ".edgecnn-tmp").is_dir()


def test_a_failed_first_write_leaves_no_folders_behind(tmp_path):
    from edgecnn.runlock import run_lock

    with pytest.raises(RuntimeError):
        with run_lock(tmp_path / "runs" / "digits"):
            raise RuntimeError("bad image")
    assert list(tmp_path.iterdir()) == []  # neither runs/digits nor runs/


def test_leftovers_of_a_killed_writer_go_when_the_next_one_starts(tmp_path):
    import tempfile

    from edgecnn.runlock import LOCK_FILE, SCRATCH_DIR, run_lock

    folder = tmp_path / "run"
    (folder / SCRATCH_DIR / "edgecnn-savedmodel-x").mkdir(parents=True)
    (folder / ".model.keras.abc123.tmp.keras").write_text("half")
    (folder / "optimized").mkdir()
    (folder / "optimized" / ".qat_int8.tflite.x1.tmp.tflite").write_text("half")
    (folder / "model.keras").write_text("kept")
    with run_lock(folder):
        assert Path(tempfile.gettempdir()) == folder / SCRATCH_DIR  # converters' temp files land here
        assert not (folder / ".model.keras.abc123.tmp.keras").exists()
        assert not list((folder / "optimized").iterdir())
    # the lock's file stays (removing a flock'ed file would race its next taker), empty of locks once released
    assert sorted(p.name for p in folder.iterdir()) == [LOCK_FILE, "model.keras", "optimized"]
    assert Path(tempfile.gettempdir()) != folder / SCRATCH_DIR


def model_files(tmp_path):
    """Broken model files of every kind a user hands over by mistake."""
    files = {"empty.tflite": b"", "empty.onnx": b"", "random.tflite": bytes(range(256)) * 8,
             "random.onnx": b"\x0a\xff\xff\xff" * 300, "text.keras": b"not a zip", "missing.onnx": None}
    paths = {}
    for name, data in files.items():
        paths[name] = tmp_path / name
        if data is not None:
            paths[name].write_bytes(data)
    return paths


MODEL_FILE_CASES = [
    ("empty.tflite", "empty file (0 bytes)"), ("empty.onnx", "empty file (0 bytes)"),
    ("random.tflite", "not a TFLite flatbuffer"), ("random.onnx", "not a readable ONNX model"),
    ("text.keras", "not a Keras archive"), ("missing.onnx", "file not found"),
]


@pytest.mark.parametrize("command", ["inspect", "predict", "verify"])
@pytest.mark.parametrize("name, message", MODEL_FILE_CASES, ids=[c[0] for c in MODEL_FILE_CASES])
def test_broken_model_files_are_named_in_one_line(tmp_path, command, name, message):
    if command == "verify" and name.endswith(".keras"):
        pytest.skip("verify takes exported files")
    path = model_files(tmp_path)[name]
    extra = {"predict": [str(tmp_path / "x.png")], "inspect": ["--out", str(tmp_path / "o")],
             "verify": ["--out", str(tmp_path / "o")]}[command]
    result = runner.invoke(app, [command, str(path), *extra])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and str(path) in lines[0], result.stderr
    assert message in lines[0] or command != "inspect" and "onnxruntime cannot load it" in lines[0], lines[0]
    assert not (tmp_path / "o").exists()


def test_bad_npz_sources_are_refused_before_anything_is_written(tmp_path):
    import numpy as np

    x = np.random.default_rng(0).integers(0, 255, (60, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "one.npz", x_train=x, y_train=np.zeros(60, np.int64), x_test=x[:9], y_test=np.zeros(9, np.int64))
    empty = np.zeros((0, 8, 8), np.uint8)
    np.savez(tmp_path / "empty.npz", x_train=empty, y_train=np.zeros(0, np.int64), x_test=empty,
             y_test=np.zeros(0, np.int64))
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: t\n")
    for source, message in (("one.npz", "needs at least 2 classes with images, found 1 (0)"),
                            ("empty.npz", "x_train and x_test hold no images")):
        out = tmp_path / f"run_{source}"
        result = runner.invoke(app, ["build", str(recipe), "--data", str(tmp_path / source), "--out", str(out), "-q"])
        assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert not out.exists()


def test_a_decompression_bomb_image_is_named(tmp_path):
    from PIL import Image

    for name in ("a", "b"):
        (tmp_path / "set" / name).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (16, 16), i * 40).save(tmp_path / "set" / name / f"{i}.png")
    Image.new("1", (14_000, 14_000)).save(tmp_path / "set" / "a" / "huge.png")  # 196 M pixels in a few kB
    result = runner.invoke(app, ["data", "inspect", str(tmp_path / "set"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "huge.png: too many pixels to decode safely" in result.stderr


def test_a_pickled_reference_and_a_junit_folder_are_bad_input(tiny_build, tmp_path):
    import shutil

    import numpy as np

    run = tmp_path / "run"
    shutil.copytree(tiny_build[0], run)
    np.save(run / "reference.npy", np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    (run / "reference.npy").rename(run / "reference.npz")
    result = runner.invoke(app, ["verify", str(run), "-q", "--out", str(tmp_path / "v")])
    # the build's record of the file catches it before it is opened; the loader's own guard holds without one
    assert result.exit_code == 2 and "reference.npz: changed since it was written; run `edgecnn train" in result.stderr
    from edgecnn.errors import VerificationError
    from edgecnn.run import RunFolder

    with pytest.raises(VerificationError, match="reference.npz: not the reference outputs edgecnn writes"):
        RunFolder(run).load_reference("any")
    result = runner.invoke(app, ["verify", str(run / "model_int8.tflite"), "-q", "--junit", str(tmp_path)])
    assert result.exit_code == 2 and "--junit" in result.stderr and "is a folder" in result.stderr


@pytest.mark.parametrize("kind", ["missing", "folder", "not_utf8"])
def test_text_files_the_user_names_are_named_when_unreadable(tiny_build, tmp_path, kind):
    from PIL import Image

    bad = {"missing": tmp_path / "nope.txt", "folder": tmp_path, "not_utf8": tmp_path / "latin1.txt"}[kind]
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    expected = {"missing": "not found", "folder": "a folder, not a", "not_utf8": "not UTF-8 text (byte "}[kind]
    Image.new("L", (8, 8), 3).save(tmp_path / "x.png")
    (tmp_path / "list.csv").write_bytes("x.png,caf\xe9\n".encode("latin-1"))
    commands = {"labels": ["predict", str(tiny_build[0] / "model_int8.tflite"), str(tmp_path / "x.png"), "--labels",
                           str(bad)],
                "baseline": ["verify", str(tiny_build[0] / "model_int8.tflite"), "--baseline", str(bad), "-q",
                             "--out", str(tmp_path / "o")]}
    if kind == "not_utf8":
        commands["list"] = ["data", "inspect", str(tmp_path / "list.csv"), "--out", str(tmp_path / "o")]
    for what, args in commands.items():
        result = runner.invoke(app, args)
        lines = result.stderr.strip().splitlines()
        culprit = tmp_path / "list.csv" if what == "list" else bad
        assert result.exit_code == 2 and len(lines) == 1 and f"{culprit}: " in lines[0] and expected in lines[0], \
            (what, result.stderr)
        assert not (tmp_path / "o").exists()


def _two_class_folder(root):
    from PIL import Image

    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (16, 16), 40 * i + (0 if name == "a" else 10)).save(root / name / f"{i}.png")
    return root


def test_containment_of_lists_and_folders(tmp_path):
    _two_class_folder(tmp_path / "outside")
    inside = _two_class_folder(tmp_path / "lists" / "imgs")
    rows = [f"imgs/{c}/{i}.png,{c}" for c in "ab" for i in range(3)]
    listing = tmp_path / "lists" / "list.csv"
    listing.write_text("\n".join(rows + ["../outside/a/0.png,a"]) + "\n")
    result = runner.invoke(app, ["data", "inspect", str(listing), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "'../outside/a/0.png' lies outside the list's folder" in result.stderr
    allowed = runner.invoke(app, ["data", "inspect", str(listing), "--set", "data.allow_outside=true", "--out",
                                  str(tmp_path / "o2"), "--json"])
    assert allowed.exit_code == 0, allowed.output
    (inside / "loop").symlink_to(inside, target_is_directory=True)
    looped = runner.invoke(app, ["data", "inspect", str(inside), "--out", str(tmp_path / "o3")])
    assert looped.exit_code == 2 and "links back to" in looped.stderr and "loop" in looped.stderr


def test_exported_tflite_bytes_do_not_depend_on_the_clock():
    from edgecnn.export.tflite_metadata import _append_zip
    from edgecnn.fileio import ZIP_TIMESTAMP

    first = _append_zip(b"\0" * 16, {"labels.txt": b"a\nb\n"})
    import time

    time.sleep(2.1)  # zip timestamps have 2-second resolution
    assert _append_zip(b"\0" * 16, {"labels.txt": b"a\nb\n"}) == first and ZIP_TIMESTAMP[0] == 1980


@pytest.mark.build  # builds Keras models: TensorFlow
def test_a_model_that_is_not_an_image_classifier_or_holds_code_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Softmax", ["x"], ["y"])], "flat",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 10])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 10])])
    flat = tmp_path / "flat.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(flat))
    result = runner.invoke(app, ["predict", str(flat), str(tmp_path / "x.png")])
    assert result.exit_code == 2 and "input shape ['n', 10]; expected an image input" in result.stderr

    from edgecnn._tf import keras

    inputs = keras().Input((4, 4, 1))
    model = keras().Model(inputs, keras().layers.Lambda(lambda x: x * 2)(inputs))
    model.save(tmp_path / "lambda.keras")
    result = runner.invoke(app, ["inspect", str(tmp_path / "lambda.keras"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "lambda.keras: Keras cannot load it safely" in result.stderr
    assert not (tmp_path / "o").exists()


def test_metadata_that_inflates_beyond_its_limit_is_refused_before_inflating(tiny_build, tmp_path):
    import zipfile

    path = tmp_path / "bomb.tflite"
    path.write_bytes((tiny_build[0] / "model_int8.tflite").read_bytes().split(b"PK\x03\x04")[0])
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", b" " * (64 * 1024**2))  # 64 MB of spaces, 64 kB deflated
    assert path.stat().st_size < 1024**2
    result = runner.invoke(app, ["predict", str(path), str(tmp_path / "x.png")])
    assert result.exit_code == 2 and "above the 4,194,304-byte limit for model metadata" in result.stderr


def test_metadata_missing_contract_fields_is_named(tiny_build, tmp_path):
    import json
    import zipfile

    path = tmp_path / "partial.tflite"
    path.write_bytes((tiny_build[0] / "model_int8.tflite").read_bytes().split(b"PK\x03\x04")[0])
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("metadata.json", json.dumps({"input": {"height": 16}, "labels": ["a", "b"]}))
    result = runner.invoke(app, ["predict", str(path), str(tmp_path / "x.png")])
    assert result.exit_code == 2 and "input contract lacks width, channels, normalization, mean, std" in result.stderr


def test_a_build_that_fails_on_a_bad_image_leaves_no_runs_folder(tmp_path, monkeypatch):
    # setup: a folder data set with one broken image, and the default run folder (runs/NAME) under the cwd
    from edgecnn.data.shapes import write_shapes_folder

    write_shapes_folder(tmp_path / "photos", 20, ["circle", "square"], seed=0, sides=(16, 24))
    (tmp_path / "photos" / "circle" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot an image")
    recipe = tmp_path / "photos.yaml"
    recipe.write_text(f"name: photos\ndata: {{source: folder, path: {tmp_path / 'photos'}, image_size: [16, 16]}}\n")
    monkeypatch.chdir(tmp_path)
    # execute
    result = runner.invoke(app, ["build", str(recipe)])
    # assert: one named line, exit 2, and no runs/ left behind
    assert result.exit_code == 2 and "broken.png" in result.stderr, result.output
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("name, problem", [("damaged_zero_point", "a zero point outside uint8's range"),
                                           ("damaged_scale", "a negative or infinite scale"),
                                           ("damaged_shape", "shape [1, 16187408, 16, 3] (741 MiB, above 256 MiB)")])
def test_damaged_quantization_is_named_not_a_crash(tmp_path, name, problem):
    """Tiny int8 files the fuzz tests damaged (kept in tests/data/models): the uint8 input's zero point at 11,403,264,
    its scale at -4.3e9, its height at 16,187,408. LiteRT reads files unverified and crashed the process in
    allocate_tensors (or took 22 GB and was killed); `edgecnn verify` names the damage. In a child process, so a
    crash fails this test instead of ending the suite."""
    model = Path(__file__).parent / "data" / "models" / f"{name}.tflite"
    done = subprocess.run([sys.executable, "-m", "edgecnn", "verify", str(model), "--out", str(tmp_path / "r"),
                           "--quiet"], capture_output=True, text=True, check=False)
    assert done.returncode == 2, (done.returncode, done.stderr[-500:])
    assert f"{problem}; the file is damaged" in done.stderr and str(model) in done.stderr
