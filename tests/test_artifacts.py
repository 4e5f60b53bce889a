"""open_artifact: one model file, read once by every reader; and the one registry of artifact formats."""

import pytest

from edgecnn.artifacts import open_artifact
from edgecnn.errors import RecipeError, VerificationError
from edgecnn.formats import ALL_ARTIFACTS, OPTIMIZE_VARIANTS
from edgecnn.recipe import validate_recipe


def test_every_variant_in_the_registry_is_a_recipe_name_with_a_maker():
    from edgecnn.optimize.variants import MAKERS

    assert {fmt.maker for fmt in OPTIMIZE_VARIANTS.values()} <= set(MAKERS)
    recipe = validate_recipe({"name": "t", "optimize": {"variants": list(OPTIMIZE_VARIANTS)}})
    assert recipe.optimize.variants == list(OPTIMIZE_VARIANTS)
    with pytest.raises(RecipeError, match="optimize.variants"):
        validate_recipe({"name": "t", "optimize": {"variants": ["ptq_int9"]}})
    assert all(fmt.is_variant == (name in OPTIMIZE_VARIANTS) for name, fmt in ALL_ARTIFACTS.items())


def test_verifying_a_file_parses_it_once_per_runtime_and_thread_count(tiny_build, tiny_dataset, monkeypatch):
    import ai_edge_litert.interpreter as litert

    from edgecnn.recipe import VerifyConfig
    from edgecnn.verify import verify_artifact

    opened = []
    original = litert.Interpreter.__init__
    monkeypatch.setattr(litert.Interpreter, "__init__", lambda self, *a, **k: opened.append(k) or original(self, *a, **k))
    artifact = open_artifact(tiny_build[0] / "model_int8.tflite")
    settings = VerifyConfig(runs=5, warmup=1, threads=[1, 2])
    result = verify_artifact(artifact, "int8", "tflite_int8", tiny_dataset.x_test, tiny_dataset.y_test,
                             artifact.contract(), None, settings)
    # one XNNPACK runner per thread count, one delegate-free parse for layers, kernels, memory and readiness
    assert len(opened) == 3 and result.precision == "int8" and result.macs == artifact.macs > 0
    assert artifact.layers and artifact.kernels and artifact.memory["peak_activation_bytes"] > 0
    assert len(opened) == 3  # asking again reads nothing


def test_the_contract_is_the_files_own_unless_it_records_none(tiny_build):
    artifact = open_artifact(tiny_build[0] / "model_float32.onnx")
    recorded = artifact.contract()
    assert recorded.normalization == artifact.metadata["input"]["normalization"] and len(recorded.labels) == 10
    with pytest.raises(VerificationError, match="--normalization symmetric: .* records"):
        artifact.contract("symmetric")
    renamed = artifact.contract(labels=[f"digit {i}" for i in range(10)])
    assert renamed.labels[3] == "digit 3" and artifact.contract().labels[3] == "3"  # the kept contract is not changed
    with pytest.raises(VerificationError, match="10 outputs but 2 labels"):
        artifact.contract(labels=["a", "b"])
