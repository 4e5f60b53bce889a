"""An int8 `.tflite` compiled for an Arm Ethos-U NPU by Vela, Arm's own compiler, and its performance estimate:
cycles, inference time at the system configuration's clock, SRAM and weight memory, the operators it placed on
the NPU, and a per-layer CSV. An estimate computed from the compiled command stream, so it has no noise: the
same file and configuration give the same figures on any machine."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edgecnn.errors import VerificationError
from edgecnn.mcu import require_mcu_tools

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import NpuConfig

VELA_CONFIG = "Arm/vela.ini"  # the system configurations and memory modes Vela ships
_OPERATORS = re.compile(r"^(CPU|NPU) operators = (\d+)", re.MULTILINE)
_KIB = 1024  # Vela's summary gives memory in KiB


def vela_arguments(target: NpuConfig) -> list[str]:
    named = target.system_config or target.memory_mode
    return ["--accelerator-config", target.accelerator,
            *(["--config", VELA_CONFIG] if named else []),
            *(["--system-config", target.system_config] if target.system_config else []),
            *(["--memory-mode", target.memory_mode] if target.memory_mode else [])]


@dataclass
class VelaEstimate:
    """Vela's figures for one file on one NPU configuration."""

    target: NpuConfig
    system_config: str
    memory_mode: str
    clock_hz: float
    cycles: int
    npu_cycles: int
    ms: float
    sram_bytes: int
    weights_bytes: int  # in the weights' storage area (off-chip flash, or DRAM), by Vela's memory mode
    weights_area: str
    npu_operators: int
    cpu_operators: int
    macs: int
    per_layer_csv: Path
    compiled: Path  # the Vela-compiled .tflite the Ethos-U driver runs

    @property
    def npu_share(self) -> float:
        total = self.npu_operators + self.cpu_operators
        return self.npu_operators / total if total else 0.0


def estimate(path: Path, target: NpuConfig, out_dir: Path) -> VelaEstimate:
    """Compile `path` with Vela for `target` into `out_dir` and read its summary."""
    require_mcu_tools(None, "verify.npu")
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "ethosu.vela", str(path), *vela_arguments(target), "--output-dir", str(out_dir),
               "--verbose-performance"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        raise VerificationError(f"{path}: Vela could not compile it for {target.label}: "
                                f"{lines[-1].strip() if lines else f'exit {done.returncode}'}")
    summary = _summary(out_dir, path.stem)
    counts = {kind: int(count) for kind, count in _OPERATORS.findall(done.stdout)}
    area = summary["weights_storage_area"]
    weights_key = {"Off-chip Flash": "off_chip_flash_memory_used", "On-chip Flash": "on_chip_flash_memory_used",
                   "DRAM": "dram_memory_used", "SRAM": "sram_memory_used"}[area]
    return VelaEstimate(
        target=target, system_config=summary["system_config"], memory_mode=summary["memory_mode"],
        clock_hz=float(summary["core_clock"]), cycles=int(float(summary["cycles_total"])),
        npu_cycles=int(float(summary["cycles_npu"])), ms=float(summary["inference_time"]) * 1000,
        sram_bytes=round(float(summary["sram_memory_used"]) * _KIB),
        weights_bytes=round(float(summary[weights_key]) * _KIB), weights_area=area,
        npu_operators=counts.get("NPU", 0), cpu_operators=counts.get("CPU", 0), macs=int(float(summary["nn_macs"])),
        per_layer_csv=out_dir / f"{path.stem}_per-layer.csv", compiled=out_dir / f"{path.stem}_vela.tflite",
    )


def _summary(out_dir: Path, stem: str) -> dict[str, str]:
    found = sorted(out_dir.glob(f"{stem}_summary_*.csv"))
    if not found:
        raise VerificationError(f"{out_dir}: Vela wrote no summary CSV for {stem}")
    with found[-1].open(newline="", encoding="utf-8") as handle:
        return next(csv.DictReader(handle))
