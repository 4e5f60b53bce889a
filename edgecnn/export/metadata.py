"""Labels and the input contract, written inside each artifact so an app developer needs nothing else
(`edgecnn.artifacts.metadata` reads them back).

TFLite: the standard TFLite Model Metadata (`tflite_metadata`: name, description, version, author,
license, image properties, normalization, labels as a TENSOR_AXIS_LABELS file) with `labels.txt` and
edgecnn's `metadata.json` as associated files in the one standard zip appended to the flatbuffer (the
interpreter ignores the trailing bytes). Files written before the standard metadata carried the same
two entries in a zip of their own; both read the same way.
ONNX: `metadata_props` entries `edgecnn.metadata` (JSON) and `labels` (one per line).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

from edgecnn import __version__
from edgecnn.artifacts.metadata import LABELS_ENTRY, METADATA_ENTRY, METADATA_SCHEMA
from edgecnn.export.tflite_metadata import ModelDescription, populate

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import Recipe


def build_metadata(name: str, fmt, contract, recipe_hash: str, io_quantization: dict | None = None) -> dict:
    record = {
        "schema": METADATA_SCHEMA,
        "model": name,
        "format": fmt.name,
        "precision": fmt.precision,
        "technique": fmt.technique,
        "runtime": fmt.runtime,
        "edgecnn_version": __version__,
        "recipe_hash": recipe_hash,
        "labels": list(contract.labels),
        "input": {"name": "input", **contract.to_dict()},
        "output": {"name": "probabilities", "shape": [1, len(contract.labels)], "dtype": "float32",
                   "meaning": "softmax probability per label, in labels order"},
    }
    for side, quant in (io_quantization or {}).items():
        record[side].update(quant)
    return record


def tflite_with_metadata(flatbuffer: bytes, metadata: dict, recipe: Recipe) -> bytes:
    """`flatbuffer` carrying the standard metadata, `labels.txt` and `metadata.json`."""
    files = {LABELS_ENTRY: ("\n".join(metadata["labels"]) + "\n").encode(),
             METADATA_ENTRY: json.dumps(metadata, indent=2).encode()}
    return populate(flatbuffer, model_description(metadata, recipe), files)


def model_description(metadata: dict, recipe: Recipe):
    """The recipe's `export.model_info`, defaults filled in from the model and its data."""
    info, contract = recipe.export.model_info, metadata["input"]
    labels = metadata["labels"]
    shown = ", ".join(labels[:6]) + (", ..." if len(labels) > 6 else "")
    description = info.description or (
        f"Image classifier: {contract['height']}x{contract['width']} {contract['color'].upper()} images into "
        f"{len(labels)} classes ({shown}); trained by edgecnn on {recipe.data.describe_source()}.")
    return ModelDescription(
        name=recipe.name, description=description, version=info.version or metadata["recipe_hash"],
        author=info.author, license=info.license, color=contract["color"],
        mean=[float(v) for v in np.atleast_1d(contract["mean"])], std=[float(v) for v in np.atleast_1d(contract["std"])],
        value_range=tuple(contract["value_range"]), labels_file=LABELS_ENTRY)
