"""LiteRT GPU-delegate compatibility of a `.tflite` flatbuffer, from `tf.lite.experimental.Analyzer`.

The analyzer lives in TensorFlow only (an 8 s import), so the export records its verdict in the file's
edgecnn metadata, where `edgecnn verify` reads it without TensorFlow."""

from __future__ import annotations

import contextlib
import io

from edgecnn._tf import tensorflow
from edgecnn.fileio import captured_native_stderr


def gpu_compatibility(flatbuffer: bytes) -> dict:
    """{"checked": True, "compatible": bool, "warnings": [...]} for the model in `flatbuffer`."""
    tf = tensorflow()
    output = io.StringIO()
    with contextlib.redirect_stdout(output), captured_native_stderr():
        tf.lite.experimental.Analyzer.analyze(model_content=flatbuffer, gpu_compatibility=True)
    warnings = [line.strip() for line in output.getvalue().splitlines() if "GPU COMPATIBILITY WARNING" in line
                or "Not supported op" in line or "is not supported" in line]
    return {"checked": True, "compatible": not warnings, "warnings": warnings[:20], "tensorflow": tf.__version__}
