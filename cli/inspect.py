"""`edgecnn inspect MODEL`: per-layer cost, memory, and pictures of what the convolutions detect."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from edgecnn_cli._common import JsonOption, print_json, user_errors


def inspect(
    model: Annotated[Path, typer.Argument(help="A .keras, .tflite or .onnx model.", show_default=False)],
    image: Annotated[Optional[Path], typer.Option("--image", help="Draw feature maps of --layers for this image "
                                                  "(.tflite or .keras models).")] = None,
    layers: Annotated[Optional[str], typer.Option("--layers", help="Comma-separated layer names for the feature "
                                                  "maps \\[default: first, middle and last convolution].")] = None,
    data: Annotated[Optional[str], typer.Option("--data", help="Test images for the strongest-activating grid: "
                                                "a source or recipe .yaml \\[default: the model's run folder].")] = None,
    strongest: Annotated[Optional[str], typer.Option("--strongest", help="Layer whose channels get the "
                                                     "strongest-activating test images \\[default: last shown].")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Folder for inspect.json and the PNGs "
                                                "\\[default: inspect/ beside the model].")] = None,
    as_json: JsonOption = False,
):
    """Per-layer table (type, kernel, stride, padding, output shape, parameters, MACs at batch 1, activation
    bytes), totals, the depthwise-separable saving per block, flash and peak activation RAM from tensor
    lifetimes; with --image, PNG grids of first-layer kernels, feature maps and strongest test images.

    Example: edgecnn inspect runs/shapes/model_float32.tflite --image circle.png
    """
    with user_errors():
        from edgecnn import api
        from edgecnn.anatomy import print_anatomy

        names = [name.strip() for name in layers.split(",")] if layers else None
        record = api.inspect(model, out, image, names, data, strongest)
        if as_json:
            print_json(record)
        else:
            print_anatomy(record)
            from edgecnn.run import INSPECT_JSON, RunFolder

            typer.echo(f"written: {(out or RunFolder(model.parent).inspect_dir) / INSPECT_JSON}", err=True)
