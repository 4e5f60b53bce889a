'''Integration snippets, filled in with the handed files' names, input size and pre-processing.

Placeholders are `@@NAME@@` (Kotlin and Swift use `$` and braces themselves). The Node and Python snippets
are run by the tests copied out of the bundle, as an app developer copies them; the Android and iOS ones use MediaPipe Tasks, whose C++ core the
tests run through the `mediapipe` Python package.
'''

from __future__ import annotations

import json
import re
from pathlib import Path

from edgecnn.data.images import IMAGE_SUFFIXES
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
// Classify image files with @@ONNX@@ (or its .ort copy) in Node: onnxruntime-node runs the model, jimp
// (pure JavaScript) decodes @@IMAGE_TYPES_TEXT@@ files of any size, the same kinds `edgecnn predict` reads.
// Input "input": float32 [1, @@HEIGHT@@, @@WIDTH@@, @@CHANNELS@@] (NHWC), @@COLOR@@ pixels 0..255 as decoded;
// the model normalizes inside (@@INSIDE@@). Output "probabilities": one score per line of the
// labels.txt beside the model file. Images are resized to @@WIDTH@@x@@HEIGHT@@ ("@@RESIZE@@"@@RESIZE_NOTE@@), bilinear.
//   npm install --ignore-scripts      in this folder (onnxruntime-node's install script only fetches CUDA
//                                     files; its CPU build ships in the package)
//   node classify_node.mjs path/to/@@ONNX@@ photo.png ...     one JSON line per image
import * as ort from "onnxruntime-node";
import { Jimp, ResizeStrategy } from "jimp";
import { readFileSync } from "node:fs";
import { dirname, extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const HEIGHT = @@HEIGHT@@, WIDTH = @@WIDTH@@, CHANNELS = @@CHANNELS@@, RESIZE = "@@RESIZE@@";
export const IMAGE_TYPES = @@IMAGE_TYPES@@;

/** The labels.txt next to the model file, one label per line, in output order. */
export function readLabels(modelPath) {
  return readFileSync(join(dirname(modelPath), "labels.txt"), "utf8").split("\\n").filter(Boolean);
}

/** An image file -> RGB bytes at the model's size, row by row. */
export async function loadImage(path) {
  if (!IMAGE_TYPES.includes(extname(path).toLowerCase())) {
    throw new Error(`${path}: expected one of ${IMAGE_TYPES.join(", ")}`);
  }
  const image = await Jimp.read(path);
  const size = { w: WIDTH, h: HEIGHT, mode: ResizeStrategy.BILINEAR };
  if (RESIZE === "crop") image.cover(size);
  else if (RESIZE === "pad") image.contain(size);  // the border stays transparent black: black once alpha is dropped
  else image.resize(size);
  const rgba = image.bitmap.data, rgb = new Uint8Array(HEIGHT * WIDTH * 3);
  for (let i = 0; i < HEIGHT * WIDTH; i++) rgb.set(rgba.subarray(4 * i, 4 * i + 3), 3 * i);
  return rgb;
}

/** Top-k labels and scores for RGB bytes at the model's size (grayscale models take the luminance). */
export async function classify(session, labels, rgb, topK = 3) {
  const pixels = new Float32Array(HEIGHT * WIDTH * CHANNELS);
  for (let i = 0; i < HEIGHT * WIDTH; i++) {
    if (CHANNELS === 3) pixels.set(rgb.subarray(3 * i, 3 * i + 3), 3 * i);
    else pixels[i] = 0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2];
  }
  const output = await session.run({ input: new ort.Tensor("float32", pixels, [1, HEIGHT, WIDTH, CHANNELS]) });
  const scores = Array.from(output.probabilities.data);
  const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a]);
  return order.slice(0, topK).map((i) => ({ label: labels[i], index: i, score: scores[i] }));
}

if (resolve(process.argv[1] ?? "") === fileURLToPath(import.meta.url)) {
  const [model, ...images] = process.argv.slice(2);
  if (!model || !images.length) {
    console.error("usage: node classify_node.mjs MODEL.onnx IMAGE...");
    process.exit(2);
  }
  const session = await ort.InferenceSession.create(model);
  const labels = readLabels(model);
  for (const image of images) {
    console.log(JSON.stringify({ image, predictions: await classify(session, labels, await loadImage(image)) }));
  }
}
"""

PACKAGE_JSON = {"name": "@@NAME@@-classifier", "private": True, "type": "module",
                "dependencies": {"onnxruntime-node": "1.30.0", "jimp": "1.6.1"}}  # the versions the tests run

PYTHON = '''\
"""Classify images with @@TFLITE@@ in Python with the LiteRT interpreter (pip install ai-edge-litert pillow).

Input: @@COLOR@@ pixels 0..255, @@WIDTH@@x@@HEIGHT@@ (resize "@@RESIZE@@"), @@DTYPE@@; the model normalizes inside
(@@INSIDE@@). Output: one probability per label; the labels are packed inside the .tflite file (its metadata
zip), so the model file is all this script needs, wherever the two are.
    python classify.py path/to/@@TFLITE@@ image.png ...
"""

import sys
import zipfile

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from PIL import Image, ImageOps

HEIGHT, WIDTH, MODE, RESIZE = @@HEIGHT@@, @@WIDTH@@, "@@PIL_MODE@@", "@@RESIZE@@"


def read_labels(model_path) -> list[str]:
    """The labels packed in the model file (a .tflite with metadata is also a zip holding labels.txt)."""
    with zipfile.ZipFile(model_path) as packed:
        return packed.read("labels.txt").decode("utf-8").splitlines()


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


def classify(interpreter, labels: list[str], pixels: np.ndarray, top_k: int = 3) -> list[tuple[str, float]]:
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.set_tensor(source["index"], pixels[None].astype(source["dtype"]))  # uint8 or float32, 0..255
    interpreter.invoke()
    scores = interpreter.get_tensor(target["index"])[0].astype(np.float32)
    return [(labels[i], float(scores[i])) for i in np.argsort(-scores)[:top_k]]


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: python classify.py MODEL.tflite IMAGE...")
    model, images = sys.argv[1], sys.argv[2:]
    interpreter = Interpreter(model_path=model)
    interpreter.allocate_tensors()
    labels = read_labels(model)
    for name in images:
        print(name, classify(interpreter, labels, load(name)))
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
        "IMAGE_TYPES": json.dumps(list(IMAGE_SUFFIXES)),
        "IMAGE_TYPES_TEXT": ", ".join(s.lstrip(".").upper() for s in IMAGE_SUFFIXES),
    }


def _fill(text: str, values: dict) -> str:
    return re.sub(r"@@([A-Z_]+)@@", lambda m: values[m[1]], text)
