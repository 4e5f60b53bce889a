"""MODEL_CARD.md: what the model is for, what it was trained and measured on, how to feed it, and
where it falls short, from the run's own report (the figures are the ones verification measured)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgecnn.artifacts import open_artifact
from edgecnn.data.frames import app_steps
from edgecnn.verify.record import BuildReport, DataSummary

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import Recipe

# What the training images of the built-in sets look like, so an app can hand over frames that look alike.
LOOKS = {
    "digits": "white (bright) handwritten digits on a black background, centred and filling most of the image",
    "mnist": "white (bright) handwritten digits on a black background, centred",
    "fashion_mnist": "light clothing on a black background, centred",
    "shapes": "one coloured shape on a noisy background of another colour",
}


def model_card(report: BuildReport, handoff) -> str:
    recipe, data = report.recipe.parsed(), report.data
    metadata = handoff.metadata  # the phone file's own edgecnn metadata (its input contract and labels)
    contract = metadata.get("input", {})
    labels = metadata.get("labels") or list(handoff.phone.row.per_class or {})
    info = recipe.export.model_info
    lines = [f"# {recipe.name}: model card", "",
             info.description or f"Image classifier for {len(labels)} classes: {', '.join(labels)}.", "",
             f"edgecnn {report.edgecnn_version}, recipe hash `{report.recipe_hash}`, "
             f"version {info.version or metadata.get('recipe_hash') or report.recipe_hash}, author {info.author}"
             + (f", license {info.license}" if info.license else ", no license stated") + ".", ""]
    lines += _use(recipe, data, labels) + _files(handoff) + _inputs(handoff, contract, recipe) + _data(recipe, data)
    lines += _accuracy(report, handoff) + _per_class(handoff, labels) + _latency(report, handoff)
    lines += _making(handoff) + _limitations(recipe, data, handoff)
    lines += ["## Integration", "", "Snippets in `snippets/`, filled in for these files: `classify_android.kt` "
              "(Kotlin, MediaPipe Tasks), `classify_ios.swift` (Swift, MediaPipe Tasks), `classify_node.mjs` "
              "(onnxruntime-node, with jimp to decode images; `npm install --ignore-scripts` beside it) and "
              "`classify.py` (LiteRT). The Node and Python snippets take the model file's path and find what they "
              "need from it (labels inside the `.tflite`, `labels.txt` beside the `.onnx`), so they run wherever "
              "you copy them.", ""]
    return "\n".join(lines)


def _use(recipe: Recipe, data: DataSummary, labels) -> list[str]:
    return ["## Intended use", "",
            f"Classify one image into one of {len(labels)} classes ({', '.join(labels)}), for images like those "
            f"of its training data (`{data.source}`). It always answers with one of these classes: it has no "
            "'none of these' class, so images of anything else get a confident-looking wrong label.", ""]


def _files(handoff) -> list[str]:
    lines = ["## Files", "", "| file | format | precision | input | size | gzip | accuracy | MediaPipe Tasks |",
             "|---|---|---|---|---:|---:|---:|---|"]
    for f in handoff.handed:
        row = f.row
        mediapipe = row.readiness.mediapipe if row.readiness else None
        loads = "- (not a .tflite)" if not f.filename.endswith(".tflite") else "loads" if row.loads_in_mediapipe else \
            "refuses: " + "; ".join(mediapipe.problems if mediapipe else [])
        lines.append(f"| `{f.filename}` | {row.format} | {row.precision} | {row.input_dtype} | "
                     f"{row.size_bytes / 1024:.1f} KiB | {row.gzip_bytes / 1024:.1f} KiB | {_pct(row.accuracy)} | "
                     f"{loads} |")
    return lines + ["", f"Phone SDKs (MediaPipe Tasks, ML Kit): `{handoff.phone.filename}`. ONNX Runtime: "
                    + (f"`{handoff.web.filename}` (or its `.ort` copy for ONNX Runtime Mobile)." if handoff.web
                       else "no ONNX file in this run."), ""]


def _inputs(handoff, contract: dict, recipe: Recipe) -> list[str]:
    """How to feed each shipped file (they differ: the int8 .tflite takes uint8, the ONNX files float32) and
    what its tensors are really called, read from the files themselves."""
    if not contract:
        return []
    lines = ["## Input and output", "",
             "| file | input tensor | type | shape | output tensor | type | shape |", "|---|---|---|---|---|---|---|"]
    for f in handoff.handed:
        io = open_artifact(handoff.folder / f.filename).runner().io()
        lines.append(f"| `{f.filename}` | `{io.input_name}` | {io.input_dtype} | {_shape(io.input_shape)} | "
                     f"`{io.output_name}` | {io.output_dtype} | {_shape(io.output_shape)} |")
    inside = contract.get("inside") or {}
    lines += ["", f"- Every file takes {contract['layout']} {contract['color'].upper()} pixels 0..255 as decoded, nothing "
              "subtracted or divided (uint8 or float32 values alike); the output is one softmax score per label, in "
              "`labels.txt` order. A batch of `?` takes any number of images.",
              f"- Resize policy `{contract['resize']}` to {contract['height']}x{contract['width']}: "
              + app_steps(contract["resize"], contract["height"], contract["width"])
              + " `edgecnn predict` and the Node snippet sample the same way, pixel for pixel.",
              "- Inside the model, first: " + (f"{inside['color']}, then " if inside.get("color") else "")
              + f"{inside.get('formula', 'nothing')}."]
    quantization = contract.get("quantization")
    if quantization:
        lines.append(f"- `{handoff.phone.filename}`'s quantized input: scale {quantization['scale']:g}, zero point "
                     f"{quantization['zero_point']} (the uint8 values are the pixels).")
    if recipe.data.channels == 1:
        lines.append("- A grayscale model with an RGB input: hand over RGB (or RGBA) frames; the luminance is taken "
                     "inside. Convert a grayscale picture to RGB before classifying it: MediaPipe Tasks does not (a "
                     "one-channel image fails with `TfLiteTensor dims [1,H,W,3] vs MP Tensor dims [1,H,W,1]`, and the "
                     "classifier then refuses every later image).")
    looks = LOOKS.get(recipe.data.source)
    if looks:
        lines.append(f"- The training images are {looks}: frames that look otherwise (dark on light, say) are "
                     "classified poorly; invert or crop them to look alike.")
    return lines + [""]


def _shape(dims: tuple) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"


def _data(recipe: Recipe, data: DataSummary) -> list[str]:
    split = recipe.data.split
    return ["## Data and splits", "",
            f"Source `{data.source}`, {data.classes} classes, images {data.image_shape}: train {data.train}, "
            f"validation {data.val}, test {data.test} (seeded stratified split, seed {recipe.seed}, "
            f"val {split.val:.0%} / test {split.test:.0%}).",
            ""]


def _accuracy(report: BuildReport, handoff) -> list[str]:
    float_text = _pct(report.float_accuracy)
    lines = ["## Accuracy per runtime", "",
             f"On the {report.data.test} test images, each shipped file in the runtime that runs it; 'vs float' "
             f"is the change in points against the float Keras model the files were made from ({float_text}; not "
             "shipped), agreement is top-1 agreement with it.", "",
             "| file | runtime | accuracy | vs float | agreement |", "|---|---|---:|---:|---:|"]
    for f in handoff.handed:
        row, change = f.row, f.row.accuracy_change
        lines.append(f"| `{f.filename}` | {row.runtime} | {_pct(row.accuracy)} | "
                     f"{'-' if change is None else f'{change * 100:+.2f}'} | {_pct(row.agreement)} |")
    return lines + [""] + _app_accuracy(handoff)


def _app_accuracy(handoff) -> list[str]:
    """What an app got through MediaPipe Tasks with each shipped .tflite, frames prepared as this card says."""
    measured = [f for f in handoff.handed if f.row.app and f.row.app.camera]
    if not measured:
        return []
    scale = measured[0].row.app.camera_scale
    lines = [f"Through MediaPipe Tasks' ImageClassifier, called as 'Input and output' above says: the test split's source images at "
             f"their own size, and camera frames {scale:g} times larger.", "",
             f"| file | source images | camera frames {scale:g}x | top-1 = `edgecnn predict` |", "|---|---:|---:|---:|"]
    for f in measured:
        app = f.row.app
        agreement = min(app.own_size.agreement, app.camera.agreement)
        lines.append(f"| `{f.filename}` | {_pct(app.own_size.accuracy)} | {_pct(app.camera.accuracy)} | "
                     f"{_pct(agreement)} |")
    return lines + [""]


def _per_class(handoff, labels) -> list[str]:
    handed = [f for f in handoff.handed if f.row.per_class]
    if not handed:
        return []
    lines = ["## Accuracy per class", "", "| class | test images | " + " | ".join(f"`{f.filename}`" for f in handed) + " |",
             "|---|---:|" + "---:|" * len(handed)]
    for label in labels:
        first = handed[0].row.per_class.get(label)
        cells = [_pct(result.accuracy if (result := f.row.per_class.get(label)) else None) for f in handed]
        lines.append(f"| {label} | {first.images if first else '-'} | " + " | ".join(cells) + " |")
    return lines + [""]


def _latency(report: BuildReport, handoff) -> list[str]:
    machine = report.machine
    lines = ["## Latency", "",
             f"Batch 1, measured on {machine.cpu or 'an unrecorded CPU'} ({machine.cores or '?'} cores, "
             f"{machine.system or ''}) on {machine.date or 'an unrecorded day'}; a phone differs, so "
             "measure there too. Times in ms.", "",
             "| file | runtime | threads | p50 | p90 | first inference |", "|---|---|---:|---:|---:|---:|"]
    for f in handoff.handed:
        for timing in f.row.latency or []:
            first = float("nan") if timing.first_ms is None else timing.first_ms
            lines.append(f"| `{f.filename}` | {f.row.runtime} | {timing.threads} | {timing.p50:.3f} | "
                         f"{timing.p90:.3f} | {first:.3f} |")
    return lines + [""]


def _making(handoff) -> list[str]:
    lines = ["## How the files were made", ""]
    for f in handoff.handed:
        row = f.row
        made = row.technique or "unknown"
        if row.calibration:
            made += f", calibrated on {row.calibration.samples} images of the {row.calibration.source}"
        lines.append(f"- `{f.filename}`: {made}.")
    return lines + ["- `recipe.yaml` in this folder is the merged recipe the files were built from: `edgecnn build "
                    "recipe.yaml` remakes them from the same data.", ""]


def _limitations(recipe: Recipe, data: DataSummary, handoff) -> list[str]:
    per_class = handoff.phone.row.per_class or {}
    weakest = sorted((result.accuracy, label) for label, result in per_class.items() if result.accuracy is not None)[:2]
    lines = ["## Limitations", "",
             f"- Measured on {data.test} test images from the same source as the training images; accuracy on "
             "a phone camera's pictures can be lower.",
             f"- Input {data.image_shape[0]}x{data.image_shape[1]}: fine detail below that resolution is lost."]
    if weakest:
        lines.append("- Weakest classes in `" + handoff.phone.filename + "`: " +
                     ", ".join(f"{label} ({_pct(acc)})" for acc, label in weakest) + ".")
    if data.source in ("shapes", "digits"):
        lines.append(f"- `{data.source}` is a small benchmark set, not photographs: a demonstration model.")
    return lines + [""]


def _pct(value) -> str:
    return "-" if value is None else f"{value:.2%}"
