"""The README's microcontroller table: recipes/digits.yaml, shapes.yaml and mcu.yaml built with TensorFlow Lite
Micro always on and Vela on two Ethos-U configurations; one Markdown row per int8 .tflite (LiteRT int8 accuracy,
TFLM accuracy and agreement, arena, flash, and per NPU: cycles / ms / SRAM / operators on the NPU).

    python benchmarks/mcu_table.py --out /tmp/mcu-table [--recipes digits mcu]

Vela's figures are deterministic; the accuracies are the builds' own (the shipped recipes' seeds).
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgecnn import api  # noqa: E402
from edgecnn.verify.latency import machine_line  # noqa: E402

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
NPUS = ("verify.npu=[ethos-u55-128, {accelerator: ethos-u65-256, system_config: Ethos_U65_High_End, "
        "memory_mode: Dedicated_Sram_512KB}]")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", nargs="+", default=["digits", "shapes", "mcu"])
    parser.add_argument("--out", type=Path, default=Path("mcu-table"))
    args = parser.parse_args()
    print(f"CPU: {machine_line()}", flush=True)
    for name in args.recipes:
        report = api.build(RECIPES / f"{name}.yaml", out=args.out / name, overrides=[NPUS, "verify.mcu_check=always"],
                           show_progress=False).report
        for row in report.artifacts:
            if row.mcu is None or row.mcu.tflm is None:
                continue
            tflm = row.mcu.tflm
            npus = [f"{n.cycles:,} / {n.ms:.3f} / {n.sram_bytes / 1024:.1f} KiB / {n.npu_operators} of "
                    f"{n.npu_operators + n.cpu_operators}" for n in row.mcu.npu]
            print(f"| {name} | {row.name} | {100 * row.accuracy:.2f}% | {100 * tflm.accuracy:.2f}% | "
                  f"{100 * tflm.agreement:.2f}% | {tflm.arena_bytes / 1024:.1f} KiB | {tflm.flash_bytes / 1024:.1f} KiB | "
                  + " | ".join(npus) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
