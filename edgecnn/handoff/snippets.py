'''Integration snippets, filled in with the handed files' names, input size and pre-processing.

Placeholders are `@@NAME@@` (Kotlin and Swift use `$` and braces themselves). The Node and Python snippets
are run by the tests copied out of the bundle, as an app developer copies them; the Android and iOS ones use MediaPipe Tasks, whose C++ core the
tests run through the `mediapipe` Python package.
'''

from __future__ import annotations

import json
import re
from pathlib import Path

from edgecnn.data.frames import app_steps
from edgecnn.data.images import IMAGE_SUFFIXES
from edgecnn.fileio import write_text
from edgecnn.verify.record import BuildReport

ANDROID = """\
// Android (Kotlin): classify a camera Bitmap with @@TFLITE@@ through MediaPipe Tasks.
// app/build.gradle.kts: implementation("com.google.mediapipe:tasks-vision:0.10.26")
// Copy @@TFLITE@@ into app/src/main/assets/. Labels, input size (@@WIDTH@@x@@HEIGHT@@ @@COLOR@@) and
// normalization are read from the file's metadata. Give it the full-size frame, not one you shrank.
// @@APP_STEPS@@
import android.content.Context
import android.graphics.Bitmap
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.RectF
import com.google.mediapipe.framework.image.BitmapImageBuilder
import com.google.mediapipe.tasks.core.BaseOptions
import com.google.mediapipe.tasks.vision.core.ImageProcessingOptions
import com.google.mediapipe.tasks.vision.imageclassifier.ImageClassifier

class @@CLASS@@Classifier(context: Context) {
    private val resize = "@@RESIZE@@"  // the model's resize policy: stretch, crop or pad
    private val aspect = @@WIDTH@@f / @@HEIGHT@@f
    private val classifier = ImageClassifier.createFromOptions(
        context,
        ImageClassifier.ImageClassifierOptions.builder()
            .setBaseOptions(BaseOptions.builder().setModelAssetPath("@@TFLITE@@").build())
            .setMaxResults(3)
            .build(),
    )

    /** The top labels and their scores, best first. */
    fun classify(frame: Bitmap): List<Pair<String, Float>> {
        val options = ImageProcessingOptions.builder()
        if (resize == "crop") options.setRegionOfInterest(centreRegion(frame.width, frame.height))
        val image = BitmapImageBuilder(if (resize == "pad") letterbox(frame) else frame).build()
        return classifier.classify(image, options.build())
            .classificationResult().classifications()[0].categories()
            .map { it.categoryName() to it.score() }
    }

    /** The centred box of the model's aspect ratio, normalized: MediaPipe samples only this region. */
    private fun centreRegion(width: Int, height: Int): RectF =
        if (width.toFloat() / height > aspect) {
            val keep = height * aspect / width
            RectF((1 - keep) / 2, 0f, (1 + keep) / 2, 1f)
        } else {
            val keep = width / aspect / height
            RectF(0f, (1 - keep) / 2, 1f, (1 + keep) / 2)
        }

    /** The frame centred on black to the model's aspect ratio (MediaPipe Tasks cannot pad). */
    private fun letterbox(frame: Bitmap): Bitmap {
        val (w, h) = frame.width to frame.height
        val (cw, ch) = if (w.toFloat() / h > aspect) w to maxOf(h, Math.round(w / aspect)) else maxOf(w, Math.round(h * aspect)) to h
        val canvas = Bitmap.createBitmap(cw, ch, Bitmap.Config.ARGB_8888)
        Canvas(canvas).apply { drawColor(Color.BLACK); drawBitmap(frame, ((cw - w) / 2).toFloat(), ((ch - h) / 2).toFloat(), null) }
        return canvas
    }

    fun close() = classifier.close()
}
"""

IOS = """\
// iOS (Swift): classify a camera UIImage with @@TFLITE@@ through MediaPipe Tasks.
// Podfile: pod 'MediaPipeTasksVision'. Add @@TFLITE@@ to the app target (Copy Bundle Resources).
// Labels, input size (@@WIDTH@@x@@HEIGHT@@ @@COLOR@@) and normalization come from the file's metadata.
// Give it the full-size frame, not one you shrank. @@APP_STEPS@@
import MediaPipeTasksVision
import UIKit

final class @@CLASS@@Classifier {
    private let classifier: ImageClassifier
    private let resize = "@@RESIZE@@"  // the model's resize policy: stretch, crop or pad
    private let aspect = CGFloat(@@WIDTH@@) / CGFloat(@@HEIGHT@@)

    init() throws {
        let options = ImageClassifierOptions()
        options.baseOptions.modelAssetPath = Bundle.main.path(forResource: "@@TFLITE_STEM@@", ofType: "tflite")!
        options.maxResults = 3
        classifier = try ImageClassifier(options: options)
    }

    /// The top labels and their scores, best first.
    func classify(_ frame: UIImage) throws -> [(label: String, score: Float)] {
        let image = try MPImage(uiImage: resize == "pad" ? letterbox(frame) : frame)
        let result = resize == "crop"
            ? try classifier.classify(image: image, regionOfInterest: centreRegion(frame.size))
            : try classifier.classify(image: image)
        return result.classificationResult.classifications[0].categories.map { ($0.categoryName ?? "", $0.score) }
    }

    /// The centred box of the model's aspect ratio, normalized: MediaPipe samples only this region.
    private func centreRegion(_ size: CGSize) -> CGRect {
        if size.width / size.height > aspect {
            let keep = size.height * aspect / size.width
            return CGRect(x: (1 - keep) / 2, y: 0, width: keep, height: 1)
        }
        let keep = size.width / aspect / size.height
        return CGRect(x: 0, y: (1 - keep) / 2, width: 1, height: keep)
    }

    /// The frame centred on black to the model's aspect ratio (MediaPipe Tasks cannot pad).
    private func letterbox(_ frame: UIImage) -> UIImage {
        let (w, h) = (frame.size.width, frame.size.height)
        let canvas = w / h > aspect ? CGSize(width: w, height: max(h, (w / aspect).rounded()))
                                    : CGSize(width: max(w, (h * aspect).rounded()), height: h)
        let format = UIGraphicsImageRendererFormat()
        format.scale = frame.scale
        return UIGraphicsImageRenderer(size: canvas, format: format).image { context in
            UIColor.black.setFill()
            context.fill(CGRect(origin: .zero, size: canvas))
            frame.draw(at: CGPoint(x: ((canvas.width - w) / 2).rounded(.down), y: ((canvas.height - h) / 2).rounded(.down)))
        }
    }
}
"""

NODE = """\
// Classify image files with @@ONNX@@ (or its .ort copy) in Node: onnxruntime-node runs the model, jimp
// (pure JavaScript) decodes @@IMAGE_TYPES_TEXT@@ files of any size, the same kinds `edgecnn predict` reads,
// and toModelPixels below brings them to the model's size with MediaPipe Tasks' own sampling, the one training
// used (so this matches the phone SDKs and `edgecnn predict` pixel for pixel).
// Input "input": float32 [1, @@HEIGHT@@, @@WIDTH@@, @@CHANNELS@@] (NHWC), @@COLOR@@ pixels 0..255;
// the model normalizes inside (@@INSIDE@@). Output "probabilities": one score per line of the
// labels.txt beside the model file. Resize policy "@@RESIZE@@": @@APP_STEPS@@
//   npm install --ignore-scripts      in this folder (onnxruntime-node's install script only fetches CUDA
//                                     files; its CPU build ships in the package)
//   node classify_node.mjs path/to/@@ONNX@@ photo.png ...     one JSON line per image
import * as ort from "onnxruntime-node";
import { Jimp } from "jimp";
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
  const { width, height, data } = (await Jimp.read(path)).bitmap;  // RGBA; transparent pixels become black
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) rgb[3 * i + c] = Math.round((data[4 * i + c] * data[4 * i + 3]) / 255);
  }
  return toModelPixels(RESIZE === "pad" ? letterbox(rgb, width, height) : { rgb, width, height });
}

/** The frame centred on black to the model's aspect ratio (what the app does for "pad"). */
function letterbox(rgb, width, height) {
  const aspect = WIDTH / HEIGHT;
  const [w, h] = width / height > aspect ? [width, Math.max(height, Math.round(width / aspect))]
                                         : [Math.max(width, Math.round(height * aspect)), height];
  const out = new Uint8Array(w * h * 3), left = Math.floor((w - width) / 2), top = Math.floor((h - height) / 2);
  for (let y = 0; y < height; y++) out.set(rgb.subarray(3 * y * width, 3 * (y + 1) * width), 3 * ((top + y) * w + left));
  return { rgb: out, width: w, height: h };
}

/** MediaPipe Tasks' sampling (its OpenCV warpPerspective): the region's corners map onto the output's, output
 * pixel (x, y) reads the frame at a position computed in doubles from that perspective matrix (OpenCV's own
 * arithmetic, reproduced step by step so halfway cases round alike), rounded to 1/32 pixel; bilinear over the
 * 2x2 neighbours (edges repeated), 15-bit fixed-point weights, rounded to a byte. */
function toModelPixels({ rgb, width, height }) {
  const f = Math.fround, aspect = WIDTH / HEIGHT;
  let [left, top, right, bottom] = [0, 0, 1, 1];
  if (RESIZE === "crop" && width / height > aspect) { const keep = (height * aspect) / width; [left, right] = [(1 - keep) / 2, (1 + keep) / 2]; }
  else if (RESIZE === "crop") { const keep = width / aspect / height; [top, bottom] = [(1 - keep) / 2, (1 + keep) / 2]; }
  [left, top, right, bottom] = [left, top, right, bottom].map(f);
  const cx = f(f((left + right) / 2) * width), cy = f(f((top + bottom) / 2) * height);
  const hw = f(0.5 * f(f(right - left) * width)), hh = f(0.5 * f(f(bottom - top) * height));
  const p0 = [f(cx - hw), f(cy + hh)], p1 = [f(cx - hw), f(cy - hh)];
  const corners = [p0, p1, [f(2 * cx - p0[0]), f(2 * cy - p0[1])], [f(2 * cx - p1[0]), f(2 * cy - p1[1])]];
  const m = inverse3(perspective(corners));
  const blockW = Math.min(Math.floor(1024 / Math.min(16, HEIGHT)), WIDTH);
  const out = new Uint8Array(HEIGHT * WIDTH * 3);
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) {
      const start = x - (x % blockW), offset = x % blockW;
      const x0 = m[0] * start + m[1] * y + m[2], y0 = m[3] * start + m[4] * y + m[5], w0 = m[6] * start + m[7] * y + m[8];
      let w = w0 + m[6] * offset;
      w = w ? 32 / w : 0;
      const fx = roundEven((x0 + m[0] * offset) * w), fy = roundEven((y0 + m[3] * offset) * w);
      const clampX = (v) => Math.min(Math.max(v, 0), width - 1), clampY = (v) => Math.min(Math.max(v, 0), height - 1);
      const [xa, xb, ya, yb] = [clampX(fx >> 5), clampX((fx >> 5) + 1), clampY(fy >> 5), clampY((fy >> 5) + 1)];
      const [wx1, wy1] = [fx & 31, fy & 31], [wx0, wy0] = [32 - (fx & 31), 32 - (fy & 31)];
      for (let c = 0; c < 3; c++) {
        const at = (yy, xx) => rgb[3 * (yy * width + xx) + c];
        const sum = at(ya, xa) * wy0 * wx0 + at(ya, xb) * wy0 * wx1 + at(yb, xa) * wy1 * wx0 + at(yb, xb) * wy1 * wx1;
        out[3 * (y * WIDTH + x) + c] = (sum * 32 + (1 << 14)) >> 15;
      }
    }
  }
  return out;
}

function roundEven(v) {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** OpenCV's getPerspectiveTransform: corners onto (0, H), (0, 0), (W, 0), (W, H), by its Gaussian elimination. */
function perspective(corners) {
  const f = Math.fround, targets = [[0, HEIGHT], [0, 0], [WIDTH, 0], [WIDTH, HEIGHT]];
  const a = Array.from({ length: 8 }, () => new Array(8).fill(0)), b = new Array(8).fill(0);
  corners.forEach(([x, y], i) => {
    const [u, v] = targets[i];
    a[i][0] = a[i + 4][3] = x; a[i][1] = a[i + 4][4] = y; a[i][2] = a[i + 4][5] = 1;
    [a[i][6], a[i][7], a[i + 4][6], a[i + 4][7]] = [f(-x * u), f(-y * u), f(-x * v), f(-y * v)];
    [b[i], b[i + 4]] = [u, v];
  });
  for (let i = 0; i < 8; i++) {
    let p = i;
    for (let j = i + 1; j < 8; j++) if (Math.abs(a[j][i]) > Math.abs(a[p][i])) p = j;
    [a[i], a[p], b[i], b[p]] = [a[p], a[i], b[p], b[i]];
    const d = -1 / a[i][i];
    for (let j = i + 1; j < 8; j++) {
      const alpha = a[j][i] * d;
      for (let k = i + 1; k < 8; k++) a[j][k] += alpha * a[i][k];
      b[j] += alpha * b[i];
    }
  }
  for (let i = 7; i >= 0; i--) {
    let total = b[i];
    for (let k = i + 1; k < 8; k++) total -= a[i][k] * b[k];
    b[i] = total / a[i][i];
  }
  return [...b, 1];
}

/** OpenCV's 3x3 inverse: cofactors times 1 / determinant. */
function inverse3(s) {
  const e = (r, c) => s[3 * r + c];
  const det = e(0, 0) * (e(1, 1) * e(2, 2) - e(1, 2) * e(2, 1)) - e(0, 1) * (e(1, 0) * e(2, 2) - e(1, 2) * e(2, 0))
    + e(0, 2) * (e(1, 0) * e(2, 1) - e(1, 1) * e(2, 0));
  const d = 1 / det;
  return [(e(1, 1) * e(2, 2) - e(1, 2) * e(2, 1)) * d, (e(0, 2) * e(2, 1) - e(0, 1) * e(2, 2)) * d,
    (e(0, 1) * e(1, 2) - e(0, 2) * e(1, 1)) * d, (e(1, 2) * e(2, 0) - e(1, 0) * e(2, 2)) * d,
    (e(0, 0) * e(2, 2) - e(0, 2) * e(2, 0)) * d, (e(0, 2) * e(1, 0) - e(0, 0) * e(1, 2)) * d,
    (e(1, 0) * e(2, 1) - e(1, 1) * e(2, 0)) * d, (e(0, 0) * e(2, 1) - e(0, 1) * e(2, 0)) * d,
    (e(0, 0) * e(1, 1) - e(0, 1) * e(1, 0)) * d];
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
"""Classify camera frames or photos with @@TFLITE@@ through MediaPipe Tasks, the same ImageClassifier as the
Android and iOS SDKs (pip install mediapipe).

Labels, input size (@@WIDTH@@x@@HEIGHT@@ @@COLOR@@) and normalization come from the file's metadata. Hand over the
full-size image, not one you shrank. @@APP_STEPS@@
    python classify.py path/to/@@TFLITE@@ image.png ...
"""

import sys

import mediapipe as mp
import numpy as np
from mediapipe.tasks.python import BaseOptions, vision
from mediapipe.tasks.python.components.containers.rect import RectF
from PIL import Image

HEIGHT, WIDTH, RESIZE = @@HEIGHT@@, @@WIDTH@@, "@@RESIZE@@"


def centre_region(width: int, height: int) -> RectF:
    """The centred box of the model's aspect ratio, normalized: MediaPipe samples only this region."""
    aspect = WIDTH / HEIGHT
    if width / height > aspect:
        keep = height * aspect / width
        return RectF(left=(1 - keep) / 2, top=0.0, right=(1 + keep) / 2, bottom=1.0)
    keep = width / aspect / height
    return RectF(left=0.0, top=(1 - keep) / 2, right=1.0, bottom=(1 + keep) / 2)


def letterbox(frame: np.ndarray) -> np.ndarray:
    """The frame centred on black to the model's aspect ratio (MediaPipe Tasks cannot pad)."""
    height, width = frame.shape[:2]
    aspect = WIDTH / HEIGHT
    if width / height > aspect:
        size = (max(height, round(width / aspect)), width)
    else:
        size = (height, max(width, round(height * aspect)))
    canvas = np.zeros((*size, 3), dtype=np.uint8)
    top, left = (size[0] - height) // 2, (size[1] - width) // 2
    canvas[top:top + height, left:left + width] = frame
    return canvas


def classify(classifier, frame: np.ndarray, top_k: int = 3) -> list[tuple[str, float]]:
    """Top labels of an RGB frame (uint8, height x width x 3, any size), best first."""
    options = vision.ImageProcessingOptions(region_of_interest=centre_region(frame.shape[1], frame.shape[0])
                                            if RESIZE == "crop" else None)
    if RESIZE == "pad":
        frame = letterbox(frame)
    image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame))
    categories = classifier.classify(image, options).classifications[0].categories
    return [(c.category_name, round(c.score, 6)) for c in categories[:top_k]]


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: python classify.py MODEL.tflite IMAGE...")
    model, images = sys.argv[1], sys.argv[2:]
    options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=model), max_results=3)
    with vision.ImageClassifier.create_from_options(options) as classifier:
        for name in images:
            print(name, classify(classifier, np.asarray(Image.open(name).convert("RGB"))))
'''

def write_snippets(report: BuildReport, handoff, folder: Path) -> list[Path]:
    values = _values(report, handoff)
    files = {"classify_android.kt": ANDROID, "classify_ios.swift": IOS, "classify.py": PYTHON}
    if handoff.web:
        files |= {"classify_node.mjs": NODE, "package.json": json.dumps(PACKAGE_JSON, indent=2) + "\n"}
    return [write_text(folder / name, _fill(text, values)) for name, text in files.items()]


def _values(report: BuildReport, handoff) -> dict:
    contract = handoff.metadata.get("input", {})
    inside = contract.get("inside") or {}
    name = report.recipe.name
    return {
        "NAME": re.sub(r"[^a-z0-9-]+", "-", name.lower()),
        "CLASS": "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part) or "Model",
        "TFLITE": handoff.phone.filename, "TFLITE_STEM": Path(handoff.phone.filename).stem,
        "ONNX": handoff.web.filename if handoff.web else "",
        "HEIGHT": str(contract["height"]), "WIDTH": str(contract["width"]), "CHANNELS": str(contract["channels"]),
        "COLOR": contract["color"].upper(), "PIL_MODE": "RGB" if contract["channels"] == 3 else "L",
        "DTYPE": contract["dtype"], "RESIZE": contract["resize"],
        "APP_STEPS": app_steps(contract["resize"], contract["height"], contract["width"]),
        "INSIDE": (f"{inside['color']}, then " if inside.get("color") else "") + inside.get("formula", "nothing"),
        "IMAGE_TYPES": json.dumps(list(IMAGE_SUFFIXES)),
        "IMAGE_TYPES_TEXT": ", ".join(s.lstrip(".").upper() for s in IMAGE_SUFFIXES),
    }


def _fill(text: str, values: dict) -> str:
    return re.sub(r"@@([A-Z_]+)@@", lambda m: values[m[1]], text)
