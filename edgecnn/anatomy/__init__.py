"""See inside a model: per-layer cost and memory (`layers`, `memory`), and what its convolutions
detect (`pictures`)."""

from __future__ import annotations

from pathlib import Path

from edgecnn.anatomy.layers import read_layers, separable_savings, totals
from edgecnn.anatomy.memory import memory_estimate


def describe_model(path: str | Path, layers=None) -> dict:
    """Every layer's cost, the totals, the depthwise-separable savings and the memory estimate
    (`layers`: the file's `read_layers`, when the caller has read them already)."""
    path = Path(path)
    layers = layers if layers is not None else read_layers(path)
    record = {"model": str(path), "layers": [layer.to_dict() for layer in layers], "totals": totals(layers),
              "separable_savings": separable_savings(layers)}
    if path.suffix in (".tflite", ".onnx"):
        record["memory"] = memory_estimate(path, layers)
    return record


__all__ = ["describe_model", "read_layers", "separable_savings", "totals", "memory_estimate"]


def first_conv_kernels(path: Path):
    """(kh, kw, Cin, Cout) weights of the model's first standard convolution, or None."""
    if path.suffix == ".keras":
        from edgecnn.train import load_model

        for layer in load_model(path).layers:
            if type(layer).__name__ == "Conv2D":
                return layer.kernel.numpy()
        return None
    from edgecnn.data.contract import is_pixel_input
    from edgecnn.verify.weights import read_kernels

    # The trained model's first convolution, not the fixed pixel convolution exported files start with.
    first = next((k for k in read_kernels(path) if k.kind == "conv" and not is_pixel_input(k.layer)), None)
    return None if first is None else first.values.astype("float32").transpose(1, 2, 3, 0)


def draw_pictures(path: str | Path, out_dir: Path, image=None, layer_names: list[str] | None = None,
                  test_images=None, test_labels=None, strongest_layer: str | None = None, layers=None) -> dict:
    """PNG grids: first-layer kernels; feature maps of `layer_names` (default first, middle, last
    convolution) for `image` (a file, or uint8 HWC pixels); the test images exciting each channel of `strongest_layer` most.
    `layers`: the file's `read_layers`, when the caller has read them already."""
    import numpy as np

    from edgecnn.anatomy.pictures import Activations, default_layers, feature_grid, kernel_grid, save_png, \
        strongest_grid
    from edgecnn.data.contract import normalize
    from edgecnn.data.images import BadImage, ImageFormat, load_image
    from edgecnn.errors import DataError
    from edgecnn.predict import model_contract
    from edgecnn.verify.runtimes import open_runner

    path, out_dir = Path(path), Path(out_dir)
    layers = layers if layers is not None else read_layers(path)
    contract = model_contract(path, open_runner(path))
    names = layer_names or default_layers(layers)
    pixels = None
    if image is not None:  # read before anything is drawn: a bad image leaves no half-made pictures
        try:  # a file path, or the pixels themselves (a test image, exactly as the model sees it)
            pixels = image if isinstance(image, np.ndarray) else load_image(
                image, ImageFormat((contract.height, contract.width), contract.channels, contract.resize))
        except BadImage as exc:
            raise DataError(f"{image}: {exc}") from None
    pictures = {}
    kernels = first_conv_kernels(path)
    if kernels is not None:
        title = f"first convolution: {kernels.shape[-1]} kernels {kernels.shape[0]}x{kernels.shape[1]}x{kernels.shape[2]}"
        pictures["kernels"] = str(save_png(kernel_grid(kernels, title), out_dir / "first_conv_kernels.png"))
    activations = Activations(path, layers)
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
