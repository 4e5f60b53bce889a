"""edgecnn.api: the commands as Python functions, on the shared tiny build (what a notebook does)."""

import json

import pytest

from edgecnn import api
from edgecnn.errors import BudgetExceeded, RecipeError


def test_verify_predict_and_inspect_from_python(tiny_build, tmp_path):
    from PIL import Image

    run_dir, _ = tiny_build
    model = run_dir / "model_int8.tflite"
    verified = api.verify([model], data="digits", overrides=["verify.runs=5", "verify.budgets.min_accuracy=0.5"],
                          out=tmp_path / "v", show_progress=False)
    assert verified.folder == tmp_path / "v"
    assert json.loads((verified.folder / "report.json").read_text())["gate"] == verified.report.to_dict()["gate"]
    api.enforce_gate(verified.report)  # within its budget: nothing raised
    strict = api.verify([model], data="digits", overrides=["verify.runs=5", "verify.budgets.min_accuracy=0.9999"],
                        out=tmp_path / "strict", show_progress=False)
    with pytest.raises(BudgetExceeded, match="min_accuracy: measured"):
        api.enforce_gate(strict.report)
    Image.new("L", (16, 16), 0).save(tmp_path / "black.png")
    predictions = api.predict(model, [tmp_path / "black.png"], top_k=2)
    assert len(predictions[0]["predictions"]) == 2 and predictions[0]["image"].endswith("black.png")
    record = api.inspect(model, out=tmp_path / "inspect")
    assert record["totals"]["macs"] > 0 and (tmp_path / "inspect" / "inspect.json").is_file()


def test_bad_input_raises_the_clis_one_line_error(tmp_path):
    with pytest.raises(RecipeError, match="recipe file not found"):
        api.build(tmp_path / "missing.yaml", show_progress=False)
    assert not (tmp_path / "runs").exists()
