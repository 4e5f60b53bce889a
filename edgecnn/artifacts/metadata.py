"""The edgecnn metadata inside an exported file (`edgecnn.export.metadata` writes it): the labels and the
input contract. TFLite: `metadata.json` in the zip appended to the flatbuffer (the standard metadata's
associated files; older files carried it in a zip of their own, read the same way). ONNX and ORT:
the `edgecnn.metadata` entry of `metadata_props`. No TensorFlow."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from edgecnn.data.contract import InputContract
from edgecnn.errors import VerificationError
from edgecnn.modelfile import load_onnx

METADATA_SCHEMA = "edgecnn.metadata/1"
METADATA_ENTRY = "metadata.json"
LABELS_ENTRY = "labels.txt"
ONNX_METADATA_KEY = "edgecnn.metadata"


def read_metadata(path: str | Path, graph=None) -> dict | None:
    """The edgecnn metadata of a `.tflite`, `.onnx` or `.ort` file, or None if it has none (`graph`: the
    ONNX model already parsed)."""
    path = Path(path)
    if path.suffix == ".tflite":
        return _read_tflite_metadata(path)
    if path.suffix == ".onnx":
        return _read_onnx_metadata(graph if graph is not None else load_onnx(path))
    if path.suffix == ".ort":
        return _read_ort_metadata(path)
    return None


def contract_of(path: str | Path, metadata: dict | None = None):
    """The input contract a `.tflite`, `.onnx` or `.ort` file records (its labels included), or None
    (`metadata`: the file's, when already read)."""
    metadata = metadata if metadata is not None else read_metadata(path) or {}
    if "input" not in metadata:
        return None
    recorded = metadata["input"]
    required = [name for name in ("height", "width", "channels", "normalization", "mean", "std")
                if not isinstance(recorded, dict) or name not in recorded]
    if required:
        raise VerificationError(f"{path}: its metadata's input contract lacks {', '.join(required)}; "
                                "re-export it with edgecnn, or strip the metadata")
    return InputContract.from_dict({**recorded, "labels": metadata.get("labels", [])})


MAX_METADATA_BYTES = 4 * 1024**2  # edgecnn writes a few kB; a bigger entry is not ours, or a zip bomb


def _read_tflite_metadata(path: Path) -> dict | None:
    try:
        with zipfile.ZipFile(path) as archive:
            size = archive.getinfo(METADATA_ENTRY).file_size  # as declared: checked before inflating
            if size > MAX_METADATA_BYTES:
                raise VerificationError(f"{path}: its {METADATA_ENTRY} declares {size:,} bytes, above the "
                                        f"{MAX_METADATA_BYTES:,}-byte limit for model metadata")
            with archive.open(METADATA_ENTRY) as entry:
                return json.loads(entry.read(MAX_METADATA_BYTES + 1)[:MAX_METADATA_BYTES])
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def _read_onnx_metadata(model) -> dict | None:
    props = {prop.key: prop.value for prop in model.metadata_props}
    if ONNX_METADATA_KEY not in props:
        return None
    return json.loads(props[ONNX_METADATA_KEY])


def _read_ort_metadata(path: Path) -> dict | None:
    """ORT-format files keep the ONNX file's `metadata_props`; only onnxruntime reads the format."""
    import onnxruntime  # lazy: onnxruntime (0.2 s) only for ONNX files

    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception:  # onnxruntime's own exception types: not a readable ORT file
        return None
    props = session.get_modelmeta().custom_metadata_map
    return json.loads(props[ONNX_METADATA_KEY]) if ONNX_METADATA_KEY in props else None
