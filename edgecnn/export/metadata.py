"""Labels and the input contract, stored inside each artifact so an app developer needs nothing else.

TFLite: the standard TFLite Model Metadata (`tflite_metadata`: name, description, version, author,
license, image properties, normalization, labels as a TENSOR_AXIS_LABELS file) with `labels.txt` and
edgecnn's `metadata.json` as associated files in the one standard zip appended to the flatbuffer (the
interpreter ignores the trailing bytes). Files written before the standard metadata carried the same
two entries in a zip of their own; both read the same way here.
ONNX: `metadata_props` entries `edgecnn.metadata` (JSON) and `labels` (one per line).
Reading needs no TensorFlow.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

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


def tflite_with_metadata(flatbuffer: bytes, metadata: dict, recipe) -> bytes:
    """`flatbuffer` carrying the standard metadata, `labels.txt` and `metadata.json`."""
    from edgecnn.export.tflite_metadata import populate

    files = {LABELS_ENTRY: ("\n".join(metadata["labels"]) + "\n").encode(),
             METADATA_ENTRY: json.dumps(metadata, indent=2).encode()}
    return populate(flatbuffer, model_description(metadata, recipe), files)


def model_description(metadata: dict, recipe):
    """The recipe's `export.model_info`, defaults filled in from the model and its data."""
    from edgecnn.export.tflite_metadata import ModelDescription

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


def read_metadata(path: str | Path) -> dict | None:
    """The edgecnn metadata of a `.tflite`, `.onnx` or `.ort` file, or None if it has none."""
    path = Path(path)
    if path.suffix == ".tflite":
        return _read_tflite_metadata(path)
    if path.suffix == ".onnx":
        return _read_onnx_metadata(path)
    if path.suffix == ".ort":
        return _read_ort_metadata(path)
    return None


def contract_of(path: str | Path):
    """The input contract a `.tflite`, `.onnx` or `.ort` file records (its labels included), or None."""
    from edgecnn.data.contract import InputContract

    metadata = read_metadata(path) or {}
    if "input" not in metadata:
        return None
    recorded = metadata["input"]
    required = [name for name in ("height", "width", "channels", "normalization", "mean", "std")
                if not isinstance(recorded, dict) or name not in recorded]
    if required:
        from edgecnn.errors import VerificationError

        raise VerificationError(f"{path}: its metadata's input contract lacks {', '.join(required)}; "
                                "re-export it with edgecnn, or strip the metadata")
    return InputContract.from_dict({**recorded, "labels": metadata.get("labels", [])})


MAX_METADATA_BYTES = 4 * 1024**2  # edgecnn writes a few kB; a bigger entry is not ours, or a zip bomb


def _read_tflite_metadata(path: Path) -> dict | None:
    try:
        with zipfile.ZipFile(path) as archive:
            size = archive.getinfo(METADATA_ENTRY).file_size  # as declared: checked before inflating
            if size > MAX_METADATA_BYTES:
                from edgecnn.errors import VerificationError

                raise VerificationError(f"{path}: its {METADATA_ENTRY} declares {size:,} bytes, above the "
                                        f"{MAX_METADATA_BYTES:,}-byte limit for model metadata")
            with archive.open(METADATA_ENTRY) as entry:
                return json.loads(entry.read(MAX_METADATA_BYTES + 1)[:MAX_METADATA_BYTES])
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def _read_onnx_metadata(path: Path) -> dict | None:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    props = {prop.key: prop.value for prop in model.metadata_props}
    if ONNX_METADATA_KEY not in props:
        return None
    return json.loads(props[ONNX_METADATA_KEY])


def _read_ort_metadata(path: Path) -> dict | None:
    """ORT-format files keep the ONNX file's `metadata_props`; only onnxruntime reads the format."""
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception:  # onnxruntime's own exception types: not a readable ORT file
        return None
    props = session.get_modelmeta().custom_metadata_map
    return json.loads(props[ONNX_METADATA_KEY]) if ONNX_METADATA_KEY in props else None
