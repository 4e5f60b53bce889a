"""Standard TFLite Model Metadata: what MediaPipe Tasks, ML Kit and Android Studio read from a `.tflite`.

Written and read with the schemas' flatc-generated bindings, not a hand-rolled flatbuffer: the model
schema from ai-edge-litert (`ai_edge_litert.schema_py_generated`, part of the base install) and the
metadata schema vendored in `edgecnn._vendor` (its header says why). The
layout is the one MediaPipe's `MetadataPopulator` writes: a `TFLITE_METADATA` buffer inside the model
and every associated file (`labels.txt`, edgecnn's `metadata.json`) in one zip appended to the
flatbuffer. MediaPipe's own writer cannot be used: its Python package lacks the compiled
`_pywrap_metadata_version` it imports (0.10.35 and 1.2.3), and tflite-support pins protobuf below 4.
No TensorFlow here.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import flatbuffers
import numpy as np

from edgecnn._vendor import metadata_schema_py_generated as meta_fb
from edgecnn.export.tflite_graph import pack_model, unpack_model
from edgecnn.fileio import ZIP_TIMESTAMP

METADATA_NAME = "TFLITE_METADATA"
METADATA_IDENTIFIER = b"M001"
# The lowest metadata parser that understands every field written here. Fields added after 1.0.0
# (MediaPipe's metadata_version.cc: process units on the subgraph, tensor groups, associated-file
# versions, custom metadata, vocabulary or ScaNN files) are never written, so it is 1.0.0, the value
# MediaPipe's GetMinimumMetadataParserVersion computes for image-classifier metadata like this.
MIN_PARSER_VERSION = "1.0.0"


@dataclass
class ModelDescription:
    """The human side of the metadata: recipe fields with defaults filled in."""

    name: str
    description: str
    version: str
    author: str
    license: str | None
    color: str  # rgb or grayscale
    mean: list[float]
    std: list[float]
    value_range: tuple[float, float]
    labels_file: str


def populate(flatbuffer: bytes, description: ModelDescription, files: dict[str, bytes]) -> bytes:
    """`flatbuffer` with the standard metadata in it and `files` zipped after it (any earlier metadata
    and appended zip replaced)."""
    from ai_edge_litert import schema_py_generated as schema  # lazy: LiteRT (0.16 s) only for .tflite files

    model = unpack_model(flatbuffer)
    metadata = _model_metadata(description, list(files))
    builder = flatbuffers.Builder(0)
    builder.Finish(metadata.Pack(builder), METADATA_IDENTIFIER)
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(bytes(builder.Output()), dtype=np.uint8)
    model.buffers = model.buffers or []
    model.metadata = [m for m in model.metadata or [] if m.name.decode() != METADATA_NAME]
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = METADATA_NAME, len(model.buffers) - 1
    model.metadata.append(entry)
    return _append_zip(pack_model(model), files)


def _append_zip(flatbuffer: bytes, files: dict[str, bytes]) -> bytes:
    """The associated files as MediaPipe's populator appends them: a zip opened in append mode on the model."""
    stream = io.BytesIO(flatbuffer)
    stream.seek(0, io.SEEK_END)
    # Stored, not deflated: MediaPipe maps associated files in place ("Expected uncompressed zip archive").
    with zipfile.ZipFile(stream, "a", compression=zipfile.ZIP_STORED) as archive:
        for name, data in files.items():
            # A fixed timestamp: the same model gives the same bytes (writestr would stamp the clock).
            archive.writestr(zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP), data)
    return stream.getvalue()


def _model_metadata(description: ModelDescription, file_names: list[str]):
    model = meta_fb.ModelMetadataT()
    model.name, model.description, model.version = description.name, description.description, description.version
    model.author, model.license = description.author, description.license
    model.minParserVersion = MIN_PARSER_VERSION
    subgraph = meta_fb.SubGraphMetadataT()
    subgraph.inputTensorMetadata = [_input_metadata(description)]
    subgraph.outputTensorMetadata = [_output_metadata(description)]
    model.subgraphMetadata = [subgraph]
    model.associatedFiles = [_file(name, "edgecnn's metadata: input contract, labels, how the file was made",
                                   meta_fb.AssociatedFileType.DESCRIPTIONS)
                             for name in file_names if name != description.labels_file]
    return model


def _input_metadata(description: ModelDescription):
    tensor = meta_fb.TensorMetadataT()
    tensor.name = "image"
    tensor.description = (f"{description.color.upper()} image, pixels 0..255 "
                          "(the model applies its own normalization inside).")
    tensor.content = meta_fb.ContentT()
    tensor.content.contentPropertiesType = meta_fb.ContentProperties.ImageProperties
    tensor.content.contentProperties = meta_fb.ImagePropertiesT()
    tensor.content.contentProperties.colorSpace = (
        meta_fb.ColorSpaceType.RGB if description.color == "rgb" else meta_fb.ColorSpaceType.GRAYSCALE)
    normalization = meta_fb.ProcessUnitT()
    normalization.optionsType = meta_fb.ProcessUnitOptions.NormalizationOptions
    normalization.options = meta_fb.NormalizationOptionsT()
    normalization.options.mean, normalization.options.std = list(description.mean), list(description.std)
    tensor.processUnits = [normalization]
    tensor.stats = meta_fb.StatsT()
    tensor.stats.min, tensor.stats.max = [description.value_range[0]], [description.value_range[1]]
    return tensor


def _output_metadata(description: ModelDescription):
    tensor = meta_fb.TensorMetadataT()
    tensor.name = "probability"
    tensor.description = "Probability of each label, in labels.txt order."
    tensor.content = meta_fb.ContentT()
    tensor.content.contentPropertiesType = meta_fb.ContentProperties.FeatureProperties
    tensor.content.contentProperties = meta_fb.FeaturePropertiesT()
    tensor.stats = meta_fb.StatsT()
    tensor.stats.min, tensor.stats.max = [0.0], [1.0]
    tensor.associatedFiles = [_file(description.labels_file, "Labels for the categories the model recognizes.",
                                    meta_fb.AssociatedFileType.TENSOR_AXIS_LABELS)]
    return tensor


def _file(name: str, text: str, kind: int):
    record = meta_fb.AssociatedFileT()
    record.name, record.description, record.type = name, text, kind
    return record


def metadata_buffer(flatbuffer: bytes) -> bytes | None:
    """The raw `TFLITE_METADATA` buffer of a model, or None."""
    from ai_edge_litert import schema_py_generated as schema  # lazy: LiteRT (0.16 s) only for .tflite files

    model = schema.Model.GetRootAs(flatbuffer, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() and entry.Name().decode() == METADATA_NAME:
            return model.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
    return None


def read_standard_metadata(data: bytes) -> dict | None:
    """The standard metadata of a `.tflite` file's bytes as plain values, or None if it has none."""
    raw = metadata_buffer(data)
    if raw is None or not meta_fb.ModelMetadata.ModelMetadataBufferHasIdentifier(raw, 0):
        return None
    model = meta_fb.ModelMetadataT.InitFromPackedBuf(bytearray(raw), 0)
    subgraph = model.subgraphMetadata[0]
    return {
        "name": _text(model.name), "description": _text(model.description), "version": _text(model.version),
        "author": _text(model.author), "license": _text(model.license),
        "min_parser_version": _text(model.minParserVersion),
        "inputs": [_tensor_record(t) for t in subgraph.inputTensorMetadata or []],
        "outputs": [_tensor_record(t) for t in subgraph.outputTensorMetadata or []],
        "associated_files": [_text(f.name) for f in model.associatedFiles or []],
    }


def _tensor_record(tensor) -> dict:
    record = {"name": _text(tensor.name)}
    content = tensor.content
    if content is not None and content.contentPropertiesType == meta_fb.ContentProperties.ImageProperties:
        spaces = {v: k for k, v in vars(meta_fb.ColorSpaceType).items() if not k.startswith("_")}
        record["color_space"] = spaces.get(content.contentProperties.colorSpace, "UNKNOWN")
    for unit in tensor.processUnits or []:
        if unit.optionsType == meta_fb.ProcessUnitOptions.NormalizationOptions:
            record["normalization"] = {"mean": [float(v) for v in unit.options.mean],
                                       "std": [float(v) for v in unit.options.std]}
    if tensor.stats is not None and tensor.stats.min is not None:
        record["range"] = [float(tensor.stats.min[0]), float(tensor.stats.max[0])]
    kinds = {v: k for k, v in vars(meta_fb.AssociatedFileType).items() if not k.startswith("_")}
    record["associated_files"] = [{"name": _text(f.name), "type": kinds.get(f.type, "UNKNOWN")}
                                  for f in tensor.associatedFiles or []]
    return record


def _text(value) -> str | None:
    return value.decode("utf-8") if isinstance(value, bytes) else value
