from pathlib import Path

import pytest
import yaml

from edgecnn.errors import RecipeError
from edgecnn.recipe import load_recipe, parse_override, validate_recipe


def write(tmp_path, data, name="r.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def test_defaults_fill_missing_sections(tmp_path):
    # setup
    path = write(tmp_path, {"name": "x"})
    # execute
    recipe = load_recipe(path)
    # assert
    assert recipe.train.epochs == 30 and recipe.export.formats == ["tflite_float32", "tflite_int8", "onnx_float32"]


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"name": "x", "trian": {}}, "unknown key 'trian'; did you mean 'train'?"),
        ({"name": "x", "train": {"epoks": 3}}, "unknown key 'train.epoks'; did you mean 'train.epochs'?"),
        ({"name": "x", "train": {"epochs": 0}}, "key 'train.epochs': Input should be greater than or equal to 1; received 0"),
        ({"name": "x", "model": {"alpha": "big"}}, "key 'model.alpha'"),
        ({"name": "x", "data": {"source": "imagenet"}}, "key 'data.source'"),
        ({"name": "x", "export": {"formats": ["coreml"]}}, "key 'export.formats.0'"),
        ({"seed": 1}, "missing required key 'name'"),
    ],
)
def test_bad_recipe_names_file_and_key(tmp_path, data, expected):
    path = write(tmp_path, data)
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    message = str(info.value)
    assert message.startswith(str(path)) and expected in message
    assert "\n" not in message


def test_overrides_merge_over_file(tmp_path):
    path = write(tmp_path, {"name": "x", "train": {"epochs": 9, "batch_size": 16}})
    recipe = load_recipe(path, ["train.epochs=3", "data.image_size=[12, 12]", "export.formats=[tflite_int8]"])
    assert recipe.train.epochs == 3 and recipe.train.batch_size == 16
    assert recipe.data.image_size == (12, 12) and recipe.export.formats == ["tflite_int8"]


def test_override_without_equals_is_rejected():
    with pytest.raises(RecipeError, match="expected KEY=VALUE"):
        parse_override("train.epochs")


def test_override_of_unknown_key_is_caught(tmp_path):
    path = write(tmp_path, {"name": "x"})
    with pytest.raises(RecipeError, match="did you mean 'train.epochs'"):
        load_recipe(path, ["train.epoch=3"])


def test_invalid_yaml_and_missing_file(tmp_path):
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(write(tmp_path, "name: [unclosed\n"))
    with pytest.raises(RecipeError, match="recipe file not found"):
        load_recipe(tmp_path / "nope.yaml")
    with pytest.raises(RecipeError, match="must be a mapping"):
        load_recipe(write(tmp_path, "- a\n- b\n", "list.yaml"))


def test_yaml_tags_are_not_executed(tmp_path):
    path = write(tmp_path, "name: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(path)


def test_fingerprint_changes_with_content():
    a = validate_recipe({"name": "x"})
    b = validate_recipe({"name": "x", "seed": 1})
    assert a.fingerprint() == validate_recipe({"name": "x"}).fingerprint() != b.fingerprint()


def test_shapes_size_range_validated():
    with pytest.raises(RecipeError, match="min_size"):
        validate_recipe({"name": "x", "data": {"shapes": {"min_size": 0.9, "max_size": 0.5}}})


@pytest.mark.parametrize(
    "model, data, expected",
    [
        ({"name": "mobilenet3"}, {}, "model.name: unknown model 'mobilenet3'; did you mean"),
        ({"blocks": ["cn_c8", "ds_k9_c16"]}, {}, "block 'ds_k9_c16': kernel must be one of (3, 5)"),
        ({"name": "dscnn_m", "padding": "valid"}, {"image_size": [8, 8]}, "shrinks the 8x8 input to nothing"),
    ],
)
def test_architecture_is_checked_against_the_data_before_anything_runs(tmp_path, model, data, expected):
    path = write(tmp_path, {"name": "x", "model": model, "data": data})
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert str(info.value).startswith(f"{path}: ") and expected in str(info.value)


def test_every_recipe_field_says_what_it_is():
    """Sections included: the schema is the recipe's reference (`--help` texts and the README's tables use it)."""
    from pydantic import BaseModel

    from edgecnn.recipe import Recipe

    def fields(model, prefix=""):
        for name, info in model.model_fields.items():
            yield f"{prefix}{name}", info
            for kind in (info.annotation, *getattr(info.annotation, "__args__", ())):
                if isinstance(kind, type) and issubclass(kind, BaseModel):
                    yield from fields(kind, f"{prefix}{name}.")

    found = list(fields(Recipe))
    assert len(found) > 130 and [path for path, info in found if not info.description] == []


def test_typed_overrides_are_set_as_given_where_text_is_read_as_yaml(tmp_path):
    """Flags hand the recipe typed (key, value) pairs: a folder named 007 stays "007"; as --set text, YAML reads
    the same characters as the number 7, which is no path."""
    from edgecnn.recipe import load_recipe

    (tmp_path / "r.yaml").write_text("name: r\n")
    typed = load_recipe(tmp_path / "r.yaml", [("data.source", "folder"), ("data.path", "007"),
                                              ("verify.budgets.min_accuracy", 0.97)])
    assert Path(typed.data.path).name == "007" and typed.verify.budgets.min_accuracy == 0.97
    with pytest.raises(RecipeError, match="data.path': Input should be a valid string; received 7"):
        load_recipe(tmp_path / "r.yaml", ["data.source=folder", "data.path=007"])
