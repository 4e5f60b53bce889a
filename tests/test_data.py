import subprocess
import sys
import textwrap

import numpy as np
import pytest

from edgecnn.data import load_dataset, normalize, stratified_split
from edgecnn.data.frames import frame_to_input
from edgecnn.data.shapes import SHAPES, generate_shapes, shape_camera_frames
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


SCENES = dict(count=40, size=(32, 32), channels=3, classes=["circle", "cross", "star"], seed=5, size_range=(0.3, 0.8))


def test_camera_frames_replay_the_stored_scenes():
    """Without noise, a frame at scale 1 is the stored image, byte for byte, in the order of `ids`: the frames
    follow the generator's random order, whatever images are asked for."""
    stored = generate_shapes(**SCENES, noise=0.0)[0]
    ids = [33, 2, 17]
    frames = shape_camera_frames(**SCENES, noise=0.0, ids=ids, scale=1)
    assert all(np.array_equal(frame, stored[i]) for frame, i in zip(frames, ids))


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_camera_frames_are_the_same_scenes_drawn_larger(scale):
    """k times larger and sampled back by MediaPipe's sampling, a noise-free frame shows its own scene (a few grey
    levels off at the edges), not a neighbour's."""
    stored = generate_shapes(**SCENES, noise=0.0)[0].astype(float)
    frames = shape_camera_frames(**SCENES, noise=0.0, ids=range(10), scale=scale)
    assert frames[0].shape == (32 * scale, 32 * scale, 3)
    seen = np.stack([frame_to_input(frame, (32, 32), "stretch") for frame in frames]).astype(float)
    own = np.abs(seen - stored[:10]).mean(axis=(1, 2, 3))
    neighbour = np.abs(seen - stored[1:11]).mean(axis=(1, 2, 3))
    assert own.max() < 6 and (neighbour > 4 * own).all(), (own, neighbour)


def test_camera_frames_keep_the_noise_per_pixel():
    """The camera's pixels carry the recipe's noise (std noise x 255), not the enlarged stored noise."""
    clean = shape_camera_frames(**SCENES, noise=0.0, ids=range(5), scale=4)
    noisy = shape_camera_frames(**SCENES, noise=0.15, ids=range(5), scale=4)
    clean, noisy = np.stack(clean).astype(float), np.stack(noisy).astype(float)
    unclipped = (clean > 70) & (clean < 185)  # 3 standard deviations from either end
    assert abs((noisy - clean)[unclipped].std() / (0.15 * 255) - 1) < 0.03


def test_the_app_check_draws_shapes_frames_and_enlarges_scans():
    """Camera frames of a generated source are its scenes drawn again (noise per camera pixel); a scan's are its
    image enlarged: the two differ, and at scale 1 both are the source images themselves."""
    from edgecnn.verify.app import camera_frame, camera_frames, source_images

    for config in (data_config(source="shapes", image_size=[24, 24], shapes={"count": 60}),
                   data_config(source="digits", image_size=[16, 16])):
        dataset = load_dataset(config, seed=3)
        own = source_images(config, dataset, 3)
        frames = camera_frames(config, dataset, 3, own, 2)
        enlarged = [camera_frame(image, 2) for image in own]
        assert all(np.array_equal(f, o) for f, o in zip(camera_frames(config, dataset, 3, own, 1), own, strict=True))
        assert [f.shape for f in frames] == [e.shape for e in enlarged] and frames[0].shape[2] == 3
        drawn_again = not all(np.array_equal(f, e) for f, e in zip(frames, enlarged))
        assert drawn_again == (config.source == "shapes")


@pytest.mark.parametrize("scheme, low, high", [("unit", 0.0, 1.0), ("symmetric", -1.0, 1.0)])
def test_normalization_contract(scheme, low, high):
    ds = load_dataset(data_config(source="digits", normalization=scheme), seed=0)
    x = normalize(np.array([0, 255], dtype=np.uint8), ds.contract)
    assert x.tolist() == [low, high] and ds.contract.value_range == (low, high)
