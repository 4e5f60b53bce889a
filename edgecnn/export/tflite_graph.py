"""Small edits of a converted `.tflite` graph through the schema's generated object API (ai-edge-litert's
`schema_py_generated`): the input and output tensors an app sees. No TensorFlow here."""

from __future__ import annotations

import flatbuffers
import numpy as np

from edgecnn.errors import ExportError

MODEL_IDENTIFIER = b"TFL3"
BUFFER_ALIGNMENT = 16
# Operator versions LiteRT's builtin resolver registers for these tensor types.
_QUANTIZE_VERSION = {"INT8": 2, "UINT8": 1, "INT16": 3}
_DEQUANTIZE_VERSION = {"INT8": 2, "UINT8": 1, "INT16": 4}


def _schema():
    from ai_edge_litert import schema_py_generated  # lazy: LiteRT (0.16 s) only for .tflite files

    return schema_py_generated


def unpack_model(flatbuffer: bytes):
    return _schema().ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)


def pack_model(model) -> bytes:
    schema = _schema()
    for buffer in model.buffers or []:
        buffer.__class__ = _aligned_buffer_type(schema)
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), MODEL_IDENTIFIER)
    return bytes(builder.Output())


def _aligned_buffer_type(schema):
    """`BufferT`, packed with its data aligned to 16 bytes as TFLite's schema asks (`force_align: 16`), which
    the generated Python packer ignores: LiteRT then copies every unaligned weight buffer to the heap
    ("unaligned buffer ... copying") instead of using the file's bytes in place."""

    class AlignedBuffer(schema.BufferT):
        def Pack(self, builder):
            data = None
            if self.data is not None:
                payload = np.asarray(self.data, dtype=np.uint8).tobytes()
                builder.StartVector(1, len(payload), BUFFER_ALIGNMENT)
                builder.head -= len(payload)
                builder.Bytes[builder.head : builder.head + len(payload)] = payload
                data = builder.EndVector()
            schema.BufferStart(builder)
            if data is not None:
                schema.BufferAddData(builder, data)
            schema.BufferAddOffset(builder, self.offset)
            schema.BufferAddSize(builder, self.size)
            return schema.BufferEnd(builder)

    return AlignedBuffer


def pin_pixel_input(flatbuffer: bytes) -> bytes:
    """Give a uint8 input scale 1 and zero point 0, so its values are the pixels exactly.

    The converter derives them from the calibration images' range, which is 0..255 only when some image
    holds both a black and a white pixel. The input feeds nothing but QUANTIZE operators (uint8 to the
    int8 range the model was calibrated for), so only that conversion changes; returned unchanged when
    already pinned or not uint8."""
    schema = _schema()
    model = unpack_model(flatbuffer)
    graph = model.subgraphs[0]
    tensor = graph.tensors[graph.inputs[0]]
    quant = tensor.quantization
    if tensor.type != schema.TensorType.UINT8 or quant is None or (
            list(quant.scale) == [1.0] and list(quant.zeroPoint) == [0]):
        return flatbuffer
    consumers = [model.operatorCodes[op.opcodeIndex] for op in graph.operators if graph.inputs[0] in op.inputs]
    if any(_builtin(code) != schema.BuiltinOperator.QUANTIZE for code in consumers):
        raise ExportError("uint8 input feeds more than QUANTIZE operators; cannot pin it to pixel values")
    quant.scale, quant.zeroPoint = [1.0], [0]
    return pack_model(model)


def float_io(flatbuffer: bytes) -> bytes:
    """Put a QUANTIZE after a quantized graph input and a DEQUANTIZE before a quantized graph output, so the
    file takes float32 pixels and returns float32 probabilities, as converter files with float I/O do
    (the LiteRT quantizer quantizes the graph's inputs and outputs too, which phone SDKs cannot feed)."""
    schema = _schema()
    model = unpack_model(flatbuffer)
    graph = model.subgraphs[0]
    types = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    front, back = [], []
    for position, index in enumerate(graph.inputs):
        if graph.tensors[index].type != schema.TensorType.FLOAT32:
            graph.inputs[position] = _float_twin(schema, model, graph, index, "QUANTIZE", front, types)
    for position, index in enumerate(graph.outputs):
        if graph.tensors[index].type != schema.TensorType.FLOAT32:
            graph.outputs[position] = _float_twin(schema, model, graph, index, "DEQUANTIZE", back, types)
    if not front and not back:
        return flatbuffer
    graph.operators = front + graph.operators + back
    return pack_model(model)


def _float_twin(schema, model, graph, index: int, op_name: str, ops: list, types: dict) -> int:
    """A float32 tensor that takes over `index`'s place (and name) at the graph's edge, joined to it by
    `op_name`; signatures are pointed at the twin. Returns its index."""
    quantized = graph.tensors[index]
    twin = schema.TensorT()
    twin.shape, twin.shapeSignature, twin.type, twin.buffer = quantized.shape, quantized.shapeSignature, 0, 0
    twin.name, quantized.name = quantized.name, quantized.name + b"_quantized"
    twin_index = len(graph.tensors)
    graph.tensors.append(twin)
    versions = _QUANTIZE_VERSION if op_name == "QUANTIZE" else _DEQUANTIZE_VERSION
    op = schema.OperatorT()
    op.opcodeIndex = _opcode(schema, model, getattr(schema.BuiltinOperator, op_name), versions[types[quantized.type]])
    op.inputs, op.outputs = ([twin_index], [index]) if op_name == "QUANTIZE" else ([index], [twin_index])
    ops.append(op)
    for signature in model.signatureDefs or []:
        for entry in (signature.inputs or []) + (signature.outputs or []):
            if entry.tensorIndex == index:
                entry.tensorIndex = twin_index
    return twin_index


def _builtin(code) -> int:
    """An operator code's builtin operator: codes above 127 live only in `builtinCode`, older files fill
    only `deprecatedBuiltinCode`."""
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def _opcode(schema, model, builtin: int, version: int) -> int:
    for position, code in enumerate(model.operatorCodes):
        if _builtin(code) == builtin:
            code.version = max(code.version, version)
            return position
    code = schema.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = builtin, min(builtin, 127), version
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1
