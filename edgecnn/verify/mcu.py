"""What a microcontroller or an NPU gets from an int8 `.tflite`: the test split run in TensorFlow Lite Micro
(accuracy, agreement with LiteRT, arena and flash), and Vela's estimate on each configured Ethos-U (`edgecnn.mcu`).
Rows only for full-integer TFLite files: float and hybrid files are not what these parts run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgecnn.artifacts.runners import predict_pixels
from edgecnn.mcu import tflm_available
from edgecnn.mcu.tflm import RUNTIME, TflmRefusal, open_tflm
from edgecnn.mcu.vela import estimate
from edgecnn.verify.record import McuResult, NpuEstimate, TflmResult

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import NpuConfig, VerifyConfig

def mcu_applies(kind: str, precision: str, settings: VerifyConfig) -> bool:
    return kind == "tflite" and precision == "int8" and (settings.mcu_check != "never" or bool(settings.npu))


def measure_mcu(path: Path, images: np.ndarray, labels: np.ndarray | None, contract, litert: np.ndarray,
                settings: VerifyConfig, folder: Path) -> McuResult | None:
    """TFLM's row (when `mcu_check` lets it run) and Vela's estimates of one int8 file; None when neither ran (auto
    without the mcu extra). `images` are uint8 pixels fed as `contract` says, as LiteRT was fed; `litert` holds
    LiteRT's probabilities."""
    # auto runs TFLM when it is installed, and fails without it when a budget needs its figures
    wanted = settings.mcu_check == "always" or (settings.mcu_check == "auto" and (tflm_available()
                                                                                   or settings.mcu_budgets()))
    tflm = tflm_row(path, images, labels, contract, litert) if wanted else None
    if tflm is None and not settings.npu:
        return None
    return McuResult(tflm=tflm, npu=[npu_row(path, target, folder) for target in settings.npu])


def tflm_row(path: Path, images: np.ndarray, labels, contract, litert: np.ndarray) -> TflmResult:
    runner = open_tflm(path)
    flash = Path(path).stat().st_size
    if isinstance(runner, TflmRefusal):
        return TflmResult(runtime=RUNTIME, runs=False, flash_bytes=flash, refused_operators=runner.operators,
                          reason=runner.reason)
    probabilities = predict_pixels(runner, images, contract)
    top1 = probabilities.argmax(1)
    return TflmResult(
        runtime=RUNTIME, runs=True, accuracy=None if labels is None else float((top1 == labels).mean()),
        agreement=float((top1 == litert.argmax(1)).mean()), max_abs_diff=float(np.abs(probabilities - litert).max()),
        arena_bytes=runner.arena_bytes(), flash_bytes=flash,
    )


def npu_row(path: Path, target: NpuConfig, folder: Path) -> NpuEstimate:
    found = estimate(Path(path), target, folder / Path(path).stem / target.label.replace("/", "_"))
    return NpuEstimate(
        npu=target.label, accelerator=target.accelerator, system_config=found.system_config,
        memory_mode=found.memory_mode, clock_mhz=found.clock_hz / 1e6, cycles=found.cycles,
        npu_cycles=found.npu_cycles, ms=round(found.ms, 6), sram_bytes=found.sram_bytes,
        weights_bytes=found.weights_bytes, weights_area=found.weights_area, npu_operators=found.npu_operators,
        cpu_operators=found.cpu_operators, npu_share=round(found.npu_share, 6), macs=found.macs,
        per_layer_csv=str(found.per_layer_csv), compiled=str(found.compiled),
    )


def mcu_files(result) -> list[Path]:
    """The files Vela wrote for a verified row (what the verify stage records as its outputs)."""
    if result.mcu is None:
        return []
    return [Path(path) for npu in result.mcu.npu for path in (npu.per_layer_csv, npu.compiled)]
