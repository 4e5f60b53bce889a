import subprocess
import sys
import textwrap

import numpy as np
import pytest

from edgecnn.data import load_dataset, normalize, stratified_split
from edgecnn.data.shapes import SHAPES, generate_shapes
from edgecnn.errors import DataError
from edgecnn.recipe import validate_recipe


def data_config(**data):
    return validate_recipe({"name": "x", "data": data}).data


def test_digits_resized_split_and_stratified():
    # execute
    ds = load_dataset(data_config(source="digits", image_size=[16, 16]), seed=0)
    # assert
    total = len(ds.train) + len(ds.val) + len(ds.test)
    train_images = ds.train.images()
    assert total == 1797 and train_images.shape[1:] == (16, 16, 1) and train_images.dtype == np.uint8
    assert ds.class_names == [str(i) for i in range(10)]
    test_share = np.bincount(ds.y_test) / np.bincount(np.concatenate([ds.train.labels, ds.val.labels, ds.y_test]))
    assert np.all(np.abs(test_share - 0.2) < 0.02)
    assert train_images.max() == 255


def test_digits_are_scikit_learns_read_without_importing_it():
    script = textwrap.dedent("""
        import sys
        from edgecnn.data.digits import load_digits
        images, labels, names = load_digits()
        print("sklearn" in sys.modules)
        import numpy as np
        from sklearn.datasets import load_digits as sklearn_digits
        bunch = sklearn_digits()
        expected = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
        print(np.array_equal(images, expected), np.array_equal(labels, bunch.target), names == list("0123456789"))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True", "True", "True"]


def test_split_is_seeded_and_disjoint():
    labels = np.repeat(np.arange(4), 25)
    a, b, c = (stratified_split(labels, 0.2, 0.2, seed) for seed in (1, 1, 2))
    assert np.array_equal(a.test, b.test) and not np.array_equal(a.test, c.test)
    everything = np.concatenate([a.train, a.val, a.test])
    assert len(np.unique(everything)) == len(labels) == len(everything)


def test_split_refuses_classes_too_small():
    with pytest.raises(DataError, match="too few"):
        stratified_split(np.array([0, 0, 1, 1, 1, 1, 1]), 0.3, 0.3, 0)


def test_shapes_deterministic_balanced_and_distinct():
    a = generate_shapes(60, (32, 32), 3, ["circle", "cross", "line"], seed=7)
    b = generate_shapes(60, (32, 32), 3, ["circle", "cross", "line"], seed=7)
    c = generate_shapes(60, (32, 32), 3, ["circle", "cross", "line"], seed=8)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert np.bincount(a[1]).tolist() == [20, 20, 20] and a[0].shape == (60, 32, 32, 3)
    # a shape differs from its background: the image is not flat
    assert all(image.std() > 10 for image in a[0])


def test_shapes_every_registered_shape_draws_in_grayscale():
    images, labels, names = generate_shapes(len(SHAPES) * 2, (24, 24), 1, list(SHAPES), seed=0)
    assert images.shape == (len(SHAPES) * 2, 24, 24, 1) and names == list(SHAPES)


def test_shapes_unknown_class_is_named():
    with pytest.raises(DataError, match="unknown shape 'hexagon'"):
        generate_shapes(10, (16, 16), 1, ["circle", "hexagon"], seed=0)


@pytest.mark.parametrize("scheme, low, high", [("unit", 0.0, 1.0), ("symmetric", -1.0, 1.0)])
def test_normalization_contract(scheme, low, high):
    ds = load_dataset(data_config(source="digits", normalization=scheme), seed=0)
    x = normalize(np.array([0, 255], dtype=np.uint8), ds.contract)
    assert x.tolist() == [low, high] and ds.contract.value_range == (low, high)
