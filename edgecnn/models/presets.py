"""The registered architectures. Each preset is data: a list of block strings."""

from edgecnn.models.registry import Preset, plain_blocks, register_model

_TINY = ("cn_k3_s1_c8", "ds_r1_k3_s2_c16")
_XS = ("cn_k3_s1_c16", "ds_r1_k3_s2_c32", "ds_r1_k3_s2_c64")
_S = ("cn_k3_s1_c32", "ds_r1_k3_s1_c32", "ds_r1_k3_s2_c64", "ds_r1_k3_s1_c64", "ds_r1_k3_s2_c128")
_M = ("cn_k3_s2_c32", "ds_r1_k3_s1_c48", "ds_r1_k3_s2_c64", "ds_r1_k3_s1_c64", "ds_r1_k3_s2_c128",
      "ds_r1_k3_s1_c128", "ds_r1_k5_s2_c192")
# Latency-aware dscnn_m: _M without its block at the stem's full resolution, which held 41% of the depthwise
# MACs (int8 depthwise costs 2.2x float on x86: XNNPACK's kernel widens int8 to 32-bit lanes) and the largest
# pointwise layer; the next block downsamples straight from the stem.
_M_FAST = (_M[0], *_M[2:])
_MOBILENET_V1 = (
    "cn_k3_s2_c32", "ds_r1_k3_s1_c64", "ds_r1_k3_s2_c128", "ds_r1_k3_s1_c128", "ds_r1_k3_s2_c256",
    "ds_r1_k3_s1_c256", "ds_r1_k3_s2_c512", "ds_r5_k3_s1_c512", "ds_r1_k3_s2_c1024", "ds_r1_k3_s1_c1024",
)
_MOBILENET_V2 = (
    "cn_k3_s2_c32", "ir_r1_k3_s1_e1_c16", "ir_r2_k3_s2_e6_c24", "ir_r3_k3_s2_e6_c32", "ir_r4_k3_s2_e6_c64",
    "ir_r3_k3_s1_e6_c96", "ir_r3_k3_s2_e6_c160", "ir_r1_k3_s1_e6_c320", "cn_k1_c1280_fixed",
)


@register_model
def dscnn_tiny():
    return Preset("dscnn_tiny", _TINY, (16, 16, 1), 10, "2 blocks, 8-16 channels: for tests and smoke runs")


@register_model
def dscnn_xs():
    return Preset("dscnn_xs", _XS, (16, 16, 1), 10, "3 blocks up to 64 channels, for 8-32 px inputs")


@register_model
def dscnn_s():
    return Preset("dscnn_s", _S, (16, 16, 1), 10, "5 blocks up to 128 channels, for 8-32 px inputs (digits)")


@register_model
def dscnn_m():
    return Preset("dscnn_m", _M, (64, 64, 3), 6, "stride-2 stem, 7 blocks up to 192 channels, for 48-128 px (shapes)")


@register_model
def dscnn_m_fast():
    return Preset("dscnn_m_fast", _M_FAST, (64, 64, 3), 6,
                  "dscnn_m without its full-resolution block: 0.7x its latency, 0.6-0.9 points less (shapes)")


@register_model
def dscnn_ir_s():
    blocks = ("cn_k3_s1_c16", "ir_r1_k3_s1_e1_c16", "ir_r2_k3_s2_e4_c24", "ir_r2_k3_s2_e4_c48", "cn_k1_c128")
    return Preset("dscnn_ir_s", blocks, (16, 16, 1), 10, "MobileNetV2-style inverted residuals, small")


@register_model
def plain_xs():
    return Preset("plain_xs", plain_blocks(_XS), (16, 16, 1), 10, "dscnn_xs with standard convolutions (baseline)")


@register_model
def plain_s():
    return Preset("plain_s", plain_blocks(_S), (16, 16, 1), 10, "dscnn_s with standard convolutions (baseline)")


@register_model
def plain_m():
    return Preset("plain_m", plain_blocks(_M), (64, 64, 3), 6, "dscnn_m with standard convolutions (baseline)")


@register_model
def mobilenet_v1():
    return Preset("mobilenet_v1", _MOBILENET_V1, (224, 224, 3), 1000, "MobileNet v1 (Howard et al. 2017)")


@register_model
def mobilenet_v2():
    return Preset("mobilenet_v2", _MOBILENET_V2, (224, 224, 3), 1000, "MobileNetV2 (Sandler et al. 2018)")
