"""Microcontrollers and NPUs: a `.tflite` run in TensorFlow Lite Micro's own interpreter (reference kernels,
the exact tensor-arena bytes), estimated on Arm Ethos-U NPUs by Arm's Vela compiler, and written out as
firmware sources. The `mcu` extra installs both tools (`pip install 'edgecnn[mcu]'`); no TensorFlow here."""

from __future__ import annotations

import importlib.util

MCU_EXTRA = "pip install 'edgecnn[mcu]'"


def tflm_available() -> bool:
    return importlib.util.find_spec("tflite_micro") is not None


def vela_available() -> bool:
    return importlib.util.find_spec("ethosu") is not None and importlib.util.find_spec("ethosu.vela") is not None
