"""ONNX export with tf2onnx: float32, named input, dynamic batch, opset >= 17."""

from __future__ import annotations

import json
from pathlib import Path

from edgecnn._tf import tensorflow
from edgecnn.errors import MissingDependency
from edgecnn.export.metadata import ONNX_METADATA_KEY, build_metadata
from edgecnn.fileio import atomic_path


def convert_to_onnx(model, input_shape: tuple[int, int, int], opset: int):
    tf = tensorflow()
    try:
        import tf2onnx
    except ImportError as exc:
        raise MissingDependency('ONNX export needs tf2onnx; install it with: pip install "edgecnn[train]"') from exc
    # An explicit signature gives a dynamic batch dimension and the input name apps use.
    signature = [tf.TensorSpec([None, *input_shape], tf.float32, name="input")]
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=signature, opset=opset)
    return proto


def export_onnx(model, fmt, path: Path, contract, recipe) -> Path:
    proto = convert_to_onnx(model, contract.shape, recipe.export.onnx_opset)
    return write_onnx(proto, fmt, path, contract, recipe)


def write_onnx(proto, fmt, path: Path, contract, recipe, calibration=None, details: dict | None = None) -> Path:
    """Check `proto`, record labels and the input contract in `metadata_props`, and write it atomically."""
    import onnx

    metadata = build_metadata(recipe.name, fmt, contract, recipe.fingerprint())
    if fmt.needs_calibration and calibration is not None:
        metadata["calibration"] = calibration.record()
    if details:
        metadata["optimization"] = details
    props = {ONNX_METADATA_KEY: json.dumps(metadata), "labels": "\n".join(contract.labels)}
    del proto.metadata_props[:]
    for key, value in props.items():
        proto.metadata_props.add(key=key, value=value)
    proto.producer_name, proto.doc_string = "edgecnn", f"{recipe.name}: {fmt.description}"
    onnx.checker.check_model(proto)
    with atomic_path(path) as tmp:
        onnx.save(proto, str(tmp))
    return Path(path)
