"""Every data source a recipe can name, read into one shape: items (arrays or file paths), labels,
class names, any split the source itself defines, and the bad files it skipped.

    digits, shapes               built in, offline
    folder                       one subfolder per class; optional train/ val/ test/ on top
    list                         a CSV or JSON list of path,label[,split] rows, relative to its own folder
    npz                          x_train, y_train, x_test, y_test (+ optional x_val, y_val, class_names)
    mnist, fashion_mnist, cifar10   tf_keras.datasets, cached by Keras; offline, use an npz copy

Files are only scanned here (each decoded once, to find bad ones); pixels are read later, batch by
batch, so a folder of any size is never held in memory.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgecnn._tf import keras
from edgecnn.data.digits import load_digits
from edgecnn.data.images import BadImage, ImageFormat, fit_array, is_image_name, open_image
from edgecnn.data.shapes import generate_shapes
from edgecnn.errors import DataError
from edgecnn.fileio import read_user_text

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import DataConfig

SPLITS = ("train", "val", "test")
KERAS_SETS = {
    "mnist": ("mnist.npz", [str(i) for i in range(10)]),
    "fashion_mnist": ("fashion-mnist", ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                                        "sneaker", "bag", "ankle_boot"]),
    "cifar10": ("cifar-10-batches-py", ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                        "ship", "truck"]),
}
IGNORED_FILES = {"thumbs.db", "desktop.ini"}


@dataclass
class SourceData:
    """What a source holds, before splitting. Exactly one of `images` and `paths` is set."""

    labels: np.ndarray
    class_names: list[str]
    images: np.ndarray | None = None  # uint8 NHWC, already in the model's format
    paths: list[str] | None = None
    assigned: np.ndarray | None = None  # per item "train" / "val" / "test", when the source defines splits
    skipped: list[dict] = field(default_factory=list)  # {"path", "problem"}
    image_sizes: Counter = field(default_factory=Counter)  # (width, height) -> count, as stored
    image_modes: Counter = field(default_factory=Counter)  # Pillow mode ("L", "RGB", "P", ...) -> count

    def __len__(self) -> int:
        return len(self.labels)


def read_source(config: DataConfig, seed: int, native: bool = False) -> SourceData:
    """The recipe's `data:` section -> SourceData, or a one-line DataError naming the file or key.
    `native` keeps array sources at their stored size and channels (for looking at them)."""
    fmt = None if native else ImageFormat(tuple(config.image_size), config.channels, config.resize)
    name = config.source
    if name == "digits":
        return _from_arrays(*load_digits(), fmt, "digits")
    if name == "shapes":
        options = config.shapes
        images, labels, names = generate_shapes(options.count, tuple(config.image_size), config.channels,
                                                options.classes, seed,
                                                noise=options.noise, size_range=(options.min_size, options.max_size))
        return _from_arrays(images, labels, names, fmt, "shapes")
    if name == "folder":
        return read_folder(Path(config.path), config.classes, config.skip_bad_files)
    if name == "list":
        return read_list(Path(config.path), config.classes, config.skip_bad_files, config.allow_outside)
    if name == "npz" or (name in KERAS_SETS and config.path):
        return read_npz(Path(config.path), fmt, config.classes or (KERAS_SETS[name][1] if name in KERAS_SETS else None))
    if name in KERAS_SETS:
        return read_keras_set(name, fmt)
    raise DataError(f"data.source: unknown source {name!r}")


# ---------------------------------------------------------------- arrays: digits, shapes, npz, Keras sets

def _from_arrays(images, labels, class_names, fmt: ImageFormat | None, where: str, assigned=None) -> SourceData:
    _check_array_labels(labels, class_names, where)
    mode = "L" if images.shape[-1] == 1 else "RGB"
    sizes = Counter({(int(images.shape[2]), int(images.shape[1])): len(images)})
    return SourceData(np.asarray(labels, dtype=np.int64), list(class_names), images=images if fmt is None else fit_array(images, fmt),
                      assigned=assigned, image_sizes=sizes, image_modes=Counter({mode: len(images)}))


def _check_array_labels(labels, class_names, where: str) -> None:
    bad = np.flatnonzero((labels < 0) | (labels >= len(class_names)))
    if len(bad):
        raise DataError(f"{where}: label {int(labels[bad[0]])} (item {int(bad[0])}) is outside the "
                        f"{len(class_names)} classes 0..{len(class_names) - 1}")


def read_npz(path: Path, fmt: ImageFormat | None, class_names: list[str] | None) -> SourceData:
    """Keras dataset layout: x_train, y_train, x_test, y_test; x_val, y_val and class_names optional."""
    if not path.is_file():
        raise DataError(f"{path}: .npz file not found")
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
    except ValueError as exc:  # object arrays need pickle, which model data never may
        raise DataError(f"{path}: cannot read without pickle ({exc}); store plain numeric arrays") from None
    except Exception as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    for key in ("x_train", "y_train", "x_test", "y_test"):
        if key not in arrays:
            raise DataError(f"{path}: missing array '{key}'; expected x_train, y_train, x_test, y_test "
                            f"(has {', '.join(sorted(arrays)) or 'nothing'})")
    splits = [s for s in SPLITS if f"x_{s}" in arrays]
    pairs = {s: _npz_pair(path, s, arrays.get(f"x_{s}"), arrays.get(f"y_{s}")) for s in splits}
    empty = [f"x_{s}" for s in ("train", "test") if not len(pairs[s][0])]
    if empty:
        raise DataError(f"{path}: {' and '.join(empty)} hold no images")
    shapes = {s: pairs[s][0].shape[1:] for s in splits}
    if len(set(shapes.values())) > 1:
        raise DataError(f"{path}: image shapes differ between splits ({', '.join(f'x_{s} {list(v)}' for s, v in shapes.items())})")
    if class_names is None:
        if "class_names" in arrays:
            class_names = [str(name) for name in arrays["class_names"]]
        else:
            top = max(int(pairs[s][1].max()) for s in splits if len(pairs[s][1]))
            class_names = [str(i) for i in range(top + 1)]
    for s in splits:
        _check_array_labels(pairs[s][1], class_names, f"{path} y_{s}")
    _require_two_classes({class_names[i] for s in splits for i in np.unique(pairs[s][1])}, path)
    images = np.concatenate([pairs[s][0] for s in splits])
    labels = np.concatenate([pairs[s][1] for s in splits])
    assigned = np.concatenate([np.full(len(pairs[s][1]), s) for s in splits])
    names = [f"x_{s}[{i}]" for s in splits for i in range(len(pairs[s][1]))]
    digests = [hashlib.sha1(image.tobytes()).digest() for image in images]  # not the pixels again: a second copy
    keep, skipped = drop_duplicates(digests, labels, assigned, names, class_names, where=path)
    if len(keep) < len(images):  # fancy indexing copies every image; only when some must go
        images, labels, assigned = images[keep], labels[keep], assigned[keep]
    data = _from_arrays(images, labels, class_names, fmt, str(path), assigned=assigned)
    data.skipped = skipped
    return data


def _require_two_classes(present: set[str], where) -> None:
    """A classifier needs two classes to tell apart, with images of each."""
    if len(present) < 2:
        raise DataError(f"{where}: needs at least 2 classes with images, found {len(present)} "
                        f"({', '.join(sorted(present)) or 'none'})")


def _npz_pair(path: Path, split: str, x, y):
    if y is None:
        raise DataError(f"{path}: has x_{split} but no y_{split}")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3, 4):
        raise DataError(f"{path}: x_{split} has shape {list(x.shape)}; expected (N, H, W) or (N, H, W, C) "
                        "with C 1, 3 or 4")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]  # CIFAR stores labels as (N, 1)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{path}: y_{split} has shape {list(y.shape)} and dtype {y.dtype}; expected N integer labels")
    if len(x) != len(y):
        raise DataError(f"{path}: x_{split} has {len(x)} images but y_{split} has {len(y)} labels")
    return _to_uint8(x[..., :3], f"{path} x_{split}"), y.astype(np.int64)


def _to_uint8(x: np.ndarray, where: str) -> np.ndarray:
    if x.dtype == np.uint8:
        return x
    if np.issubdtype(x.dtype, np.floating) and x.size and 0.0 <= x.min() and x.max() <= 1.0:
        return np.round(x * 255.0).astype(np.uint8)
    if x.size and 0 <= x.min() and x.max() <= 255:
        return x.astype(np.uint8)
    raise DataError(f"{where}: pixel values {x.min()}..{x.max()} ({x.dtype}); expected uint8 0..255 or floats 0..1")


def keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def read_keras_set(name: str, fmt: ImageFormat | None) -> SourceData:
    """mnist, fashion_mnist, cifar10 through tf_keras.datasets (downloaded once into the Keras cache)."""
    cached_name, class_names = KERAS_SETS[name]
    cached = (keras_cache_dir() / cached_name).exists()
    alternative = (f"save the arrays (x_train, y_train, x_test, y_test) as an .npz and use "
                   f"--set data.source=npz --set data.path=FILE.npz (or data.path=FILE.npz with source {name})")
    if not cached and os.environ.get("EDGECNN_OFFLINE"):
        raise DataError(f"data.source {name}: not in the Keras cache {keras_cache_dir()} and downloads are off "
                        f"(EDGECNN_OFFLINE); {alternative}")

    try:
        (x_train, y_train), (x_test, y_test) = getattr(keras().datasets, name).load_data()
    except Exception as exc:  # no network: urllib's URLError wrapped in a plain Exception by get_file
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise DataError(f"data.source {name}: cannot download it ({reason}); {alternative}") from None
    images = np.concatenate([x_train, x_test])
    images = images[..., None] if images.ndim == 3 else images
    labels = np.concatenate([np.ravel(y_train), np.ravel(y_test)]).astype(np.int64)
    assigned = np.array(["train"] * len(x_train) + ["test"] * len(x_test))
    return _from_arrays(images, labels, class_names, fmt, name, assigned=assigned)


# ---------------------------------------------------------------- files: folder and list

def read_folder(root: Path, classes: list[str] | None, skip_bad: bool) -> SourceData:
    """`root/CLASS/*.png`, or `root/{train,val,test}/CLASS/*.png` with the splits honoured."""
    if not root.exists():
        raise DataError(f"{root}: image folder not found")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; data.source folder expects one subfolder per class")
    split_dirs = [root / s for s in SPLITS if (root / s).is_dir()]
    test_only = [d.name for d in split_dirs] == ["test"]  # a held-out set to verify on, e.g. in CI
    if split_dirs and not (root / "train").is_dir() and not test_only:
        raise DataError(f"{root}: has {', '.join(d.name + '/' for d in split_dirs)} but no train/ folder")
    entries: list[tuple[str, str, str]] = []  # (path, class, split)
    for split_dir in split_dirs or [root]:
        split = split_dir.name if split_dirs else ""
        class_dirs = _visible_dirs(split_dir)
        if not class_dirs:
            raise DataError(f"{split_dir}: no class subfolders; expected {split_dir}/CLASS_NAME/image.png")
        for class_dir in class_dirs:
            if root.resolve().is_relative_to(class_dir.resolve()):  # a symlink back up: every image, again
                raise DataError(f"{class_dir}: links back to {class_dir.resolve()}, which holds the whole data set; "
                                "a class folder must hold only its own images")
            files = [p for p in sorted(class_dir.rglob("*")) if p.is_file() and _visible(p, class_dir)]
            if not files:
                raise DataError(f"{class_dir}: empty class folder (no image files); add images or remove it")
            entries += [(str(p), class_dir.name, split) for p in files]
    found = sorted({cls for _, cls, _ in entries})
    class_names = _class_list(classes, found, root)
    return _scan(entries, class_names, skip_bad, root)


def _visible_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _visible(path: Path, top: Path) -> bool:
    parts = path.relative_to(top).parts
    return not any(part.startswith(".") for part in parts) and path.name.lower() not in IGNORED_FILES


def _class_list(classes: list[str] | None, found: list[str], where: Path) -> list[str]:
    if classes is None:
        return found
    extra = [c for c in found if c not in classes]
    if extra:
        raise DataError(f"{where}: class {extra[0]!r} is not in data.classes {classes}")
    return list(classes)


def read_list(path: Path, classes: list[str] | None, skip_bad: bool, allow_outside: bool = False) -> SourceData:
    """CSV (`path,label[,split]`, header optional) or JSON (`[{"path", "label", "split"?}, ...]`); rows
    name images inside the list's folder unless `allow_outside`."""
    if not path.is_file():
        raise DataError(f"{path}: list file not found")
    rows = _json_rows(path) if path.suffix.lower() == ".json" else _csv_rows(path)
    if not rows:
        raise DataError(f"{path}: no rows; expected path,label lines")
    base = path.parent
    has_split = [bool(split) for _, _, _, split in rows]
    if any(has_split) and not all(has_split):
        line = rows[has_split.index(False)][0]
        raise DataError(f"{path} line {line}: no split, while other rows name one; give every row a split or none")
    class_names = list(classes) if classes is not None else sorted({label for _, _, label, _ in rows})
    entries, skipped = [], []
    for line, item, label, split in rows:
        where = f"{path} line {line}"
        if split and split not in SPLITS:
            raise DataError(f"{where}: split {split!r}; expected train, val or test")
        if label not in class_names:
            problem = f"label {label!r} is not in the class list {class_names}"
            if not skip_bad:
                raise DataError(f"{where}: {problem} (pass --skip-bad-files to skip such rows)")
            skipped.append({"path": item, "problem": problem})
            continue
        if "\x00" in item:  # no file system takes it; os calls raise ValueError on it
            raise DataError(f"{where}: the path {item[:80]!r} holds a NUL character")
        image = (base / item) if not os.path.isabs(item) else Path(item)
        if not allow_outside and not image.resolve().is_relative_to(base.resolve()):
            raise DataError(f"{where}: {item[:80]!r} lies outside the list's folder {base}; move it in, or set "
                            "data.allow_outside: true")
        entries.append((str(image), label, split))
    data = _scan(entries, class_names, skip_bad, path)
    data.skipped = skipped + data.skipped
    return data


def _csv_rows(path: Path) -> list[tuple[int, str, str, str]]:
    rows = []
    text = read_user_text(path, "list file", DataError)
    for line, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if line == 1 and row[0].strip().lower() == "path":
            continue  # header
        if len(row) not in (2, 3):
            raise DataError(f"{path} line {line}: {len(row)} fields; expected path,label or path,label,split")
        item, label, split = row[0].strip(), row[1].strip(), (row[2].strip() if len(row) == 3 else "")
        if not item or not label:
            raise DataError(f"{path} line {line}: empty path or label")
        rows.append((line, item, label, split))
    return rows


def _json_rows(path: Path) -> list[tuple[int, str, str, str]]:
    try:
        records = json.loads(read_user_text(path, "list file", DataError))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(records, list):
        raise DataError(f"{path}: expected a JSON list of {{\"path\": ..., \"label\": ...}} objects")
    rows = []
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict) or "path" not in record or "label" not in record:
            raise DataError(f"{path} item {number}: expected an object with 'path' and 'label'")
        rows.append((number, str(record["path"]), str(record["label"]), str(record.get("split") or "")))
    return rows


def _scan(entries, class_names: list[str], skip_bad: bool, where: Path) -> SourceData:
    """Decode every file once (in threads) to find bad ones before training starts."""
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        probes = list(pool.map(_probe, [path for path, _, _ in entries]))
    readable, skipped = [], []
    for (path, label, split), probe in zip(entries, probes):
        if isinstance(probe, str):
            if not skip_bad:
                raise DataError(f"{path}: {probe} (pass --skip-bad-files to skip bad files)")
            skipped.append({"path": path, "problem": probe})
            continue
        readable.append(((path, class_names.index(label), split), probe))
    keep, duplicates = drop_duplicates([probe[2] for _, probe in readable], [entry[1] for entry, _ in readable],
                                       [entry[2] for entry, _ in readable], [entry[0] for entry, _ in readable],
                                       class_names, where, skip_bad)
    kept, sizes, modes = [], Counter(), Counter()
    for entry, probe in (readable[i] for i in keep):
        kept.append(entry)
        sizes[probe[0]] += 1
        modes[probe[1]] += 1
    skipped += duplicates
    present = {class_names[label] for _, label, _ in kept}
    _require_two_classes(present, where)
    empty = [name for name in class_names if name not in present]
    if empty:
        raise DataError(f"{where}: class {empty[0]!r} has no usable images")
    paths = [path for path, _, _ in kept]
    labels = np.array([label for _, label, _ in kept], dtype=np.int64)
    splits = [split for _, _, split in kept]
    assigned = np.array(splits) if any(splits) else None
    return SourceData(labels, class_names, paths=paths, assigned=assigned, skipped=skipped,
                      image_sizes=sizes, image_modes=modes)


def _probe(path: str):
    """(size, mode, content hash) of a readable image, or the problem as a string."""
    if not is_image_name(Path(path)) and not os.path.exists(path):
        return "file not found"
    try:
        image = open_image(path)
    except BadImage as exc:
        return str(exc)
    return image.size, image.mode, hashlib.sha1(f"{image.size} {image.mode}".encode() + image.tobytes()).digest()


KEEP_FIRST = {"test": 0, "val": 1, "train": 2, "": 3}  # a copy in the test split stays; training loses its copy


def drop_duplicates(keys: list[bytes], labels, splits, names: list[str], class_names: list[str], where,
                    skip_conflicts: bool = False) -> tuple[list[int], list[dict]]:
    """Indices to keep (one per distinct image) and a skipped record for every other copy. A copy in
    two splits would let the test score see training images; one under two labels cannot be learnt,
    so it is an error naming both files (skipped entirely with --skip-bad-files)."""
    groups: dict[bytes, list[int]] = {}
    for index, key in enumerate(keys):
        groups.setdefault(key, []).append(index)
    keep, skipped = [], []
    for members in groups.values():
        kept = min(members, key=lambda i: KEEP_FIRST[str(splits[i])])
        conflict = next((i for i in members if labels[i] != labels[kept]), None)
        if conflict is not None:
            problem = (f"the same image as {names[kept]} but labelled {class_names[labels[conflict]]!r}, "
                       f"not {class_names[labels[kept]]!r}")
            if not skip_conflicts:
                raise DataError(f"{where}: {names[conflict]} is {problem}; fix the label or remove one "
                                "(pass --skip-bad-files to skip both)")
            skipped += [{"path": names[i], "problem": "the same image under two labels"} for i in members]
            continue
        keep.append(kept)
        skipped += [{"path": names[i], "problem": f"duplicate of {names[kept]}"} for i in members if i != kept]
    return sorted(keep), skipped


BUILT_IN = ("digits", "shapes", *KERAS_SETS)


def data_section_for(spec: str, option: str = "--data") -> dict:
    """A source named on the command line -> a recipe `data:` section: a source name, a folder,
    a .csv/.json list or an .npz file. (Recipe .yaml files are the caller's to read.)"""
    if spec in BUILT_IN:
        return {"source": spec}
    path = Path(spec)
    if path.is_dir():
        return {"source": "folder", "path": spec}
    if path.suffix.lower() in (".csv", ".json"):
        return {"source": "list", "path": spec}
    if path.suffix.lower() == ".npz":
        return {"source": "npz", "path": spec}
    if not path.exists() and (path.suffix or os.sep in spec):
        raise DataError(f"{option} {spec}: no such file or folder")
    raise DataError(f"{option} {spec!r}: expected {', '.join(BUILT_IN)}, an image folder, a .csv/.json list, "
                    "an .npz file or a recipe .yaml")


def source_digest(config: DataConfig) -> str:
    """A hash of the bytes the recipe's `data:` section reads (every file of a folder, a list and the images
    it names, an .npz, a Keras-cached set); the built-in sets are fixed by their code. Reading bytes without
    decoding them is what lets a build tell unchanged data from changed data cheaply."""
    digest = hashlib.sha256()
    for path in _source_files(config):
        digest.update(str(path).encode() + b"\0")
        if path.is_file():
            with open(path, "rb") as handle:
                digest.update(hashlib.file_digest(handle, "sha256").digest())
        else:
            digest.update(b"missing")
    return digest.hexdigest()[:32]


def _source_files(config: DataConfig) -> list[Path]:
    if config.source in KERAS_SETS and not config.path:
        cached = keras_cache_dir() / KERAS_SETS[config.source][0]
        return sorted(p for p in cached.rglob("*") if p.is_file()) if cached.is_dir() else [cached]
    if config.path is None:  # digits, shapes: made by code the build's key already covers
        return []
    path = Path(config.path)
    if config.source == "folder" and path.is_dir():
        return [p for p in sorted(path.rglob("*")) if p.is_file() and _visible(p, path)]
    if config.source == "list" and path.is_file():
        try:
            rows = _json_rows(path) if path.suffix.lower() == ".json" else _csv_rows(path)
        except DataError:  # reading the data will say what is wrong with it
            return [path]
        return [path, *(Path(item) if os.path.isabs(item) else path.parent / item for _, item, _, _ in rows)]
    return [path]
