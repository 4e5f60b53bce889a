import pytest

from edgecnn.errors import ModelError
from edgecnn.models import count, create_model, decode_block, get_preset, list_presets, make_divisible, resolve_layers


def test_decode_block_reads_every_key():
    spec = decode_block("ir_r3_k5_s2_e4_c40")
    assert (spec.kind, spec.repeats, spec.kernel, spec.stride, spec.expansion, spec.channels) == ("ir", 3, 5, 2, 4, 40)
    assert decode_block("cn_k1_c1280_fixed").fixed


@pytest.mark.parametrize(
    "text, message",
    [
        ("xx_c8", "unknown type 'xx'"),
        ("ds_k3", "missing the channel count"),
        ("ds_k7_c8", "kernel must be one of (3, 5)"),
        ("ds_s3_c8", "stride must be 1 or 2"),
        ("ds_e6_c8", "expansion (e) applies only to ir"),
        ("ds_q3_c8", "cannot read 'q3'"),
    ],
)
def test_decode_block_errors_quote_the_string(text, message):
    with pytest.raises(ModelError) as info:
        decode_block(text)
    assert repr(text) in str(info.value) and message in str(info.value)


def test_make_divisible_matches_keras_rule():
    assert [make_divisible(v) for v in (32 * 0.35, 16 * 0.5, 1280 * 1.4, 12)] == [16, 8, 1792, 16]


def test_unknown_model_suggests_close_names():
    with pytest.raises(ModelError, match="did you mean .*mobilenet_v2"):
        get_preset("mobilenet2")


def test_alpha_out_of_range_echoes_value():
    with pytest.raises(ModelError, match=r"alpha must be in \(0, 4\]; received alpha=0"):
        resolve_layers("dscnn_s", alpha=0)


def test_stride_that_shrinks_input_to_nothing_is_explained():
    with pytest.raises(ModelError, match="shrinks the 4x4 input"):
        resolve_layers("dscnn_s", (4, 4, 1), 10, padding="valid")


@pytest.mark.build  # builds Keras models: TensorFlow
@pytest.mark.parametrize("name, application", [("mobilenet_v1", "MobileNet"), ("mobilenet_v2", "MobileNetV2")])
def test_mobilenets_reproduce_keras_applications(name, application):
    from edgecnn._tf import keras

    # execute
    ours = create_model(name, (224, 224, 3), 1000, alpha=1.0)
    reference = getattr(keras().applications, application)(weights=None, input_shape=(224, 224, 3), classes=1000)
    # assert
    assert ours.count_params() == reference.count_params()
    assert count(resolve_layers(name))["params"] == reference.count_params()


@pytest.mark.build  # builds Keras models: TensorFlow
def test_mobilenet_v2_width_multiplier_matches_keras():
    from edgecnn._tf import keras

    reference = keras().applications.MobileNetV2(alpha=0.35, input_shape=(96, 96, 3), weights=None)
    assert count(resolve_layers("mobilenet_v2", (96, 96, 3), 1000, alpha=0.35))["params"] == reference.count_params()


@pytest.mark.build  # builds Keras models: TensorFlow
@pytest.mark.parametrize("preset", [p.name for p in list_presets() if not p.name.startswith("mobilenet")])
def test_analytic_count_equals_keras_for_every_preset(preset):
    model = create_model(preset, alpha=0.75)
    assert count(resolve_layers(preset, alpha=0.75))["params"] == model.count_params()


@pytest.mark.build  # builds Keras models: TensorFlow
def test_layer_names_encode_block_ids_and_residuals():
    model = create_model("dscnn_ir_s")
    names = {layer.name for layer in model.layers}
    assert {"block_1_dw", "block_1_dw_bn", "block_1_project", "block_2_expand", "block_3_add", "classifier"} <= names
    assert "block_2_add" not in names  # stride-2 blocks have no residual


def test_depthwise_separable_saves_over_plain_baseline():
    ds_totals, plain_totals = count(resolve_layers("dscnn_s")), count(resolve_layers("plain_s"))
    assert plain_totals["params"] > 5 * ds_totals["params"] and plain_totals["macs"] > 5 * ds_totals["macs"]


def test_hand_counted_depthwise_separable_block():
    # dscnn_xs block_1 is ds_k3_s2_c32 on a 16x16x16 map: 3*3*16*8*8 + 16*32*8*8 MACs
    layers = {layer.name: layer for layer in resolve_layers("dscnn_xs", (16, 16, 1), 10)}
    assert layers["block_1_dw"].macs == 3 * 3 * 16 * 8 * 8
    assert layers["block_1_pw"].macs == 16 * 32 * 8 * 8
    assert layers["block_1_pw"].params == 16 * 32 + 4 * 32
