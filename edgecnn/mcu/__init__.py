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


def require_mcu_tools(tflm_for: str | None, vela_for: str | None) -> None:
    """Before any work: the tools a recipe's settings need (`*_for` names the setting, None when none does)."""
    from edgecnn.errors import MissingDependency

    if tflm_for and not tflm_available():
        raise MissingDependency(f"{tflm_for} needs TensorFlow Lite Micro (tflite-micro); {MCU_EXTRA}")
    if vela_for and not vela_available():
        raise MissingDependency(f"{vela_for} needs Arm's Vela compiler (ethos-u-vela); {MCU_EXTRA}")
