"""`edgecnn predict`: top-k labels of a model file on image files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from edgecnn_cli._common import JsonOption, Normalization, print_json, user_errors


def predict(
    model: Annotated[Path, typer.Argument(help="A .tflite, .onnx, .ort or .keras model (edgecnn-built or not).",
                                          show_default=False)],
    images: Annotated[list[Path], typer.Argument(help="Image files, or folders of them.", show_default=False)],
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, help="Labels shown per image.")] = 3,
    normalization: Annotated[Optional[Normalization], typer.Option(
        "--normalization", help="unit or symmetric, for files without edgecnn metadata.")] = None,
    labels: Annotated[Optional[Path], typer.Option("--labels", help="labels.txt (one per line) for files "
                                                   "without edgecnn metadata.")] = None,
    as_json: JsonOption = False,
):
    """Run a model on images with the pre-processing recorded in it (resize policy, colour, normalization)
    and print the top-k labels with scores; .tflite and .onnx need no TensorFlow.

    Example: edgecnn predict runs/shapes/model_int8.tflite photo1.png photos/ --top-k 3 --json
    """
    with user_errors():
        from edgecnn import api

        results = api.predict(model, images, top_k, normalization and normalization.value, labels)
        if as_json:
            print_json(results)
        else:
            from edgecnn.predict import print_predictions

            print_predictions(results, f"{model.name}: top {top_k}", top_k)
