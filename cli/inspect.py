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
        from edgecnn.anatomy import describe_model, draw_pictures
        from edgecnn.artifacts import open_artifact
        from edgecnn.fileio import write_json

        artifact = open_artifact(model)
        record = describe_model(artifact)
        out_dir = out or model.parent / "inspect"
        if image is not None or data is not None:
            test_images, test_labels = _test_split(artifact, data)
            names = [name.strip() for name in layers.split(",")] if layers else None
            record["pictures"] = draw_pictures(artifact, out_dir, image, names, test_images, test_labels, strongest)
        write_json(out_dir / "inspect.json", record)
        if as_json:
            print_json(record)
        else:
            print_anatomy(record)
            typer.echo(f"written: {out_dir / 'inspect.json'}", err=True)


def _test_split(artifact, data: str | None):
    """Test images from --data, or from the run folder the model sits in; (None, None) without either."""
    from edgecnn.data import load_dataset
    from edgecnn.run import RunFolder

    run = RunFolder(artifact.path.parent)
    if data is None and not run.is_run():
        return None, None
    if data is None:
        recipe = run.load_recipe()
    else:
        from edgecnn.recipe import data_recipe

        contract = artifact.contract()
        recipe = data_recipe(data, 0, data={"image_size": [contract.height, contract.width],
                                            "channels": contract.channels})
    dataset = load_dataset(recipe.data, recipe.seed)
    return dataset.x_test, dataset.y_test


def print_anatomy(record: dict) -> None:
    from rich.table import Table

    from edgecnn.console import console

    table = Table(title=f"{record['model']}: per layer, batch 1")
    for header in ("layer", "type", "kernel", "stride", "padding", "output", "params", "MACs", "act. KiB"):
        table.add_column(header, justify="right" if header in ("params", "MACs", "act. KiB", "stride") else "left")
    for row in record["layers"]:
        table.add_row(row["name"][:32], row["type"], row["kernel"], str(row["stride"] or ""), row["padding"],
                      "x".join(map(str, row["output_shape"])), f"{row['params']:,}", f"{row['macs']:,}",
                      f"{row['activation_bytes'] / 1024:.1f}")
    totals = record["totals"]
    table.add_row("total", "", "", "", "", "", f"{totals['params']:,}", f"{totals['macs']:,}",
                  f"{totals['activation_bytes'] / 1024:.1f}", style="bold")
    out = console()
    out.print(table)
    for saving in record["separable_savings"]:
        out.print(f"{saving['depthwise']} + {saving['pointwise']}: {saving['separable_macs']:,} MACs vs "
                  f"{saving['standard_macs']:,} for a standard {saving['kernel']} conv "
                  f"{saving['channels_in']}->{saving['channels_out']} ({saving['saving']}x fewer)")
    memory = record.get("memory")
    if memory:
        largest = ", ".join(f"{t['bytes'] / 1024:.1f} KiB" for t in memory["largest_live_tensors"])
        out.print(f"flash {memory['flash_bytes'] / 1024:.1f} KiB; peak activation RAM "
                  f"{memory['peak_activation_bytes'] / 1024:.1f} KiB at {memory['peak_at']} (largest live: {largest})")
    for name, paths in (record.get("pictures") or {}).items():
        out.print(f"{name}: {', '.join(paths) if isinstance(paths, list) else paths}")
