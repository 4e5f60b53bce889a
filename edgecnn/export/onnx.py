"""ONNX export with tf2onnx: float32, pixels in (`export.pixels.FileInput`), input named `input`, dynamic
batch or fixed to 1, opset >= 17; and an ORT-format copy for ONNX Runtime Mobile beside each file."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from edgecnn._tf import tensorflow
from edgecnn.artifacts.metadata import ONNX_METADATA_KEY
from edgecnn.errors import MissingDependency
from edgecnn.export.metadata import build_metadata
from edgecnn.fileio import atomic_path, write_text

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import Recipe

ORT_CONFIG_SUFFIX = ".required_operators.config"


def convert_to_onnx(model, file_input, opset: int, fixed_batch: bool = False):
    tf = tensorflow()
    try:
        import tf2onnx  # lazy: tf2onnx imports TensorFlow (8 s)
    except ImportError as exc:
        raise MissingDependency('ONNX export needs tf2onnx; install it with: pip install "edgecnn[train]"') from exc
    # An explicit signature names the input as apps use it and makes the batch dynamic unless fixed.
    signature = [tf.TensorSpec([1 if fixed_batch else None, *file_input.contract.shape], tf.float32, name="input")]
    serve = file_input.serving_function(model)
    function = tf.function(lambda image: {"probabilities": serve(image)}, input_signature=signature)
    proto, _ = tf2onnx.convert.from_function(function, input_signature=signature, opset=opset)
    return proto


def export_onnx(model, fmt, path: Path, file_input, recipe: Recipe) -> Path:
    proto = convert_to_onnx(model, file_input, recipe.export.onnx_opset, recipe.export.onnx_fixed_batch)
    return write_onnx(proto, fmt, path, file_input.contract, recipe)


def write_onnx(proto, fmt, path: Path, contract, recipe: Recipe, calibration=None, details: dict | None = None) -> Path:
    """Check `proto`, record labels and the input contract in `metadata_props`, and write it atomically,
    with its ORT-format copy when `export.ort_format` asks for one."""
    import onnx  # lazy: ONNX (0.3 s) only for .onnx files

    metadata = build_metadata(recipe.name, fmt, contract, recipe.artifact_fingerprint(fmt))
    if fmt.needs_calibration and calibration is not None:
        metadata["calibration"] = calibration.record()
    if details:
        metadata["optimization"] = details
    props = {ONNX_METADATA_KEY: json.dumps(metadata), "labels": "\n".join(contract.labels)}
    del proto.metadata_props[:]
    for key, value in props.items():
        proto.metadata_props.add(key=key, value=value)
    proto.producer_name, proto.doc_string = "edgecnn", f"{recipe.name}: {fmt.description}"
    drop_unused_domains(proto)
    number_generated_names(proto)
    name_free_dimensions(proto)
    onnx.checker.check_model(proto)
    with atomic_path(path) as tmp:
        onnx.save(proto, str(tmp))
    if recipe.export.ort_format:
        write_ort(Path(path))
    return Path(path)


def drop_unused_domains(proto) -> list[str]:
    """Remove opset imports no node uses (quantization tools import `com.microsoft`, `ai.onnx.training`,
    `org.pytorch.aten` and more whether or not they emit such nodes); a minimal runtime build then needs
    nothing it does not run. Returns the removed domains."""
    used = {node.domain or "" for node in proto.graph.node} | {"", "ai.onnx"}
    removed = [entry.domain for entry in proto.opset_import if entry.domain not in used]
    kept = [entry for entry in proto.opset_import if entry.domain in used]
    del proto.opset_import[:]
    proto.opset_import.extend(kept)
    return removed


def number_generated_names(proto) -> None:
    """tf2onnx numbers the names it makes (`new_shape__112`) from a process-wide counter whose value
    depends on hash order, so two exports of one model differ in names only; renumbering them in graph
    order makes the same model give the same bytes."""
    renamed: dict[str, str] = {}

    counter = re.compile(r"__\d+(?=(:\d+)?$)")  # `Conv2D__6`, and its outputs `Conv2D__6:0`
    # Identical generated constants are merged under whichever layer's name came first: name them by value.
    constants = {tensor.name for tensor in proto.graph.initializer if counter.search(tensor.name)}

    def name(old: str) -> str:
        if not counter.search(old):
            return old
        new = f"const__{len(renamed)}" if old in constants else counter.sub(f"__{len(renamed)}", old)
        return renamed.setdefault(old, new)

    graph = proto.graph
    for node in graph.node:
        node.input[:] = [name(n) for n in node.input]
        node.output[:] = [name(n) for n in node.output]
        node.name = name(node.name)
    for tensor in [*graph.initializer, *graph.input, *graph.output, *graph.value_info]:
        tensor.name = name(tensor.name)
    ordered = sorted(graph.initializer, key=lambda tensor: tensor.name)  # their order follows hash order too
    del graph.initializer[:]
    graph.initializer.extend(ordered)


def name_free_dimensions(proto) -> None:
    """tf2onnx names a free dimension `unk__N` and the graph `converted from __inference_<lambda>_N`, N from
    process-wide counters (a second export in one process gives other bytes): the free first dimension is
    `batch` (one and the same for input and output), any other `dim_K`, and the graph says what it is."""
    proto.graph.doc_string = "converted by tf2onnx from the Keras model"
    names: dict[str, str] = {}
    for value in [*proto.graph.input, *proto.graph.output, *proto.graph.value_info]:
        for position, dim in enumerate(value.type.tensor_type.shape.dim):
            if dim.dim_param.startswith("unk__"):
                dim.dim_param = "batch" if position == 0 else names.setdefault(dim.dim_param, f"dim_{len(names)}")


def ort_paths(onnx_path: Path) -> tuple[Path, Path]:
    """The ORT-format file and its required-operators config written beside `onnx_path`."""
    return onnx_path.with_suffix(".ort"), onnx_path.with_suffix(ORT_CONFIG_SUFFIX)


def write_ort(onnx_path: Path) -> tuple[Path, Path]:
    """Convert with onnxruntime's own tool (`convert_onnx_models_to_ort`, fixed optimizations, no
    platform-specific layouts) and write the `.ort` and the operator config a minimal build is made from."""
    # lazy: onnxruntime tools (0.3 s) only where used
    from onnxruntime.tools.convert_onnx_models_to_ort import OptimizationStyle, convert_onnx_models_to_ort

    logging.getLogger("ort_format_model.utils").setLevel(logging.WARNING)  # "Created config in /tmp/..."
    ort_path, config_path = ort_paths(onnx_path)
    with tempfile.TemporaryDirectory(prefix="edgecnn-ort-") as tmp, contextlib.redirect_stdout(io.StringIO()):
        source = Path(tmp) / onnx_path.name
        shutil.copyfile(onnx_path, source)
        convert_onnx_models_to_ort(source, output_dir=Path(tmp) / "out", optimization_styles=[OptimizationStyle.Fixed])
        for made, target in ((Path(tmp) / "out" / ort_path.name, ort_path), (Path(tmp) / "out" / config_path.name,
                                                                            config_path)):
            with atomic_path(target) as staged:
                shutil.copyfile(made, staged)
    # The config's comment names the temporary file it was made from: name the delivered one instead.
    config_text = config_path.read_text().replace(str(Path(tmp) / "out" / ort_path.name), ort_path.name)
    write_text(config_path, config_text)
    return ort_path, config_path
