'''Integration snippets, filled in with the handed files' names, input size and pre-processing.

Placeholders are `@@NAME@@` (Kotlin and Swift use `$` and braces themselves). The Node snippet is run
by the tests through onnxruntime-node; the Android and iOS ones use MediaPipe Tasks, whose C++ core the
tests run through the `mediapipe` Python package.
'''

from __future__ import annotations

import json
import re
from pathlib import Path

from edgecnn.fileio import write_text

ANDROID = """\
// Android (Kotlin): classify a Bitmap with @@TFLITE@@ through MediaPipe Tasks.
// app/build.gradle.kts: implementation("com.google.mediapipe:tasks-vision:0.10.26")
// Copy @@TFLITE@@ into app/src/main/assets/. Labels, input size (@@WIDTH@@x@@HEIGHT@@ @@COLOR@@) and
// normalization are read from the file's metadata: hand over camera pixels as they are. MediaPipe
// scales the whole image to @@WIDTH@@x@@HEIGHT@@; this model was trained with resize "@@RESIZE@@"@@RESIZE_NOTE@@.
import android.content.Context
import android.graphics.Bitmap
import com.google.mediapipe.framework.image.BitmapImageBuilder
import com.google.mediapipe.tasks.core.BaseOptions
import com.google.mediapipe.tasks.vision.imageclassifier.ImageClassifier

class @@CLASS@@Classifier(context: Context) {
    private val classifier = ImageClassifier.createFromOptions(
        context,
        ImageClassifier.ImageClassifierOptions.builder()
            .setBaseOptions(BaseOptions.builder().setModelAssetPath("@@TFLITE@@").build())
            .setMaxResults(3)
            .build(),
    )

    /** The top labels and their scores, best first. */
    fun classify(bitmap: Bitmap): List<Pair<String, Float>> =
        classifier.classify(BitmapImageBuilder(bitmap).build())
            .classificationResult().classifications()[0].categories()
            .map { it.categoryName() to it.score() }

    fun close() = classifier.close()
}
"""

IOS = """\
// iOS (Swift): classify a UIImage with @@TFLITE@@ through MediaPipe Tasks.
// Podfile: pod 'MediaPipeTasksVision'. Add @@TFLITE@@ to the app target (Copy Bundle Resources).
// Labels, input size (@@WIDTH@@x@@HEIGHT@@ @@COLOR@@) and normalization come from the file's metadata:
// hand over the image as it is. This model was trained with resize "@@RESIZE@@"@@RESIZE_NOTE@@.
import MediaPipeTasksVision
import UIKit

final class @@CLASS@@Classifier {
    private let classifier: ImageClassifier

    init() throws {
        let options = ImageClassifierOptions()
        options.baseOptions.modelAssetPath = Bundle.main.path(forResource: "@@TFLITE_STEM@@", ofType: "tflite")!
        options.maxResults = 3
        classifier = try ImageClassifier(options: options)
    }

    /// The top labels and their scores, best first.
    func classify(_ image: UIImage) throws -> [(label: String, score: Float)] {
        let result = try classifier.classify(image: try MPImage(uiImage: image))
        return result.classificationResult.classifications[0].categories.map { ($0.categoryName ?? "", $0.score) }
    }
}
"""

NODE = """\
// Classify images with @@ONNX@@ (or its .ort copy) in Node with onnxruntime-node; in a browser the same
// code runs with onnxruntime-web (import * as ort from "onnxruntime-web").
// Input "input": float32 [1, @@HEIGHT@@, @@WIDTH@@, @@CHANNELS@@] (NHWC), @@COLOR@@ pixels 0..255 as decoded;
// the model normalizes inside (@@INSIDE@@). Output "probabilities": one score per line of labels.txt.
// Resize to @@WIDTH@@x@@HEIGHT@@ first ("@@RESIZE@@"@@RESIZE_NOTE@@).
//   npm install            (in this folder: onnxruntime-node)
//   node classify_node.mjs ../@@ONNX@@ image.ppm ...     binary PPM (P6) at @@WIDTH@@x@@HEIGHT@@; one JSON line each
import * as ort from "onnxruntime-node";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const HEIGHT = @@HEIGHT@@, WIDTH = @@WIDTH@@, CHANNELS = @@CHANNELS@@;
export const LABELS = readFileSync(new URL("../labels.txt", import.meta.url), "utf8").split("\\n").filter(Boolean);

// rgb: HEIGHT * WIDTH * 3 bytes, row by row (a canvas's getImageData without every 4th byte).
export async function classify(session, rgb, topK = 3) {
  const pixels = new Float32Array(HEIGHT * WIDTH * CHANNELS);
  for (let i = 0; i < HEIGHT * WIDTH; i++) {
    if (CHANNELS === 3) pixels.set(rgb.subarray(3 * i, 3 * i + 3), 3 * i);
    else pixels[i] = 0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2];
  }
  const output = await session.run({ input: new ort.Tensor("float32", pixels, [1, HEIGHT, WIDTH, CHANNELS]) });
  const scores = Array.from(output.probabilities.data);
  const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a]);
  return order.slice(0, topK).map((i) => ({ label: LABELS[i], index: i, score: scores[i] }));
}

// A binary PPM (P6, maxval 255) -> its RGB bytes; apps decode PNG/JPEG with a canvas or `sharp` instead.
export function readPpm(path) {
  const data = readFileSync(path);
  const fields = [];
  let at = 0;
  while (fields.length < 4) {
    while (/\\s/.test(String.fromCharCode(data[at]))) at++;
    if (data[at] === 0x23) { while (data[at] !== 0x0a) at++; continue; }  // a comment line
    const start = at;
    while (!/\\s/.test(String.fromCharCode(data[at]))) at++;
    fields.push(data.toString("latin1", start, at));
  }
  const [magic, width, height] = [fields[0], Number(fields[1]), Number(fields[2])];
  if (magic !== "P6" || width !== WIDTH || height !== HEIGHT) {
    throw new Error(`${path}: expected a P6 PPM of ${WIDTH}x${HEIGHT}, got ${magic} ${width}x${height}`);
  }
  return data.subarray(at + 1, at + 1 + width * height * 3);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [model, ...images] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model ?? new URL("../@@ONNX@@", import.meta.url).pathname);
  for (const image of images) {
    console.log(JSON.stringify({ image, predictions: await classify(session, readPpm(image)) }));
  }
}
"""

PACKAGE_JSON = {"name": "@@NAME@@-classifier", "private": True, "type": "module",
                "dependencies": {"onnxruntime-node": "^1.30.0"}}

PYTHON = '''\
"""Classify images with @@TFLITE@@ in Python with the LiteRT interpreter (pip install ai-edge-litert pillow).

Input: @@COLOR@@ pixels 0..255, @@WIDTH@@x@@HEIGHT@@ (resize "@@RESIZE@@"), @@DTYPE@@; the model normalizes inside
(@@INSIDE@@). Output: one probability per line of labels.txt.
    python classify.py image.png ...
"""

import sys
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from PIL import Image, ImageOps

HERE = Path(__file__).resolve().parent.parent
MODEL, HEIGHT, WIDTH, MODE, RESIZE = HERE / "@@TFLITE@@", @@HEIGHT@@, @@WIDTH@@, "@@PIL_MODE@@", "@@RESIZE@@"
LABELS = (HERE / "labels.txt").read_text(encoding="utf-8").split("\\n")[:-1]


def load(path) -> np.ndarray:
    """An image file as the model takes it: converted, brought to its size by the resize policy."""
    image = Image.open(path).convert(MODE)
    if RESIZE == "crop":
        image = ImageOps.fit(image, (WIDTH, HEIGHT), Image.BILINEAR)
    elif RESIZE == "pad":
        image = ImageOps.pad(image, (WIDTH, HEIGHT), Image.BILINEAR, color=0)
    else:
        image = image.resize((WIDTH, HEIGHT), Image.BILINEAR)
    pixels = np.asarray(image)
    return pixels[..., None] if pixels.ndim == 2 else pixels


def classify(interpreter, pixels: np.ndarray, top_k: int = 3) -> list[tuple[str, float]]:
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.set_tensor(source["index"], pixels[None].astype(source["dtype"]))  # uint8 or float32, 0..255
    interpreter.invoke()
    scores = interpreter.get_tensor(target["index"])[0].astype(np.float32)
    return [(LABELS[i], float(scores[i])) for i in np.argsort(-scores)[:top_k]]


if __name__ == "__main__":
    interpreter = Interpreter(model_path=str(MODEL))
    interpreter.allocate_tensors()
    for name in sys.argv[1:]:
        print(name, classify(interpreter, load(name)))
'''

RESIZE_NOTES = {"stretch": "", "crop": ": centre-crop other aspect ratios to square first",
                "pad": ": pad other aspect ratios with black to square first"}


def write_snippets(report: dict, handoff, folder: Path) -> list[Path]:
    values = _values(report, handoff)
    files = {"classify_android.kt": ANDROID, "classify_ios.swift": IOS, "classify.py": PYTHON}
    if handoff.web:
        files |= {"classify_node.mjs": NODE, "package.json": json.dumps(PACKAGE_JSON, indent=2) + "\n"}
    return [write_text(folder / name, _fill(text, values)) for name, text in files.items()]


def _values(report: dict, handoff) -> dict:
    contract = handoff.metadata.get("input", {})
    inside = contract.get("inside") or {}
    name = report["recipe"]["name"]
    return {
        "NAME": re.sub(r"[^a-z0-9-]+", "-", name.lower()),
        "CLASS": "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part) or "Model",
        "TFLITE": handoff.phone.filename, "TFLITE_STEM": Path(handoff.phone.filename).stem,
        "ONNX": handoff.web.filename if handoff.web else "",
        "HEIGHT": str(contract["height"]), "WIDTH": str(contract["width"]), "CHANNELS": str(contract["channels"]),
        "COLOR": contract["color"].upper(), "PIL_MODE": "RGB" if contract["channels"] == 3 else "L",
        "DTYPE": contract["dtype"], "RESIZE": contract["resize"], "RESIZE_NOTE": RESIZE_NOTES[contract["resize"]],
        "INSIDE": (f"{inside['color']}, then " if inside.get("color") else "") + inside.get("formula", "nothing"),
    }


def _fill(text: str, values: dict) -> str:
    return re.sub(r"@@([A-Z_]+)@@", lambda m: values[m[1]], text)
