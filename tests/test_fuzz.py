"""Property-based fuzzing (Hypothesis) of every parser of user input: recipes and `--set` values, image lists
(.csv/.json), .npz files, the metadata inside .tflite files (flatbuffer and zip) and .onnx files.

The property, for every generated input: the parser returns, or raises an `EdgeCNNError` whose message is one
line that names the input (the CLI prints it and exits 2); never any other exception (the CLI's exit 3 and a
traceback), and nothing is written beside the input. A few hundred of the same inputs also go through the
installed CLI's command path (Typer's CliRunner) to check the exit codes themselves. Inputs are derived from a
fixed seed (`derandomize`), so CI sees the same thousands each run; EDGECNN_FUZZ_SEED=random explores anew.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pydantic import BaseModel

from edgecnn.errors import EdgeCNNError
from edgecnn.recipe import Recipe, load_recipe, parse_override

EXPLORE = os.environ.get("EDGECNN_FUZZ_SEED") == "random"


def fuzz(examples: int):
    """Hypothesis settings for one parser: `examples` inputs, no per-input deadline, no example database in
    the repository."""
    return settings(max_examples=examples, deadline=None, derandomize=not EXPLORE, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])


def assert_named_or_fine(call, *names: str) -> str | None:
    """Run `call`; the property: it returns, or raises EdgeCNNError with one line naming one of `names`."""
    try:
        call()
    except EdgeCNNError as exc:
        message = str(exc)
        assert "\n" not in message, message
        assert any(name in message for name in names), (names, message)
        return message
    return None


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# ---------------------------------------------------------------- values a user may type anywhere

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40), st.sampled_from(["", "auto", "none", "1e-3", "0x10", "[1, 2]", "~", "yes", "NaN",
                                           "digits", "shapes", "cosine", "int8", "tflite_int8", "../../etc"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12),
                                                                                           inner, max_size=4),
                      max_leaves=12)


def section_strategy(model: type[BaseModel], depth: int = 0):
    """Mappings shaped like a recipe section: mostly its own keys (sections recursed into), some misspelt or
    foreign, each value of the right kind or of any kind."""
    fields = model.model_fields
    keys = st.sampled_from(list(fields)) | st.sampled_from([k[:-1] or "x" for k in fields]) | st.text(max_size=8)

    def value_for(key: str):
        annotation = getattr(fields.get(key), "annotation", None)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and depth < 3:
            return section_strategy(annotation, depth + 1) | values
        return values

    return st.dictionaries(keys, values, max_size=6).flatmap(
        lambda d: st.fixed_dictionaries({k: value_for(k) for k in d}))


BASE_RECIPE = {"name": "fuzz", "data": {"source": "digits", "image_size": [8, 8]}, "model": {"name": "dscnn_tiny"}}


def recipe_keys(model: type[BaseModel] = Recipe, prefix: str = "") -> list[str]:
    """Every dotted key of the schema: what `--set` is given."""
    keys = []
    for name, field in model.model_fields.items():
        keys.append(prefix + name)
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            keys += recipe_keys(field.annotation, f"{prefix}{name}.")
    return keys


# ---------------------------------------------------------------- recipes and --set

@fuzz(1000)
@given(raw=section_strategy(Recipe))
def test_recipes_shaped_like_the_schema(raw, tmp_path_factory):
    folder = tmp_path_factory.getbasetemp() / "fuzz_recipes"
    folder.mkdir(exist_ok=True)
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump({**BASE_RECIPE, **raw}, allow_unicode=True), encoding="utf-8")
    assert_named_or_fine(lambda: load_recipe(path), str(path))
    assert listing(folder) == ["recipe.yaml"]


@fuzz(1000)
@given(text=st.text(max_size=400) | st.binary(max_size=400).map(lambda b: b.decode("latin-1")))
def test_recipe_files_of_any_text(text, tmp_path_factory):
    folder = tmp_path_factory.getbasetemp() / "fuzz_recipe_text"
    folder.mkdir(exist_ok=True)
    path = folder / "recipe.yaml"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    assert_named_or_fine(lambda: load_recipe(path), str(path))


@fuzz(1500)
@given(key=st.sampled_from(recipe_keys()) | st.text(max_size=20), value=st.text(max_size=40) | values.map(
    lambda v: yaml.safe_dump(v, default_flow_style=True).strip()), separator=st.sampled_from(["=", "=", " = ", ":"]))
def test_set_overrides(key, value, separator, tmp_path_factory):
    folder = tmp_path_factory.getbasetemp() / "fuzz_set"
    folder.mkdir(exist_ok=True)
    path = folder / "recipe.yaml"
    if not path.exists():
        path.write_text(yaml.safe_dump(BASE_RECIPE))
    override = f"{key}{separator}{value}"
    assert_named_or_fine(lambda: load_recipe(path, [override]), "--set", str(path))
    assert_named_or_fine(lambda: parse_override(override), "--set")


# ---------------------------------------------------------------- image lists

@pytest.fixture(scope="module")
def list_folder(tmp_path_factory) -> Path:
    """A folder with a few real images of two kinds, for list rows to name."""
    folder = tmp_path_factory.mktemp("fuzz_lists")
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (8 + i, 9, 3), dtype=np.uint8)).save(folder / f"img{i}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return folder


row_paths = st.sampled_from(["img0.png", "img1.png", "img2.png", "img3.png", "broken.png", "missing.png",
                             "../outside.png", "/etc/passwd", "img0.png\x00x", "sub/", "", " img1.png "]) | st.text(
    max_size=20)
row_labels = st.sampled_from(["cat", "dog", "", " ", "cat,dog", "ünï"]) | st.text(max_size=8)
row_splits = st.sampled_from(["", "train", "val", "test", "TEST", "holdout"]) | st.text(max_size=5)


@fuzz(1000)
@given(rows=st.lists(st.tuples(row_paths, row_labels, row_splits), max_size=12), header=st.booleans(),
       classes=st.none() | st.lists(row_labels, max_size=3))
def test_csv_image_lists(rows, header, classes, list_folder):
    from edgecnn.data.sources import read_list

    text = io.StringIO()
    import csv

    writer = csv.writer(text)
    if header:
        writer.writerow(["path", "label", "split"])
    for path, label, split in rows:
        writer.writerow([path, label] + ([split] if split else []))
    target = list_folder / "list.csv"
    target.write_text(text.getvalue(), encoding="utf-8", errors="surrogateescape")
    before = listing(list_folder)
    assert_named_or_fine(lambda: read_list(target, classes, skip_bad=False), str(list_folder))
    assert_named_or_fine(lambda: read_list(target, classes, skip_bad=True), str(list_folder))
    assert listing(list_folder) == before


@fuzz(1000)
@given(records=values | st.lists(st.fixed_dictionaries({"path": row_paths | values, "label": row_labels | values},
                                                        optional={"split": row_splits | values}), max_size=10))
def test_json_image_lists(records, list_folder):
    from edgecnn.data.sources import read_list

    target = list_folder / "list.json"
    target.write_text(json.dumps(records), encoding="utf-8")
    before = listing(list_folder)
    assert_named_or_fine(lambda: read_list(target, None, skip_bad=False), str(list_folder))
    assert listing(list_folder) == before


# ---------------------------------------------------------------- .npz files

dtypes = st.sampled_from(["uint8", "int64", "float32", "float64", "bool", "int8", "uint16", "complex64", "U3",
                          "object"])
shapes = st.lists(st.integers(0, 6), min_size=0, max_size=5).map(tuple)


def arrays(dtype: str, shape: tuple):
    size = int(np.prod(shape)) if shape else 1
    if size > 4096:
        shape, size = (size % 7,), size % 7
    if dtype == "object":
        return st.just(np.array([None] * size, dtype=object).reshape(shape))
    return st.lists(st.integers(-300, 300), min_size=size, max_size=size).map(
        lambda v: np.array(v).astype(dtype).reshape(shape))


npz_entry = st.tuples(dtypes, shapes).flatmap(lambda spec: arrays(*spec))
npz_names = st.sampled_from(["x_train", "y_train", "x_test", "y_test", "x_val", "y_val", "class_names", "other"])


@fuzz(1000)
@given(entries=st.dictionaries(npz_names, npz_entry, max_size=7), pixels=st.integers(2, 12), channels=st.sampled_from(
    [1, 3]))
def test_npz_files(entries, pixels, channels, tmp_path_factory):
    from edgecnn.data.images import ImageFormat
    from edgecnn.data.sources import read_npz

    folder = tmp_path_factory.getbasetemp() / "fuzz_npz"
    folder.mkdir(exist_ok=True)
    path = folder / "data.npz"
    with open(path, "wb") as handle:
        np.savez(handle, **entries)
    fmt = ImageFormat((pixels, pixels), channels)
    assert_named_or_fine(lambda: read_npz(path, fmt, None), str(path))
    assert listing(folder) == ["data.npz"]


@fuzz(300)
@given(data=st.binary(max_size=2000))
def test_npz_files_of_any_bytes(data, tmp_path_factory):
    from edgecnn.data.sources import read_npz

    folder = tmp_path_factory.getbasetemp() / "fuzz_npz_bytes"
    folder.mkdir(exist_ok=True)
    path = folder / "data.npz"
    path.write_bytes(data)
    assert_named_or_fine(lambda: read_npz(path, None, None), str(path))


# ---------------------------------------------------------------- metadata inside model files

def read_everything(path: Path) -> None:
    """What every command reads of a model file before running it: its type checks, edgecnn's metadata, the
    standard TFLite metadata, the input contract, and the runtime loading it."""
    from edgecnn.artifacts import open_artifact

    artifact = open_artifact(path)
    artifact.metadata  # noqa: B018 -- reading it is the point
    artifact.contract()
    artifact.runner()


class ModelBytes(dict):
    """The tiny build's model files' bytes, shown by name only in Hypothesis' reports."""

    def __repr__(self) -> str:
        return f"ModelBytes({', '.join(self)})"


@pytest.fixture(scope="module")
def model_files(tiny_build) -> ModelBytes:
    run_dir, _ = tiny_build
    return ModelBytes({name: (run_dir / name).read_bytes() for name in ("model_int8.tflite", "model_float32.onnx")})


def split_tflite(data: bytes) -> tuple[bytes, dict[str, bytes]]:
    """A .tflite with metadata: the flatbuffer, then a zip of its associated files."""
    start = data.find(b"PK\x03\x04")
    with zipfile.ZipFile(io.BytesIO(data)) as packed:
        return data[:start], {name: packed.read(name) for name in packed.namelist()}


def rezip(flatbuffer: bytes, files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as packed:
        for name, content in files.items():
            packed.writestr(name, content)
    return flatbuffer + out.getvalue()


metadata_json = st.one_of(
    values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({}, optional={"schema": values, "labels": values | st.lists(st.text(max_size=5)),
                                        "input": values | st.dictionaries(st.sampled_from(
                                            ["height", "width", "channels", "normalization", "mean", "std", "color",
                                             "resize", "layout", "dtype", "quantization"]), values)}).map(
        lambda v: json.dumps(v).encode()),
    st.binary(max_size=200))


@pytest.mark.build
@fuzz(1000)
@given(entry=metadata_json, labels=st.binary(max_size=60), flips=st.lists(st.tuples(st.integers(0, 10**6),
                                                                                      st.integers(0, 255)), max_size=3),
       cut=st.none() | st.integers(0, 10**6))
def test_tflite_metadata(entry, labels, flips, cut, model_files, tmp_path_factory):
    folder = tmp_path_factory.getbasetemp() / "fuzz_tflite"
    folder.mkdir(exist_ok=True)
    flatbuffer, files = split_tflite(model_files["model_int8.tflite"])
    files = {**files, "metadata.json": entry, "labels.txt": labels}
    data = bytearray(rezip(flatbuffer, files))
    for at, value in flips:  # damage the flatbuffer's header and tables or the zip
        data[at % len(data)] = value
    if cut is not None:
        data = data[: cut % len(data)]
    path = folder / "model.tflite"
    path.write_bytes(bytes(data))
    assert_named_or_fine(lambda: read_everything(path), str(path))
    assert listing(folder) == ["model.tflite"]


@pytest.mark.build
@fuzz(1000)
@given(props=st.dictionaries(st.sampled_from(["edgecnn.metadata", "labels", "other"]), metadata_json.map(
    lambda b: b.decode("utf-8", "replace")), max_size=3))
def test_onnx_metadata_props(props, model_files, tmp_path_factory):
    import onnx

    folder = tmp_path_factory.getbasetemp() / "fuzz_onnx"
    folder.mkdir(exist_ok=True)
    model = onnx.load_from_string(model_files["model_float32.onnx"])
    del model.metadata_props[:]
    for key, value in props.items():
        model.metadata_props.add(key=key, value=value)
    path = folder / "model.onnx"
    path.write_bytes(model.SerializeToString())
    assert_named_or_fine(lambda: read_everything(path), str(path))
    assert listing(folder) == ["model.onnx"]


# ---------------------------------------------------------------- the CLI's exit codes on the same inputs

@pytest.mark.build
@fuzz(150)
@given(entry=metadata_json, flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=2))
def test_cli_exit_codes_on_damaged_models(entry, flips, model_files, tmp_path_factory):
    from typer.testing import CliRunner

    from edgecnn_cli.main import app

    folder = tmp_path_factory.getbasetemp() / "fuzz_cli"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    flatbuffer, files = split_tflite(model_files["model_int8.tflite"])
    data = bytearray(rezip(flatbuffer, {**files, "metadata.json": entry}))
    for at, value in flips:
        data[at % len(data)] = value
    (folder / "model.tflite").write_bytes(bytes(data))
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(folder / "frame.png")
    result = CliRunner().invoke(app, ["predict", str(folder / "model.tflite"), str(folder / "frame.png"), "--json"])
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.output, result.exception)
    if result.exit_code:
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
    assert listing(folder) == ["frame.png", "model.tflite"]


@pytest.mark.build
def test_a_tensor_name_that_is_not_utf8_is_named(model_files, tmp_path):
    # found by the fuzzing: LiteRT's details calls raised UnicodeDecodeError on such a name
    data = bytearray(model_files["model_int8.tflite"])
    data[data.find(b"StatefulPartitionedCall:0")] = 0x80
    path = tmp_path / "model.tflite"
    path.write_bytes(bytes(data))
    message = assert_named_or_fine(lambda: read_everything(path), str(path))
    assert message is not None and "not UTF-8" in message
