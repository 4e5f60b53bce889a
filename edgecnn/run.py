"""A run folder: the one place that knows what its files are called, and reads and writes them.

    runs/NAME/
      recipe.yaml          merged recipe (defaults < file < --set) with its hash
      splits.csv           which image went to train, val or test
      model.keras          float model            history.json   per-epoch metrics
      training_curves.png  loss and accuracy per epoch
      reference.npz        the float model's test-split outputs (agreement checks need no TensorFlow)
      model_*.tflite / model_*.onnx / labels.txt
      optimized/           optimized variants (optimize.variants)
      inspect/             pictures of what the model sees (inspect.json, test_image.png and grids)
      report.json / report.md / junit.xml / confusion.png
      manifest.json        each stage's key and the hashes of the files it wrote (incremental builds)
      verify/              what `edgecnn verify RUN_DIR` writes (its own folder, never the build's files)
      handoff/             the app developer's bundle (`edgecnn handoff`)

Exported files are named by their format (`export.formats`); everything else is named here.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgecnn.errors import RecipeError, VerificationError
from edgecnn.fileio import ZIP_TIMESTAMP, atomic_path, write_json, write_text
from edgecnn.modelfile import load_keras
from edgecnn.recipe import Override, Recipe, load_recipe

# A report folder (a build's run folder, or a verify's own folder) holds these:
REPORT_JSON, REPORT_MD, JUNIT_XML, CONFUSION_PNG = "report.json", "report.md", "junit.xml", "confusion.png"
INSPECT_JSON, TEST_IMAGE_PNG = "inspect.json", "test_image.png"  # in an inspect folder


@dataclass(frozen=True)
class RunFolder:
    """Paths, and the loading and saving of what a build keeps, for one run folder."""

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    recipe_path = property(lambda self: self.root / "recipe.yaml")
    splits_path = property(lambda self: self.root / "splits.csv")
    model_path = property(lambda self: self.root / "model.keras")
    history_path = property(lambda self: self.root / "history.json")
    curves_path = property(lambda self: self.root / "training_curves.png")
    reference_path = property(lambda self: self.root / "reference.npz")
    labels_path = property(lambda self: self.root / "labels.txt")
    inspect_dir = property(lambda self: self.root / "inspect")
    verify_dir = property(lambda self: self.root / "verify")
    handoff_dir = property(lambda self: self.root / "handoff")
    manifest_path = property(lambda self: self.root / "manifest.json")  # what each stage read and wrote

    def is_run(self) -> bool:
        """A folder a build or `edgecnn train` wrote (it holds the merged recipe)."""
        return self.recipe_path.is_file()

    def artifact(self, filename: str) -> Path:
        """An exported file, by the name its format gives it (`model_int8.tflite`, `optimized/x.tflite`)."""
        return self.root / filename

    # ---------------------------------------------------------------- recipe

    def save_recipe(self, recipe: Recipe) -> Path:
        header = f"# merged recipe (defaults < file < --set), hash {recipe.fingerprint()}\n"
        return write_text(self.recipe_path, header + recipe.to_yaml())

    def load_recipe(self, overrides: list[Override] | None = None):
        """The recipe a previous stage saved here, with optional overrides."""
        if not self.is_run():
            raise RecipeError(f"{self.root}: no {self.recipe_path.name} here; is it a folder written by "
                              "`edgecnn train` or `build`?")
        return load_recipe(self.recipe_path, overrides)

    # ---------------------------------------------------------------- model, history, labels, splits

    def save_model(self, model) -> Path:
        """`model.keras`, byte-reproducible: Keras stamps the clock (entry times, `date_saved`) and memory
        addresses (`shared_object_id` of a regularizer shared by layers) into its zip, so the archive is
        rewritten with fixed entry times, no date and shared objects numbered in order of appearance."""
        with atomic_path(self.model_path) as tmp:
            model.save(tmp)
            with zipfile.ZipFile(tmp) as saved:
                entries = {info.filename: saved.read(info) for info in saved.infolist()}
            entries["metadata.json"] = json.dumps({k: v for k, v in json.loads(entries["metadata.json"]).items()
                                                   if k != "date_saved"}).encode()
            entries["config.json"] = _number_shared_objects(entries["config.json"].decode()).encode()
            with zipfile.ZipFile(tmp, "w") as archive:
                for name, data in entries.items():
                    archive.writestr(zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP), data)
        return self.model_path

    def load_model(self):
        """The trained float model (safe mode: no Python code is deserialized)."""
        if not self.model_path.is_file():
            raise VerificationError(f"{self.model_path}: Keras model not found; run `edgecnn train` first")
        return load_keras(self.model_path)

    def save_history(self, record: dict) -> Path:
        return write_json(self.history_path, record)

    def load_history(self) -> dict:
        """Per-epoch metrics and the best epoch, as the train stage saved them."""
        return json.loads(self.history_path.read_text(encoding="utf-8"))

    def save_labels(self, class_names: list[str]) -> Path:
        return write_text(self.labels_path, "\n".join(class_names) + "\n")

    def load_labels(self) -> list[str]:
        """The class names in output order, or [] when the folder has no labels file."""
        return self.labels_path.read_text(encoding="utf-8").split("\n")[:-1] if self.labels_path.is_file() else []

    def save_splits(self, dataset) -> Path:
        return write_text(self.splits_path, dataset.split_list())

    # ---------------------------------------------------------------- reference outputs

    def save_reference(self, probabilities: np.ndarray, test_fingerprint: str) -> Path:
        """The float model's test-split outputs: what every exported file is compared with, without TF."""
        with atomic_path(self.reference_path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez_compressed(handle, probabilities=probabilities, test_fingerprint=test_fingerprint)
        return self.reference_path

    def load_reference(self, test_fingerprint: str) -> np.ndarray | None:
        """The saved float outputs, if any, checked to belong to the test split with `test_fingerprint`."""
        path = self.reference_path
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as stored:
                fingerprint, probabilities = str(stored["test_fingerprint"]), stored["probabilities"]
        except (ValueError, OSError, KeyError) as exc:  # object arrays (pickle) are refused, never loaded
            raise VerificationError(f"{path}: not the reference outputs edgecnn writes ({exc}); retrain, or delete "
                                    "it to verify without the float reference") from None
        if fingerprint != test_fingerprint:
            raise VerificationError(f"{path}: was made on a different test split than the recipe now gives; "
                                    "check data/seed overrides or retrain")
        return probabilities


def model_file(path: Path) -> Path:
    """The model a path names: a run folder's model.keras, or the file itself."""
    path = Path(path)
    return RunFolder(path).model_path if path.is_dir() else path


def _number_shared_objects(config: str) -> str:
    numbers: dict[str, int] = {}

    def renumber(match) -> str:
        return f'"shared_object_id": {numbers.setdefault(match.group(1), len(numbers) + 1)}'

    return re.sub(r'"shared_object_id": (\d+)', renumber, config)
