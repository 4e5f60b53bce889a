"""What apps get from a built run folder, against what its report promises: every `.tflite` through MediaPipe
Tasks' ImageClassifier and the ONNX files through the handoff bundle's Node snippet (onnxruntime-node, jimp
decoding, the snippet's own MediaPipe-style resizing), on the test split's source images at their own size and
on camera frames 2, 4 and 8 times larger, each prepared only as the model card says. Prints one JSON line per
(file, client, scale): accuracy, its difference from report.json's, and top-1 agreement with `edgecnn predict`
on the same frames (PNG files for Node, so both read the same pixels).

    python benchmarks/app_accuracy.py runs/digits [--scales 1 2 4 8]

Needs the clients extra and `npm ci --prefix tests/node --ignore-scripts` (Node 20) for the ONNX rows.
"""

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from edgecnn.artifacts import open_artifact  # noqa: E402
from edgecnn.data import load_dataset  # noqa: E402
from edgecnn.recipe import load_recipe  # noqa: E402
from edgecnn.verify.app import MediaPipeClassifier, camera_frames, predict_top1, source_images  # noqa: E402
from edgecnn.verify.record import BuildReport  # noqa: E402
from tests.clients import node_top1  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args()
    args.run = args.run.resolve()  # the Node snippet runs in its own folder
    report = BuildReport.read(args.run / "report.json")
    recipe = load_recipe(args.run / "recipe.yaml")
    dataset = load_dataset(recipe.data, recipe.seed)
    labels, own = dataset.y_test, source_images(recipe.data, dataset, recipe.seed)
    rows = {Path(row.path).name: row for row in report.artifacts}
    with tempfile.TemporaryDirectory() as folder:
        bundle = handoff_snippet(args.run, Path(folder))
        for scale in args.scales:
            frames = camera_frames(recipe.data, dataset, recipe.seed, own, scale)
            pngs = write_frames(frames, Path(folder) / f"x{scale:g}")
            for name, row in rows.items():
                path = Path(row.path).resolve()  # recorded relative to where the build ran
                if path.suffix == ".tflite" and row.loads_in_mediapipe:
                    found = mediapipe_top1(path, frames, open_artifact(path).contract())
                    emit(name, "MediaPipe Tasks", scale, found, labels, row, predict_on(path, frames))
                elif path.suffix == ".onnx" and bundle is not None and row.name == "onnx_float32":
                    found = node_top1(bundle, path, pngs, Path(folder) / "app")
                    emit(name, "onnxruntime-node (Node snippet)", scale, found, labels, row, predict_on(path, frames))


def handoff_snippet(run: Path, folder: Path) -> Path | None:
    """The Node snippet of the run's handoff bundle (it reads the labels.txt beside the model file)."""
    from edgecnn.handoff import write_handoff

    if shutil.which("node") is None:
        return None
    bundle = write_handoff(run, folder / "bundle")
    return bundle.folder / "snippets" / "classify_node.mjs"


def write_frames(frames: list[np.ndarray], folder: Path) -> list[Path]:
    folder.mkdir(parents=True)
    paths = [folder / f"{i:05d}.png" for i in range(len(frames))]
    for frame, path in zip(frames, paths):
        Image.fromarray(frame).save(path)
    return paths


def mediapipe_top1(path: Path, frames: list[np.ndarray], contract) -> np.ndarray:
    with MediaPipeClassifier(path) as classifier:
        return classifier.app_top1(frames, contract)


def predict_on(path: Path, frames: list[np.ndarray]) -> np.ndarray:
    artifact = open_artifact(path)
    return predict_top1(artifact, artifact.contract(), frames)


def emit(name, client, scale, found, labels, row, predicted) -> None:
    accuracy = float((found == labels).mean())
    print(json.dumps({"file": name, "client": client, "scale": scale, "images": len(labels),
                      "accuracy": round(100 * accuracy, 2), "report": round(100 * row.accuracy, 2),
                      "difference": round(100 * (accuracy - row.accuracy), 2),
                      "agreement_with_predict": round(100 * float((found == predicted).mean()), 2)}), flush=True)


if __name__ == "__main__":
    main()
