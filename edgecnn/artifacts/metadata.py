"""The edgecnn metadata inside an exported file (`edgecnn.export.metadata` writes it): the labels and the
input contract. TFLite: `metadata.json` in the zip appended to the flatbuffer (the standard metadata's
associated files; older files carried it in a zip of their own, read the same way). ONNX and ORT:
the `edgecnn.metadata` entry of `metadata_props`. No TensorFlow."""

from __future__ import annotations

import json
import math
import zipfile
import zlib
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
    ONNX model already parsed). Metadata that is there but not a JSON object is named, not guessed at."""
    path = Path(path)
    if path.suffix == ".tflite":
        metadata = _read_tflite_metadata(path)
    elif path.suffix == ".onnx":
        metadata = _read_onnx_metadata(graph if graph is not None else load_onnx(path), path)
    elif path.suffix == ".ort":
        metadata = _read_ort_metadata(path)
    else:
        return None
    if metadata is not None and not isinstance(metadata, dict):
        raise VerificationError(f"{path}: its edgecnn metadata is {type(metadata).__name__}, not a JSON object; "
                                f"{_REMEDY}")
    return metadata


_REMEDY = "re-export it with edgecnn, or strip the metadata"
# The recorded contract's keys and what each must hold: a file's metadata is data from outside.
_CONTRACT_KINDS = {"height": int, "width": int, "channels": int, "normalization": str, "layout": str, "color": str,
                   "resize": str}


def contract_of(path: str | Path, metadata: dict | None = None):
    """The input contract a `.tflite`, `.onnx` or `.ort` file records (its labels included), or None
    (`metadata`: the file's, when already read)."""
    metadata = metadata if metadata is not None else read_metadata(path) or {}
    if "input" not in metadata:
        return None
    recorded, labels = metadata["input"], metadata.get("labels", [])
    required = [name for name in ("height", "width", "channels", "normalization", "mean", "std")
                if not isinstance(recorded, dict) or name not in recorded]
    if required:
        raise VerificationError(f"{path}: its metadata's input contract lacks {', '.join(required)}; {_REMEDY}")
    problem = _contract_problem(recorded, labels)
    if problem:
        raise VerificationError(f"{path}: its metadata's {problem}; {_REMEDY}")
    return InputContract.from_dict({**recorded, "labels": labels})


def _contract_problem(recorded: dict, labels) -> str | None:
    """What is wrong with a recorded contract's values, or None."""
    for key, kind in _CONTRACT_KINDS.items():
        value = recorded.get(key, kind())
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is int and not 0 < value <= 65536):
            return f"input {key} is {value!r:.40}"
    for key in ("mean", "std"):
        values = recorded[key] if isinstance(recorded[key], list) else [recorded[key]]
        if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                                 for v in values) or (key == "std" and 0 in values):
            return f"input {key} is {recorded[key]!r:.40}"
    if recorded.get("inside") is not None and not isinstance(recorded["inside"], dict):
        return f"input inside is {recorded['inside']!r:.40}"
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        return f"labels are {labels!r:.40}"
    return None


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
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return None  # no zip, no metadata.json in it, or not ours: a file without edgecnn metadata
    except (NotImplementedError, RuntimeError, EOFError, OSError, ValueError, zlib.error) as exc:
        # A zip whose metadata.json is there but cannot be read back (encrypted, an unknown compression,
        # damaged data): the file was altered after export, which a user should hear about.
        raise VerificationError(f"{path}: its metadata zip is damaged ({exc}); {_REMEDY}") from None


def _read_onnx_metadata(model, path: Path) -> dict | None:
    props = {prop.key: prop.value for prop in model.metadata_props}
    return _parsed(props.get(ONNX_METADATA_KEY), path)


def _parsed(text: str | None, path: Path):
    """The JSON of a metadata entry (None when absent); text that is not JSON is named."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise VerificationError(f"{path}: its {ONNX_METADATA_KEY} entry is not valid JSON; {_REMEDY}") from None


def _read_ort_metadata(path: Path) -> dict | None:
    """ORT-format files keep the ONNX file's `metadata_props`; only onnxruntime reads the format."""
    import onnxruntime  # lazy: onnxruntime (0.2 s) only for ONNX files

    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception:  # onnxruntime's own exception types: not a readable ORT file
        return None
    return _parsed(session.get_modelmeta().custom_metadata_map.get(ONNX_METADATA_KEY), path)
