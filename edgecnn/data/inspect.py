"""`edgecnn data inspect`: what a data source holds, before any training: classes and counts, image
sizes and modes, class imbalance, bad files, and a contact sheet of sample images per class."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw

from edgecnn.data.images import BadImage, array_image, open_image
from edgecnn.data.sources import SPLITS, SourceData, read_source
from edgecnn.fileio import atomic_path, write_json, write_text

if TYPE_CHECKING:  # annotations only: no import at run time
    from edgecnn.recipe import DataConfig

IMBALANCE_RATIO = 2.0  # largest class / smallest class above this draws a warning
SHEET_FILE = "contact_sheet.png"
SUMMARY_FILE = "summary.json"
SUMMARY_MD = "summary.md"
LABEL_WIDTH = 110


def inspect_source(data_config: DataConfig, seed: int, out_dir: Path, per_class: int = 8, thumb: int = 64) -> dict:
    """Summarize the source in `data_config`; write summary.json, summary.md and contact_sheet.png into `out_dir`."""
    if data_config.source == "shapes" and "image_size" not in data_config.model_fields_set:
        data_config = data_config.model_copy(update={"image_size": (64, 64), "channels": 3})
    source = read_source(data_config, seed, native=True)
    summary = summarize(source, data_config.describe_source())
    out_dir = Path(out_dir)
    sheet = contact_sheet(source, per_class, thumb, seed)
    with atomic_path(out_dir / SHEET_FILE) as tmp:
        sheet.save(tmp, format="PNG")
    summary["contact_sheet"] = str(out_dir / SHEET_FILE)
    write_json(out_dir / SUMMARY_FILE, summary)
    write_text(out_dir / SUMMARY_MD, summary_markdown(summary))
    return summary


def summary_markdown(summary: dict) -> str:
    """The summary for people (a CI job summary, a pull request): classes table, sizes, warnings, bad files."""
    splits = summary["predefined_splits"]
    headers = ["class", "images"] + (list(SPLITS) if splits else [])
    lines = [f"# {summary['source']}: {summary['images']} images, {len(summary['classes'])} classes", "",
             "| " + " | ".join(headers) + " |", "|---|" + "---:|" * (len(headers) - 1)]
    for row in summary["classes"]:
        cells = [_cell(row["name"]), str(row["images"]), *(str(row["splits"][s]) for s in SPLITS if splits)]
        lines.append("| " + " | ".join(cells) + " |")
    sizes = summary["image_sizes"]
    lines += ["", f"Image sizes: width {sizes['width']['min']}..{sizes['width']['max']}, height "
              f"{sizes['height']['min']}..{sizes['height']['max']}, {sizes['distinct']} distinct. Modes: "
              + ", ".join(f"{mode} {n}" for mode, n in summary["modes"].items()) + ".", ""]
    lines += [f"- warning: {warning}" for warning in summary["warnings"]]
    skipped = summary["skipped"]
    if skipped["count"]:
        lines += ["", f"## Skipped files ({skipped['count']})", "", "| file | problem |", "|---|---|"]
        lines += [f"| {_cell(bad['path'])} | {_cell(bad['problem'])} |" for bad in skipped["files"]]
    return "\n".join(lines + ["", f"Contact sheet: [{SHEET_FILE}]({SHEET_FILE})", ""])


def _cell(text) -> str:
    return str(text).replace("|", "\\|")


def summarize(source: SourceData, name: str) -> dict:
    counts = np.bincount(source.labels, minlength=len(source.class_names))
    classes = []
    for index, class_name in enumerate(source.class_names):
        row = {"name": class_name, "images": int(counts[index])}
        if source.assigned is not None:
            members = source.assigned[source.labels == index]
            row["splits"] = {split: int((members == split).sum()) for split in SPLITS}
        classes.append(row)
    widths = [w for (w, _), n in source.image_sizes.items() for _ in range(n)]
    heights = [h for (_, h), n in source.image_sizes.items() for _ in range(n)]
    summary = {
        "source": name,
        "images": len(source),
        "classes": classes,
        "predefined_splits": source.assigned is not None,
        "image_sizes": {
            "width": {"min": min(widths), "max": max(widths)},
            "height": {"min": min(heights), "max": max(heights)},
            "most_common": [{"width": w, "height": h, "images": n} for (w, h), n in source.image_sizes.most_common(5)],
            "distinct": len(source.image_sizes),
        },
        "modes": dict(source.image_modes.most_common()),
        "warnings": imbalance_warnings(counts, source.class_names),
        "skipped": {"count": len(source.skipped), "files": source.skipped},
    }
    return summary


def imbalance_warnings(counts: np.ndarray, class_names: list[str]) -> list[str]:
    smallest, largest = int(counts.argmin()), int(counts.argmax())
    ratio = counts[largest] / max(1, counts[smallest])
    if ratio <= IMBALANCE_RATIO:
        return []
    return [f"class imbalance: '{class_names[smallest]}' has {counts[smallest]} images, '{class_names[largest]}' "
            f"{counts[largest]} ({ratio:.1f}x); add images of the small classes or expect them to be missed more"]


def contact_sheet(source: SourceData, per_class: int, thumb: int, seed: int) -> Image.Image:
    """One row per class: its name, then up to `per_class` seeded random samples as thumbnails."""
    rng = np.random.default_rng(seed)
    rows = len(source.class_names)
    sheet = Image.new("RGB", (LABEL_WIDTH + per_class * (thumb + 4), rows * (thumb + 4) + 4), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for row, class_name in enumerate(source.class_names):
        members = np.flatnonzero(source.labels == row)
        picks = np.sort(rng.choice(members, size=min(per_class, len(members)), replace=False))
        top = 4 + row * (thumb + 4)
        count = int(len(members))
        draw.text((4, top + thumb // 2 - 10), f"{class_name[:16]}\n{count} images", fill=(0, 0, 0))
        for column, item in enumerate(picks):
            tile = _thumbnail(source, int(item), thumb)
            left = LABEL_WIDTH + column * (thumb + 4)
            sheet.paste(tile, (left + (thumb - tile.width) // 2, top + (thumb - tile.height) // 2))
    return sheet


def _thumbnail(source: SourceData, item: int, thumb: int) -> Image.Image:
    """The image as stored (files) or as the model gets it (arrays), fitted into a thumb x thumb box."""
    if source.images is not None:
        pixels = source.images[item]
        image = array_image(pixels).convert("RGB")
        scale = thumb / max(image.size)
        return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                            Image.Resampling.NEAREST if scale >= 2 else Image.Resampling.BILINEAR)
    try:
        image = open_image(source.paths[item]).convert("RGB")
    except BadImage:  # scanned as good a moment ago; a file changed underneath: show a grey tile
        return Image.new("RGB", (thumb, thumb), (128, 128, 128))
    image.thumbnail((thumb, thumb), Image.Resampling.BILINEAR)
    return image


__all__ = ["inspect_source", "summarize", "contact_sheet"]
