"""Architecture as data: block strings, decoded in one place.

A block string is `TYPE` followed by `_KEYVALUE` parts, in any order:

    TYPE  cn  standard convolution + BatchNorm + ReLU6 (stems, heads and the `plain` baselines)
          ds  depthwise-separable: depthwise kxk + BN + ReLU6, pointwise 1x1 + BN + ReLU6 (MobileNet v1)
          ir  inverted residual: expand 1x1, depthwise kxk, linear project 1x1, residual add when the
              shapes allow (MobileNetV2)
    r N   repeats (default 1); only the first repeat uses the stride
    k N   kernel size: 3 or 5 for ds/ir, 1, 3, 5 or 7 for cn (default 3)
    s N   stride, 1 or 2 (default 1)
    e N   expansion of ir blocks (default 6; 1 means no expand layer)
    c N   output channels before the width multiplier (required)
    fixed channels are not reduced by alpha < 1 (MobileNetV2's final 1280-channel conv)

Examples: 'ds_r2_k3_s2_c64', 'ir_r3_k5_s2_e6_c40', 'cn_k1_c1280_fixed'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edgecnn.errors import ModelError

_KINDS = ("cn", "ds", "ir")
_PART = re.compile(r"^([rksec])(\d+)$")
_KERNELS = {"cn": (1, 3, 5, 7), "ds": (3, 5), "ir": (3, 5)}


@dataclass(frozen=True)
class BlockSpec:
    kind: str
    channels: int
    repeats: int = 1
    kernel: int = 3
    stride: int = 1
    expansion: int = 1
    fixed: bool = False


def decode_block(text: str) -> BlockSpec:
    """Parse one block string; a ValueError-style ModelError quotes the bad string."""
    kind, *parts = str(text).strip().split("_")
    if kind not in _KINDS:
        raise ModelError(f"block {text!r}: unknown type {kind!r}; expected one of {', '.join(_KINDS)}")
    values = {"r": 1, "k": 3, "s": 1, "e": 6 if kind == "ir" else 1}
    fixed = False
    for part in parts:
        if part == "fixed":
            fixed = True
            continue
        match = _PART.match(part)
        if not match:
            raise ModelError(f"block {text!r}: cannot read {part!r}; expected r<repeats>, k<kernel>, s<stride>, e<expansion>, c<channels> or 'fixed'")
        values[match.group(1)] = int(match.group(2))
    if "c" not in values:
        raise ModelError(f"block {text!r}: missing the channel count, e.g. '{text}_c32'")
    _check_block(text, kind, values)
    return BlockSpec(kind, values["c"], values["r"], values["k"], values["s"], values["e"], fixed)


def _check_block(text: str, kind: str, values: dict) -> None:
    if values["k"] not in _KERNELS[kind]:
        raise ModelError(f"block {text!r}: kernel must be one of {_KERNELS[kind]} for {kind}; received k{values['k']}")
    if values["s"] not in (1, 2):
        raise ModelError(f"block {text!r}: stride must be 1 or 2; received s{values['s']}")
    if not 1 <= values["r"] <= 32:
        raise ModelError(f"block {text!r}: repeats must be in [1, 32]; received r{values['r']}")
    if not 1 <= values["c"] <= 8192:
        raise ModelError(f"block {text!r}: channels must be in [1, 8192]; received c{values['c']}")
    if not 1 <= values["e"] <= 16:
        raise ModelError(f"block {text!r}: expansion must be in [1, 16]; received e{values['e']}")
    if kind != "ir" and values["e"] != 1:
        raise ModelError(f"block {text!r}: expansion (e) applies only to ir blocks")


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round channels to a multiple of `divisor`, never more than 10% below `value` (as Keras/TF do)."""
    min_value = min_value or divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def scaled_channels(block: BlockSpec, alpha: float) -> int:
    if block.fixed and alpha <= 1.0:
        return block.channels
    return make_divisible(block.channels * alpha)
