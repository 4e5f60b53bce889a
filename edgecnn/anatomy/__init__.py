"""See inside a model: per-layer cost and memory (read by `edgecnn.artifacts`), and what its
convolutions detect (`pictures`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.table import Table

from edgecnn.anatomy.pictures import Activations, default_layers, feature_grid, kernel_grid, save_png, strongest_grid
from edgecnn.artifacts import Artifact
from edgecnn.artifacts.layers import separable_savings, totals
from edgecnn.console import console
from edgecnn.data.contract import is_pixel_input, normalize
from edgecnn.data.images import BadImage, ImageFormat, load_image
from edgecnn.errors import DataError

__all__ = ["describe_model", "draw_pictures", "print_anatomy"]


def describe_model(artifact: Artifact) -> dict:
    """Every layer's cost, the totals, the depthwise-separable savings and the memory estimate."""
    layers = artifact.layers
    record = {"model": str(artifact.path), "layers": [layer.to_dict() for layer in layers], "totals": totals(layers),
              "separable_savings": separable_savings(layers)}
    if artifact.kind in ("tflite", "onnx"):
        record["memory"] = artifact.memory
    return record


def first_conv_kernels(artifact: Artifact):
    """(kh, kw, Cin, Cout) weights of the model's first standard convolution, or None."""
    if artifact.kind == "keras":
        for layer in artifact.runner().model.layers:
            if type(layer).__name__ == "Conv2D":
                return layer.kernel.numpy()
        return None
    # The trained model's first convolution, not the fixed pixel convolution exported files start with.
    first = next((k for k in artifact.kernels if k.kind == "conv" and not is_pixel_input(k.layer)), None)
    return None if first is None else first.values.astype("float32").transpose(1, 2, 3, 0)


def draw_pictures(artifact: Artifact, out_dir: Path, image=None, layer_names: list[str] | None = None,
                  test_images=None, test_labels=None, strongest_layer: str | None = None) -> dict:
    """PNG grids: first-layer kernels; feature maps of `layer_names` (default first, middle, last
    convolution) for `image` (a file, or uint8 HWC pixels); the test images exciting each channel of
    `strongest_layer` most."""
    out_dir = Path(out_dir)
    contract = artifact.contract()
    names = layer_names or default_layers(artifact.layers)
    pixels = None
    if image is not None:  # read before anything is drawn: a bad image leaves no half-made pictures
        try:  # a file path, or the pixels themselves (a test image, exactly as the model sees it)
            pixels = image if isinstance(image, np.ndarray) else load_image(
                image, ImageFormat((contract.height, contract.width), contract.channels, contract.resize))
        except BadImage as exc:
            raise DataError(f"{image}: {exc}") from None
    pictures = {}
    kernels = first_conv_kernels(artifact)
    if kernels is not None:
        title = f"first convolution: {kernels.shape[-1]} kernels {kernels.shape[0]}x{kernels.shape[1]}x{kernels.shape[2]}"
        pictures["kernels"] = str(save_png(kernel_grid(kernels, title), out_dir / "first_conv_kernels.png"))
    activations = Activations(artifact)
    if image is not None:
        maps = activations(normalize(pixels[None], contract), names)
        pictures["feature_maps"] = [str(save_png(feature_grid(maps[name][0], name), out_dir /
                                                 f"feature_maps_{i}_{_file_part(name)}.png"))
                                    for i, name in enumerate(names)]
    if test_images is not None and len(test_images):
        layer = strongest_layer or names[-1]
        chosen = test_images[:500]
        acts = activations(normalize(chosen, contract), [layer])[layer]
        grid = strongest_grid(chosen, acts, layer, np.asarray(test_labels)[:500], contract.labels)
        pictures["strongest"] = str(save_png(grid, out_dir / f"strongest_{_file_part(layer)}.png"))
    return pictures


def _file_part(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:40]


def print_anatomy(record: dict) -> None:
    """The per-layer table, the separable savings, memory and pictures of `describe_model`, on the terminal."""
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
