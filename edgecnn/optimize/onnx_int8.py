"""ONNX int8 with onnxruntime.quantization: static QDQ (per-channel weights, calibrated activation
ranges) and dynamic quantization, both after `quant_pre_process` (shape inference and graph cleanup)."""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgecnn.data.contract import is_pixel_input

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import OnnxQuantConfig

METHODS = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}


def quantize_onnx(float_proto, mode: str, calibration: np.ndarray | None, settings: OnnxQuantConfig):
    """The quantized ModelProto: `mode` static (int8 QDQ, calibrated) or dynamic (int8 weights)."""
    import onnx  # lazy: ONNX (0.3 s) only for .onnx files
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_dynamic, quantize_static
    # lazy: onnxruntime tools (0.3 s) only where used
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(prefix="edgecnn-onnx-") as tmp, contextlib.redirect_stdout(io.StringIO()):
        source, prepared, output = Path(tmp) / "float.onnx", Path(tmp) / "prepared.onnx", Path(tmp) / "int8.onnx"
        onnx.save(float_proto, str(source))
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        if mode == "static":
            # The pixel convolution stays float: onnxruntime's int8 convolution on x86 without VNNI sums pairs of
            # products in 16 bits, which full-range pixels (255) times full-range weights overflow, and a 1x1
            # convolution over three channels costs nothing in float.
            pixel_nodes = [node.name for node in onnx.load(str(prepared)).graph.node if is_pixel_input(node.name)]
            quantize_static(
                str(prepared), str(output), _reader(float_proto.graph.input[0].name, calibration),
                quant_format=QuantFormat.QDQ, per_channel=settings.per_channel, reduce_range=settings.reduce_range,
                activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                calibrate_method=getattr(CalibrationMethod, METHODS[settings.method]), nodes_to_exclude=pixel_nodes,
            )
        else:
            quantize_dynamic(str(prepared), str(output), weight_type=QuantType.QInt8, reduce_range=settings.reduce_range)
        return onnx.load(str(output))


def _reader(input_name: str, images: np.ndarray):
    """onnxruntime's CalibrationDataReader over our calibration images, one at a time."""
    from onnxruntime.quantization import CalibrationDataReader  # lazy: onnxruntime tools (0.3 s) only where used

    class ImageReader(CalibrationDataReader):
        def __init__(self):
            self._feeds = iter([{input_name: image[None].astype(np.float32)} for image in images])

        def get_next(self):
            return next(self._feeds, None)

    return ImageReader()
