"""Labels and the input contract, stored inside each artifact so an app developer needs nothing else.

TFLite: a zip holding `metadata.json` and `labels.txt` appended to the flatbuffer (the layout the
TFLite metadata tools use for associated files; the interpreter ignores the trailing bytes).
ONNX: `metadata_props` entries `edgecnn.metadata` (JSON) and `labels` (one per line).
Reading needs no TensorFlow.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

METADATA_SCHEMA = "edgecnn.metadata/1"
METADATA_ENTRY = "metadata.json"
LABELS_ENTRY = "labels.txt"
ONNX_METADATA_KEY = "edgecnn.metadata"


def build_metadata(name: str, fmt, contract, recipe_hash: str, io_quantization: dict | None = None) -> dict:
    from edgecnn import __version__

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


def append_to_tflite(flatbuffer: bytes, metadata: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(METADATA_ENTRY, json.dumps(metadata, indent=2))
        archive.writestr(LABELS_ENTRY, "\n".join(metadata["labels"]) + "\n")
    return flatbuffer + buffer.getvalue()


def read_metadata(path: str | Path) -> dict | None:
    """The edgecnn metadata of a `.tflite` or `.onnx` file, or None if it has none."""
    path = Path(path)
    if path.suffix == ".tflite":
        return _read_tflite_metadata(path)
    if path.suffix == ".onnx":
        return _read_onnx_metadata(path)
    return None


def _read_tflite_metadata(path: Path) -> dict | None:
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read(METADATA_ENTRY))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError):
        return None


def _read_onnx_metadata(path: Path) -> dict | None:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    props = {prop.key: prop.value for prop in model.metadata_props}
    if ONNX_METADATA_KEY not in props:
        return None
    return json.loads(props[ONNX_METADATA_KEY])
