"""Shared fixtures (a tiny recipe, one tiny build reused by the export, verify and CLI tests) and the
test tiers: `unit` (no training), `build` (tiny trainings and builds), `slow` (the shipped recipes).
A test is `build` when it uses a fixture that trains or is marked so; `slow` is marked by hand; every
other test is `unit`. Quick local loop: pytest -m unit."""

import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

TINY_RECIPE = {
    "name": "tiny",
    "seed": 3,
    "data": {"source": "digits", "image_size": [16, 16], "channels": 1},
    "model": {"name": "dscnn_xs"},
    "train": {"epochs": 4, "batch_size": 64, "learning_rate": 0.01, "early_stopping": {"patience": 0}},
    "export": {"calibration": {"samples": 32, "allow_few": True}},
    # A 4-epoch model's int8 file can lose a point to rounding; its accuracy is not what these tests measure.
    "verify": {"warmup": 2, "runs": 20, "budgets": {"max_accuracy_drop": 0.05}},
}


@pytest.fixture
def tiny_recipe_file(tmp_path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY_RECIPE))
    return path


@pytest.fixture(scope="session")
def tiny_build(tmp_path_factory):
    """One real build of the tiny recipe: (run folder, its BuildReport)."""
    from edgecnn.incremental.build import build
    from edgecnn.recipe import validate_recipe

    out_dir = tmp_path_factory.mktemp("tiny_run")
    report = build(validate_recipe(TINY_RECIPE), out_dir, show_progress=False)
    return out_dir, report


@pytest.fixture(scope="session")
def digits_build(tmp_path_factory):
    """The shipped digits recipe built in full, once: (recipe, run folder, report). Slow tests only."""
    from edgecnn.incremental.build import build
    from edgecnn.recipe import load_recipe

    recipe = load_recipe(REPO / "recipes" / "digits.yaml")
    out_dir = tmp_path_factory.mktemp("digits_run") / "run"
    return recipe, out_dir, build(recipe, out_dir, show_progress=False)


@pytest.fixture(scope="session")
def mcu_run(tmp_path_factory):
    """recipes/mcu.yaml built with 4 epochs, plus a hybrid file TFLM refuses: (run folder, its BuildReport)."""
    from edgecnn.incremental.build import build
    from edgecnn.recipe import load_recipe

    recipe = load_recipe(REPO / "recipes" / "mcu.yaml", ["train.epochs=4", "verify.runs=10",
                                                         "optimize.variants=[ptq_dynamic]"])
    out_dir = tmp_path_factory.mktemp("mcu_run")
    return out_dir, build(recipe, out_dir, show_progress=False)


@pytest.fixture(scope="session")
def tiny_dataset():
    """The tiny recipe's data, split as its builds split it."""
    from edgecnn.data import load_dataset
    from edgecnn.recipe import validate_recipe

    recipe = validate_recipe(TINY_RECIPE)
    return load_dataset(recipe.data, recipe.seed)


TRAINING_FIXTURES = {"tiny_build", "folder_run", "digits_build", "mcu_run"}  # fixtures that train a model (others build on them)


# A shipped recipe's full build (slow) checks all its small build checks, on the real settings: when both are
# collected, the small one is left out (the shapes one alone costs 2.5 minutes).
FULL_BUILD_TESTS = {"test_digits_recipe_meets_its_accuracy_targets": "digits",
                    "test_shapes_recipe_meets_its_accuracy_targets": "shapes"}


class LeaveOutCoveredSmallBuilds:
    @pytest.hookimpl(trylast=True)  # after -m and -k chose the tests: only a full build that will run covers
    def pytest_collection_modifyitems(self, config, items):
        full = {FULL_BUILD_TESTS[item.name] for item in items if item.name in FULL_BUILD_TESTS}
        covered = [item for item in items if getattr(item, "originalname", "") == "test_recipe_builds_with_small_settings"
                   and item.callspec.id in full]
        if covered:
            config.hook.pytest_deselected(items=covered)
            items[:] = [item for item in items if item not in covered]


def pytest_configure(config):
    config.pluginmanager.register(LeaveOutCoveredSmallBuilds())


def pytest_collection_modifyitems(items):
    for item in items:
        if item.get_closest_marker("slow") or item.get_closest_marker("build"):
            continue
        item.add_marker(pytest.mark.build if TRAINING_FIXTURES & set(item.fixturenames) else pytest.mark.unit)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from _without_tensorflow(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _without_tensorflow(item))


def _without_tensorflow(item):
    """A unit test (its fixtures included) must leave TensorFlow unimported: the unit tier is the one that runs
    in a minute without it. Checked only while nothing before has imported it (a full run's build tests do)."""
    loaded = "tensorflow" in sys.modules
    result = yield
    if not loaded and "tensorflow" in sys.modules and item.get_closest_marker("unit"):
        raise AssertionError(f"{item.nodeid} is a unit test but imported TensorFlow: mark it build "
                             "(@pytest.mark.build) or keep TensorFlow out of it")
    return result
