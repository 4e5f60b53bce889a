"""Data sources (folders, lists, .npz, Keras sets), decoding, resize policies and splits: no TensorFlow."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from edgecnn.data import load_dataset, normalize
from edgecnn.data.images import ImageFormat, load_image
from edgecnn.data.shapes import write_shapes_folder
from edgecnn.errors import DataError, RecipeError
from edgecnn.recipe import validate_recipe


def data_config(**data):
    return validate_recipe({"name": "x", "data": data}).data


def folder_config(path, **extra):
    return data_config(source="folder", path=str(path), image_size=[16, 16], channels=3, **extra)


@pytest.fixture
def photos(tmp_path):
    """90 shape images in three class folders, mixed sizes, PNG and JPEG."""
    root = tmp_path / "photos"
    write_shapes_folder(root, 90, ["circle", "cross", "line"], seed=0, sides=(20, 40))
    return root


def test_folder_classes_counts_and_stratified_split(photos):
    ds = load_dataset(folder_config(photos), seed=0)
    assert ds.class_names == ["circle", "cross", "line"]
    assert len(ds.train) + len(ds.val) + len(ds.test) == 90
    assert np.bincount(ds.y_test).tolist() == [6, 6, 6]  # 20% of each class of 30
    assert ds.x_test.shape == (18, 16, 16, 3) and ds.x_test.dtype == np.uint8
    # the split holds files, and each file sits in its label's folder
    assert all(f"/{ds.class_names[label]}/" in path for path, label in zip(ds.train.paths, ds.train.labels))


def test_same_seed_same_split_list_other_seed_differs(photos):
    first = load_dataset(folder_config(photos), seed=5).split_list()
    again = load_dataset(folder_config(photos), seed=5).split_list()
    other = load_dataset(folder_config(photos), seed=6).split_list()
    assert first == again and first != other
    rows = list(csv.reader(first.splitlines()))
    assert rows[0] == ["split", "label", "item"] and len(rows) == 91


def test_folder_train_val_test_subfolders_are_honoured(tmp_path):
    for split, count in (("train", 30), ("val", 9), ("test", 12)):
        write_shapes_folder(tmp_path / "set" / split, count, ["circle", "line", "ring"], seed=len(split))
    ds = load_dataset(folder_config(tmp_path / "set"), seed=0)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (30, 9, 12)
    assert all("/test/" in path for path in ds.test.paths) and all("/val/" in path for path in ds.val.paths)


def test_folder_without_val_carves_it_from_train(tmp_path):
    for split in ("train", "test"):
        write_shapes_folder(tmp_path / "set" / split, 60, ["circle", "line"], seed=len(split))
    ds = load_dataset(folder_config(tmp_path / "set", split={"val": 0.2}), seed=0)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (48, 12, 60)
    assert all("/train/" in path for path in ds.val.paths)


def test_csv_and_json_lists_relative_to_their_folder_with_split_column(photos):
    files = sorted(photos.rglob("*.*"))
    rows = [(str(f.relative_to(photos)), f.parent.name, "test" if i % 5 == 0 else "train") for i, f in enumerate(files)]
    with open(photos / "list.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([("path", "label", "split"), *rows])
    (photos / "list.json").write_text(json.dumps([{"path": p, "label": lab, "split": s} for p, lab, s in rows]))
    from_csv = load_dataset(data_config(source="list", path=str(photos / "list.csv"), image_size=[16, 16]), seed=0)
    from_json = load_dataset(data_config(source="list", path=str(photos / "list.json"), image_size=[16, 16]), seed=0)
    assert from_csv.split_list() == from_json.split_list()
    assert len(from_csv.test) == 18 and from_csv.x_test.shape == (18, 16, 16, 1)


def test_npz_keras_layout_with_and_without_val(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(100, 28, 28), dtype=np.uint8)
    y = np.arange(100) % 4
    np.savez(tmp_path / "a.npz", x_train=x[:80], y_train=y[:80], x_test=x[80:], y_test=y[80:])
    np.savez(tmp_path / "b.npz", x_train=x[:60], y_train=y[:60], x_val=x[60:80], y_val=y[60:80], x_test=x[80:],
             y_test=y[80:])
    a = load_dataset(data_config(source="npz", path=str(tmp_path / "a.npz"), image_size=[28, 28]), seed=0)
    b = load_dataset(data_config(source="npz", path=str(tmp_path / "b.npz"), image_size=[14, 14]), seed=0)
    assert (len(a.train), len(a.val), len(a.test)) == (68, 12, 20) and a.class_names == ["0", "1", "2", "3"]
    assert np.array_equal(a.x_test[..., 0], x[80:])  # untouched pixels at the stored size
    assert (len(b.train), len(b.val), len(b.test)) == (60, 20, 20) and b.x_test.shape[1:] == (14, 14, 1)


def test_keras_set_offline_names_the_npz_alternative(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv("EDGECNN_OFFLINE", "1")
    with pytest.raises(DataError, match=r"data.source cifar10: not in the Keras cache .*data.source=npz"):
        load_dataset(data_config(source="cifar10", image_size=[32, 32], channels=3), seed=0)


def test_keras_set_reads_a_local_npz_copy(tmp_path):
    x = np.broadcast_to(np.arange(40, dtype=np.uint8)[:, None, None], (40, 28, 28)).copy()  # 40 distinct images
    np.savez(tmp_path / "mnist.npz", x_train=x[:30], y_train=np.arange(30) % 10, x_test=x[30:], y_test=np.arange(10))
    ds = load_dataset(data_config(source="mnist", path=str(tmp_path / "mnist.npz"), image_size=[28, 28],
                                  split={"val": 0.0}), seed=0)
    assert ds.class_names == [str(i) for i in range(10)] and len(ds.test) == 10


@pytest.mark.parametrize("policy, expected", [
    ("stretch", [[255, 0, 0], [0, 0, 255]]),  # the whole 40x20 image squeezed: left red, right blue
    ("crop", [[255, 0, 0], [0, 0, 255]]),  # the centre 20x20: still red then blue halves
    ("pad", [[0, 0, 0], [255, 0, 0]]),  # letterboxed: black bars above and below
])
def test_resize_policies(tmp_path, policy, expected):
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, :20] = (255, 0, 0)
    image[:, 20:] = (0, 0, 255)
    Image.fromarray(image).save(tmp_path / "wide.png")
    pixels = load_image(tmp_path / "wide.png", ImageFormat((8, 8), 3, policy))
    assert pixels.shape == (8, 8, 3)
    if policy == "pad":  # top row is padding, a middle row is the picture
        assert pixels[0, 4].tolist() == expected[0] and pixels[4, 0].tolist() == expected[1]
    else:
        assert pixels[4, 0].tolist() == expected[0] and pixels[4, 7].tolist() == expected[1]


def test_gif_first_frame_bmp_and_transparent_png_decode(tmp_path):
    frames = [Image.new("P", (12, 12), color) for color in (50, 200)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    Image.new("RGB", (10, 14), (10, 200, 30)).save(tmp_path / "b.bmp")
    Image.new("RGBA", (9, 9), (255, 255, 255, 0)).save(tmp_path / "c.png")
    gif = load_image(tmp_path / "a.gif", ImageFormat((6, 6), 3))
    first = np.asarray(frames[0].convert("RGB"))[0, 0]
    assert (gif == first).all()
    assert load_image(tmp_path / "b.bmp", ImageFormat((6, 6), 1)).shape == (6, 6, 1)
    assert load_image(tmp_path / "c.png", ImageFormat((6, 6), 3)).max() == 0  # transparent -> black, not white


def test_mean_std_normalization_per_channel_and_recorded():
    config = data_config(source="shapes", image_size=[8, 8], channels=3, normalization="mean_std",
                         mean=[100, 110, 120], std=[50, 55, 60], shapes={"count": 30})
    ds = load_dataset(config, seed=0)
    x = normalize(ds.x_test, ds.contract)
    expected = (ds.x_test[0, 0, 0].astype(np.float32) - [100, 110, 120]) / [50, 55, 60]
    assert np.allclose(x[0, 0, 0], expected)
    record = ds.contract.to_dict()
    assert record["mean"] == [100, 110, 120] and "x = (pixel - [100, 110, 120]) / [50, 55, 60]" in record["preprocessing"]


@pytest.mark.parametrize("data, message", [
    ({"normalization": "mean_std"}, "needs data.mean and data.std"),
    ({"normalization": "mean_std", "channels": 3, "mean": [1, 2], "std": [1]}, "data.mean has 2 values"),
    ({"normalization": "unit", "mean": [1]}, "apply only to normalization mean_std"),
    ({"source": "folder"}, "needs data.path"),
    ({"resize": "squash"}, "data.resize"),
])
def test_data_section_mistakes_are_named(data, message):
    with pytest.raises(RecipeError, match=message):
        validate_recipe({"name": "x", "data": data})


def _solid(path, value, size=(12, 12)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", size, value).save(path)


def test_duplicate_images_keep_one_copy_and_the_test_split_keeps_its_own(tmp_path):
    root = tmp_path / "set"
    for split, values in (("train", (0, 30, 60)), ("test", (90, 120))):
        for name, offset in (("a", 0), ("b", 5)):
            for value in values:
                _solid(root / split / name / f"{value}.png", value + offset)
    _solid(root / "train" / "a" / "copy.png", 90)  # the same pixels as test/a/90.png: a leak into training
    _solid(root / "train" / "a" / "copy2.png", 0)  # the same as train/a/0.png
    ds = load_dataset(folder_config(root, split={"val": 0.0}), seed=0)
    assert sorted(p.rsplit("/", 2)[-1] for p in ds.train.paths if "/a/" in p) == ["0.png", "30.png", "60.png"]
    assert len(ds.test) == 4
    problems = {entry["path"].rsplit("set/", 1)[1]: entry["problem"] for entry in ds.skipped}
    assert problems == {"train/a/copy.png": f"duplicate of {root}/test/a/90.png",
                        "train/a/copy2.png": f"duplicate of {root}/train/a/0.png"}


def test_the_same_image_under_two_labels_is_named_or_skipped(tmp_path):
    for name, values in (("a", (0, 30, 60)), ("b", (5, 35, 65))):
        for value in values:
            _solid(tmp_path / "set" / name / f"{value}.png", value)
    _solid(tmp_path / "set" / "b" / "odd.png", 30)
    with pytest.raises(DataError, match=r"b/odd.png is the same image as .*a/30.png but labelled 'b', not 'a'"):
        load_dataset(folder_config(tmp_path / "set"), seed=0)
    ds = load_dataset(folder_config(tmp_path / "set", skip_bad_files=True, split={"val": 0.0, "test": 0.4}), seed=0)
    assert len(ds.train) + len(ds.test) == 5
    assert sorted(entry["path"].rsplit("/", 2)[-2] for entry in ds.skipped) == ["a", "b"]


def test_npz_duplicates_between_train_and_test_leave_the_test_copy(tmp_path):
    x = np.arange(8, dtype=np.uint8).reshape(8, 1, 1, 1).repeat(4, 1).repeat(4, 2)
    y = np.array([0, 1] * 4)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y, x_test=x[:2], y_test=y[:2])
    ds = load_dataset(data_config(source="npz", path=str(tmp_path / "d.npz"), image_size=[4, 4], split={"val": 0.0}),
                      seed=0)
    assert (len(ds.train), len(ds.test)) == (6, 2)
    assert [entry["path"] for entry in ds.skipped] == ["x_train[0]", "x_train[1]"]
