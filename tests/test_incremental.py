"""Incremental builds: what each stage reads invalidates it, nothing else does; damaged files are redone;
`--force`; the shared cache across run folders; and the terminal and report say what ran and why."""

import json
import shutil
import types
import typing

import pytest
import yaml
from pydantic import BaseModel

from edgecnn.errors import RecipeError
from edgecnn.formats import ALL_ARTIFACTS, OPTIMIZE_VARIANTS
from edgecnn.incremental.cache import StageCache, cache_size_limit
from edgecnn.incremental.keys import (
    REPORT_ONLY, artifact_plan, data_plan, inspect_plan, report_plan, stage_reads, train_plan, verify_plan,
)
from edgecnn.incremental.manifest import Manifest
from edgecnn.recipe import Recipe, validate_recipe
from tests.conftest import TINY_RECIPE

# ---------------------------------------------------------------- keys (no training)

TOKENS = {"data": "d", "train": "t", "export:tflite_float32": "f", **{
    f"{'optimize' if fmt.is_variant else 'export'}:{name}": name for name, fmt in ALL_ARTIFACTS.items()}}
VARIANTS = list(OPTIMIZE_VARIANTS)  # every maker, so every optimize section has a reader


def _raw(overrides: dict) -> dict:
    """The tiny recipe with every optimize variant, plus `overrides` (dotted keys)."""
    raw = json.loads(json.dumps({**TINY_RECIPE, "optimize": {"variants": VARIANTS}}))
    for dotted, value in overrides.items():
        node, *path, last = [raw, *dotted.split(".")]
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return raw


def _keys(recipe) -> dict[str, str]:
    """Every stage's key for `recipe`, its upstream stages' tokens held fixed."""
    plans = [data_plan(recipe), train_plan(recipe, TOKENS), inspect_plan(TOKENS)]
    plans += [artifact_plan(recipe, ALL_ARTIFACTS[n], TOKENS) for n in [*recipe.export.formats, *VARIANTS]]
    plans += [verify_plan(recipe, n, TOKENS) for n in ["keras_float32", *recipe.export.formats, *VARIANTS]]
    plans.append(report_plan(recipe, TOKENS, ()))
    return {plan.id: plan.key for plan in plans}


BASE_RECIPE = validate_recipe(_raw({}))
BASE_KEYS = _keys(BASE_RECIPE)


# ---------------------------------------------------------------- every recipe field, changed in turn

def recipe_leaves(model=Recipe, prefix=""):
    """(dotted path, annotation) of every leaf field of the recipe schema; sections are followed down."""
    for name, field in model.model_fields.items():
        inner = [arg for arg in typing.get_args(field.annotation) if arg is not type(None)]
        optional = typing.get_origin(field.annotation) in (typing.Union, types.UnionType) and len(inner) == 1
        section = inner[0] if optional else field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            yield from recipe_leaves(section, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", field.annotation


def _candidates(annotation, value) -> list:
    """Values of the field's type other than `value`, most likely valid first (the schema's bounds decide)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return [arg for arg in args if arg != value]
    if origin in (typing.Union, types.UnionType):
        options = [None] if value is not None else []
        return options + [c for arg in args if arg is not type(None) for c in _candidates(arg, value)]
    if annotation is bool:
        return [not value]
    if annotation is int:
        return [v for v in ((value or 0) + 1, (value or 0) * 2 + 1, 1) if v != value]
    if annotation is float:
        return [v for v in ((value or 0) * 0.5, (value or 0) + 0.05, 0.5, 1.5, 2.0) if v != value]
    if annotation is str:
        return ["dscnn_m", f"{value}x", "x"]
    if origin is tuple:
        return [[v + 8 for v in value]]
    if origin is list:
        element = args[0]
        if typing.get_origin(element) is typing.Literal:
            return [[arg for arg in typing.get_args(element) if arg not in (value or [])][:1] or list(value)[:-1]]
        if isinstance(element, type) and issubclass(element, BaseModel):
            return [[{"max_p50_ms": 5.0}]]
        return [[2], [0.5, 0.5, 0.5], ["dense*"], ["3", "7"]]
    if origin is dict:
        return [{"train.epochs": [1, 2]}]
    raise AssertionError(f"no candidate values for {annotation}")


# What a field needs beside it to validate (in the section that reads it, so the stages it changes are its own).
COMPANIONS = {
    "data.path": {"data.source": "folder"}, "data.mean": {"data.normalization": "mean_std", "data.std": [0.5]},
    "data.std": {"data.normalization": "mean_std", "data.mean": [0.5]},
    "export.calibration.split": {"export.calibration.allow_outside_train": True},
    "export.calibration.allow_few": {"export.calibration.min_samples": 10}, "sweep.search": {"sweep.trials": 4},
    "train.finetune.freeze_epochs": {"model.init_from": None, "model.pretrained": "runs/source"},
    "verify.budgets.max_npu_ms": {"verify.npu": ["ethos-u55-128"]},
}
EXAMPLES = {"model.blocks": ["ds_r2_k3_s2_c32"], "data.path": ".", "verify.npu": ["ethos-u55-128"]}  # a value of a shape the type does not say


def _changed_recipe(path, annotation):
    """The base recipe with `path` set to another valid value, or None when no candidate validates."""
    current = BASE_RECIPE.to_dict()
    for part in path.split("."):
        current = current[part]
    candidates = [EXAMPLES[path]] if path in EXAMPLES else _candidates(annotation, current)
    for candidate in candidates:
        try:
            changed = validate_recipe(_raw({**COMPANIONS.get(path, {}), path: candidate}))
        except RecipeError:
            continue
        if changed.to_dict() != BASE_RECIPE.to_dict():
            return changed
    return None


def _companion_keys(path: str) -> dict:
    """The stage keys with only `path`'s companion values set (when they validate alone), else the base recipe's:
    what a field changes is measured against the recipe it needs, not against the companions' own changes."""
    if path in COMPANIONS:
        try:
            return _keys(validate_recipe(_raw(COMPANIONS[path])))
        except RecipeError:
            pass
    return BASE_KEYS


def _reads(stage: str, path: str) -> bool:
    return stage == "report" or any(path == read or path.startswith(f"{read}.") for read in stage_reads(stage))


LEAVES = list(recipe_leaves())


@pytest.mark.parametrize("path,annotation", LEAVES, ids=[leaf[0] for leaf in LEAVES])
def test_a_field_invalidates_exactly_the_stages_that_read_it(path, annotation):
    """Derived from the declarations (`stage_reads`, each variant's `reads`), not from a hand list: changing the
    field changes the key of exactly the stages that declare it, and every field is read by some stage but the
    report or is declared report-only (`REPORT_ONLY`)."""
    changed = _changed_recipe(path, annotation)
    assert changed is not None, f"{path}: no candidate value validates; add one to EXAMPLES or COMPANIONS"
    keys, base = _keys(changed), _companion_keys(path)
    common = base.keys() & keys.keys()
    found = {stage for stage in common if keys[stage] != base[stage]}
    assert found == {stage for stage in common if _reads(stage, path)}, path
    reported_only = any(path == p or path.startswith(f"{p}.") for p in REPORT_ONLY)
    assert (found == {"report"}) == reported_only, \
        f"{path} changes {sorted(found)}; declared report-only: {reported_only}"


@pytest.mark.parametrize("path,value,readers", [
    ("export.int8_io", "int8", {"export:tflite_int8", "optimize:ptq_int8", "optimize:qat_int8", "optimize:pqat_int8",
                                "optimize:cqat_int8", "optimize:pcqat_int8"}),
    ("optimize.qat.leave_float", ["dense*"], {"optimize:qat_int8", "optimize:pqat_int8", "optimize:cqat_int8",
                                              "optimize:pcqat_int8"}),
    ("verify.gpu_check", "never", {f"verify:{n}" for n in ["keras_float32", *BASE_RECIPE.export.formats, *VARIANTS]}),
])
def test_the_declarations_say_what_the_makers_read(path, value, readers):
    """Spot checks of the declarations themselves against what the code is known to read."""
    changed = _keys(validate_recipe(_raw({path: value})))
    assert {stage for stage, key in changed.items() if key != BASE_KEYS[stage]} == readers | {"report"}


def test_the_field_list_covers_the_schema():
    assert len(LEAVES) > 100 and {"verify.gpu_check", "optimize.pcqat.sparsity", "train.augment.camera_frames"} <= {
        path for path, _ in LEAVES}


def test_adding_a_variant_is_one_declaration_and_its_maker(monkeypatch):
    """A new variant row (reading optimize.qat) gets a stage key that follows exactly what it declares."""
    from edgecnn import formats

    fmt = formats._variant("dummy_int8", "tflite", "litert", "int8", True, "dummy", "a test's variant", "qat",
                           reads=["qat"])
    monkeypatch.setitem(formats.ALL_ARTIFACTS, fmt.name, fmt)
    before = artifact_plan(BASE_RECIPE, fmt, TOKENS).key
    assert artifact_plan(validate_recipe(_raw({"optimize.qat.epochs": 9})), fmt, TOKENS).key != before
    assert artifact_plan(validate_recipe(_raw({"optimize.prune.epochs": 9})), fmt, TOKENS).key == before
    assert stage_reads("optimize:dummy_int8")[-1] == "optimize.qat"


def test_an_upstream_stage_with_new_files_invalidates_its_dependents():
    recipe = validate_recipe(TINY_RECIPE)
    before = verify_plan(recipe, "tflite_int8", TOKENS).key
    assert verify_plan(recipe, "tflite_int8", {**TOKENS, "export:tflite_int8": "new"}).key != before
    assert verify_plan(recipe, "tflite_int8", {**TOKENS, "export:onnx_float32": "new"}).key == before


def test_changed_image_bytes_change_the_data_key(tmp_path):
    from PIL import Image

    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for i in range(3):
            Image.new("L", (8, 8), 40 * i + (label == "b") * 100).save(tmp_path / label / f"{i}.png")
    recipe = validate_recipe({"name": "f", "data": {"source": "folder", "path": str(tmp_path)}})
    before = data_plan(recipe).key
    assert data_plan(recipe).key == before
    Image.new("L", (8, 8), 7).save(tmp_path / "a" / "1.png")  # same name and size, other pixels
    assert data_plan(recipe).key != before


# ---------------------------------------------------------------- manifest and cache pieces

def test_reasons_name_the_changed_key_with_old_and_new_values(tmp_path):
    recipe = validate_recipe(TINY_RECIPE)
    manifest = Manifest(tmp_path)
    (tmp_path / "f.bin").write_bytes(b"x")
    manifest.record(train_plan(recipe, TOKENS), [tmp_path / "f.bin"], {}, 1.0)
    changed = validate_recipe({**TINY_RECIPE, "train": {**TINY_RECIPE["train"], "epochs": 7}})
    assert Manifest(tmp_path).decide(train_plan(changed, TOKENS), False) == "train.epochs 4 -> 7"
    assert Manifest(tmp_path).decide(train_plan(recipe, TOKENS), False) is None
    augmented = validate_recipe({**TINY_RECIPE, "export": {**TINY_RECIPE["export"], "formats": ["tflite_int8", "onnx_float32"]}})
    manifest.record(report_plan(recipe, TOKENS, ()), [], {}, 0.0)
    assert Manifest(tmp_path).decide(report_plan(augmented, TOKENS, ()), False) == "export.formats -tflite_float32"
    assert Manifest(tmp_path).decide(train_plan(recipe, TOKENS), True) == "--force"
    assert Manifest(tmp_path).decide(train_plan(recipe, {**TOKENS, "data": "other"}), False) == "data changed (new outputs)"
    (tmp_path / "f.bin").write_bytes(b"y")
    assert Manifest(tmp_path).decide(train_plan(recipe, TOKENS), False) == "f.bin changed since it was written"
    (tmp_path / "f.bin").unlink()
    assert Manifest(tmp_path).decide(train_plan(recipe, TOKENS), False) == "f.bin is missing"
    (tmp_path / "manifest.json").write_text("{not json")
    assert Manifest(tmp_path).decide(train_plan(recipe, TOKENS), False) == "not built in this folder before"


def test_cache_sizes_parse_and_bad_ones_are_named():
    assert cache_size_limit("500MB") == 500 * 1024**2 and cache_size_limit("2gb") == 2 * 1024**3
    assert cache_size_limit("1024") == 1024 and cache_size_limit(None) == 2 * 1024**3
    with pytest.raises(RecipeError, match="EDGECNN_CACHE_SIZE='lots'"):
        cache_size_limit("lots")


def test_a_bare_force_means_every_stage():
    from edgecnn_cli.main import optional_force_value

    assert optional_force_value(["build", "r.yaml", "--force"]) == ["build", "r.yaml", "--force", "all"]
    assert optional_force_value(["build", "--force", "r.yaml"]) == ["build", "--force", "all", "r.yaml"]
    assert optional_force_value(["build", "--force", "train", "r.yaml"]) == ["build", "--force", "train", "r.yaml"]
    assert optional_force_value(["build", "--force", "optimize:qat_int8", "-q"])[2] == "optimize:qat_int8"


# ---------------------------------------------------------------- builds (tiny trainings)

def _build(folder, overrides=None, force=None, cache=None, name=None):
    from edgecnn.incremental.build import build

    raw = json.loads(json.dumps(TINY_RECIPE))
    if name:
        raw["name"] = name
    for dotted, value in (overrides or {}).items():
        node, *path, last = [raw, *dotted.split(".")]
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return build(validate_recipe(raw), folder, show_progress=False, force=force, cache=cache)


def _did(report) -> dict[str, str]:
    return {stage.stage: stage.action for stage in report.stages}


def _ran(report) -> set[str]:
    return {stage for stage, action in _did(report).items() if action == "run"} - {"report"}


@pytest.fixture
def rebuilt(tiny_build, tmp_path):
    """A copy of the tiny build's run folder (manifest included), to rebuild without touching the original."""
    folder = tmp_path / "run"
    shutil.copytree(tiny_build[0], folder)
    return folder


def test_an_unchanged_build_reuses_every_stage_and_says_so(rebuilt, capsys):
    from edgecnn.incremental.build import build

    report = build(validate_recipe(TINY_RECIPE), rebuilt, show_progress=True)
    assert _ran(report) == set()
    assert set(_did(report).values()) == {"reused", "run"} and _did(report)["report"] == "run"
    assert "reused train same inputs, files intact" in " ".join(capsys.readouterr().err.split())
    saved = json.loads((rebuilt / "report.json").read_text())
    assert saved["stages"] == report.to_dict()["stages"]
    assert "## Build stages" in (rebuilt / "report.md").read_text()
    assert [a["name"] for a in saved["artifacts"]] == ["keras_float32", "tflite_float32", "tflite_int8", "onnx_float32"]


def test_a_budget_change_is_judged_without_redoing_anything(rebuilt):
    report = _build(rebuilt, {"verify.budgets.min_accuracy": 0.999})
    assert _ran(report) == set()
    assert "verify.budgets.min_accuracy" in next(s.reason for s in report.stages if s.stage == "report")
    assert report.gate.passed is False  # the new budget is judged on the recorded measurements


def test_an_export_setting_redoes_that_export_and_its_verification_only(rebuilt):
    report = _build(rebuilt, {"export.int8_io": "int8"})
    assert _ran(report) == {"export:tflite_int8", "verify:tflite_int8"}
    reason = next(s.reason for s in report.stages if s.stage == "export:tflite_int8")
    assert reason == 'export.int8_io "uint8" -> "int8"'
    assert json.loads((rebuilt / "report.json").read_text())["artifacts"][2]["input_dtype"] == "int8"


def test_a_new_variant_is_made_without_training(rebuilt):
    report = _build(rebuilt, {"optimize": {"variants": ["ptq_dynamic"]}})
    assert _ran(report) == {"optimize:ptq_dynamic", "verify:ptq_dynamic"}
    assert (rebuilt / "optimized" / "ptq_dynamic.tflite").is_file()


def test_a_verify_setting_redoes_the_measurements_only(rebuilt):
    report = _build(rebuilt, {"verify.runs": 25})
    assert _ran(report) == {f"verify:{n}" for n in ("keras_float32", "tflite_float32", "tflite_int8", "onnx_float32")}


def test_a_training_setting_retrains_and_redoes_everything_after(rebuilt):
    report = _build(rebuilt, {"train.epochs": 3})
    assert "data" not in _ran(report) and {"train", "export:tflite_int8", "verify:onnx_float32", "inspect"} <= _ran(report)
    reasons = {s.stage: s.reason for s in report.stages}
    assert reasons["export:tflite_int8"] == reasons["train"] == "train.epochs 4 -> 3"
    assert reasons["verify:tflite_int8"] == "export:tflite_int8 changed (train.epochs 4 -> 3)"


def test_a_data_setting_redoes_the_data_stage_and_all_after_it(rebuilt):
    report = _build(rebuilt, {"data.split.test": 0.25})
    assert {"data", "train", "export:tflite_float32", "verify:tflite_float32"} <= _ran(report)
    assert report.data.test != 359


def test_damaged_or_missing_files_are_redone_never_trusted(rebuilt):
    with open(rebuilt / "model_int8.tflite", "r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00\x01\x02")
    (rebuilt / "inspect" / "first_conv_kernels.png").unlink()
    report = _build(rebuilt)
    reasons = {s.stage: s.reason for s in report.stages}
    assert _ran(report) == {"export:tflite_int8", "inspect"}
    assert reasons["export:tflite_int8"] == "model_int8.tflite changed since it was written"
    assert reasons["inspect"] == "inspect/first_conv_kernels.png is missing"


def test_a_retrained_model_with_the_same_bytes_changes_nothing_downstream(rebuilt):
    # model.keras is byte-reproducible: retraining it (deleted, or --force train) gives the same bytes,
    # so the files made from it are still valid.
    (rebuilt / "model.keras").unlink()
    report = _build(rebuilt)
    assert _ran(report) == {"train"}
    report = _build(rebuilt, force=["train"])
    assert _ran(report) == {"train"} and report.stages[1].reason == "--force"


def test_force_alone_redoes_every_stage(rebuilt):
    report = _build(rebuilt, {"verify.runs": 5}, force=["all"])
    assert set(_did(report).values()) == {"run"}


def test_an_unknown_force_value_is_named(rebuilt):
    with pytest.raises(RecipeError, match="--force trian: expected all, a stage"):
        _build(rebuilt, force=["trian"])


def test_the_shared_cache_trains_once_for_recipes_that_differ_in_verify(tiny_build, tmp_path):
    cache = StageCache(tmp_path / "cache")
    first = tmp_path / "first"
    shutil.copytree(tiny_build[0], first)
    _build(first, force=["all"], cache=cache)  # fills the cache
    stored = {entry.stage for entry in cache.entries()}
    assert {"data", "train", "export:tflite_int8", "verify:tflite_int8", "inspect"} <= stored
    other = _build(tmp_path / "second", {"verify.budgets.min_accuracy": 0.5}, cache=cache, name="other")
    did = _did(other)
    assert did["data"] == did["train"] == "cached"  # the name is in no training input
    assert did["export:tflite_int8"] == "run"  # but it is in every file's metadata
    same = _build(tmp_path / "third", {"verify.budgets.min_accuracy": 0.5}, cache=cache)
    assert _ran(same) == set() and set(_did(same).values()) == {"cached", "run"}
    assert (tmp_path / "third" / "model_int8.tflite").read_bytes() == (first / "model_int8.tflite").read_bytes()
    assert json.loads((tmp_path / "third" / "report.json").read_text())["artifacts"][1]["path"] == str(
        tmp_path / "third" / "model_float32.tflite")


def test_a_damaged_cache_entry_is_dropped_not_used(tiny_build, tmp_path):
    cache = StageCache(tmp_path / "cache")
    first = tmp_path / "first"
    shutil.copytree(tiny_build[0], first)
    _build(first, force=["export"], cache=cache)
    entry = next(e for e in cache.entries() if e.stage == "export:tflite_int8")
    (entry.folder / "files" / "model_int8.tflite").write_bytes(b"not a model")
    again = tmp_path / "again"
    shutil.copytree(tiny_build[0], again)
    (again / "model_int8.tflite").unlink()
    report = _build(again, cache=cache)
    assert _did(report)["export:tflite_int8"] == "run"
    assert (again / "model_int8.tflite").read_bytes() == (first / "model_int8.tflite").read_bytes()


def test_the_cache_keeps_to_its_size_evicting_the_least_recently_used(tiny_build, tmp_path):
    import os

    cache = StageCache(tmp_path / "cache")
    first = tmp_path / "first"
    shutil.copytree(tiny_build[0], first)
    _build(first, force=["export"], cache=cache)
    entries = sorted(cache.entries(), key=lambda e: e.bytes)
    for age, entry in enumerate(entries):
        os.utime(entry.folder / "entry.json", (1000 + age, 1000 + age))
    cache.max_bytes = sum(e.bytes for e in entries) - 1
    evicted = cache.trim()
    assert [e.stage for e in evicted] == [entries[0].stage]
    assert len(cache.entries()) == len(entries) - 1


@pytest.mark.build
def test_cache_list_and_clear_from_the_command_line(tiny_build, tmp_path):
    from typer.testing import CliRunner

    from edgecnn_cli.main import app

    cache = tmp_path / "cache"
    first = tmp_path / "first"
    shutil.copytree(tiny_build[0], first)
    _build(first, force=["export"], cache=StageCache(cache))
    runner = CliRunner()
    listed = runner.invoke(app, ["cache", "list", "--cache", str(cache), "--json"])
    assert listed.exit_code == 0, listed.output
    stages = {entry["stage"] for entry in json.loads(listed.stdout)["entries"]}
    # Not verify:onnx_float32: onnxruntime's converter writes the .ort copy differently each time, but
    # verification reads the .onnx, which came out the same.
    assert stages == {"export:tflite_float32", "export:tflite_int8", "export:onnx_float32"}
    table = runner.invoke(app, ["cache", "list"], env={"EDGECNN_CACHE": str(cache), "COLUMNS": "200"})
    assert "export:tflite_int8" in table.output and "tiny" in table.output
    cleared = runner.invoke(app, ["cache", "clear", "--cache", str(cache)])
    assert cleared.exit_code == 0 and "removed 3 cached stages" in cleared.output
    assert StageCache(cache).entries() == []
    unnamed = runner.invoke(app, ["cache", "list"], env={"EDGECNN_CACHE": ""})
    assert unnamed.exit_code == 2 and "no cache named: pass --cache DIR or set EDGECNN_CACHE" in unnamed.output


def test_recipe_yaml_keeps_the_merged_recipe_of_the_latest_build(rebuilt):
    _build(rebuilt, {"verify.runs": 21})
    assert yaml.safe_load((rebuilt / "recipe.yaml").read_text())["verify"]["runs"] == 21
