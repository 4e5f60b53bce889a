"""Post-training quantization with the LiteRT quantizer (`ai-edge-quantizer`), from a float TFLite file.

Google recommends it over converter PTQ for LiteRT; it needs no TensorFlow itself.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np

from edgecnn.errors import MissingDependency
from edgecnn.fileio import captured_native_stderr

def quantize_with_litert(float_flatbuffer: bytes, recipe_name: str, calibration: np.ndarray | None) -> bytes:
    """Quantize with the ai_edge_quantizer.recipe function `recipe_name` (e.g. static_wi8_ai8)."""
    try:
        # lazy: the LiteRT quantizer (0.6 s, train extra) only for aeq variants
        from ai_edge_quantizer import quantizer, recipe
    except ImportError as exc:
        raise MissingDependency('the LiteRT quantizer is not installed; install it with: '
                                'pip install "edgecnn[train]"') from exc
    # Its calibration and report print progress bars and tables; keep them off the user's terminal.
    with captured_native_stderr(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it enables experimental_preserve_all_tensors to calibrate, and says so
        engine = quantizer.Quantizer(bytearray(float_flatbuffer))
        engine.load_quantization_recipe(getattr(recipe, recipe_name)())
        result = None
        if engine.need_calibration:
            signature, input_name = _signature_input(float_flatbuffer)
            samples = [{input_name: image[None].astype(np.float32)} for image in calibration]
            result = engine.calibrate({signature: samples})
        quantized = engine.quantize(result, enable_progress_bar=False, enable_progress_report=False)
    return bytes(quantized.quantized_model)


def _signature_input(flatbuffer: bytes) -> tuple[str, str]:
    from ai_edge_litert.interpreter import Interpreter  # lazy: LiteRT (0.16 s) only for .tflite files

    signatures = Interpreter(model_content=flatbuffer).get_signature_list()
    key = next(iter(signatures))
    return key, signatures[key]["inputs"][0]
