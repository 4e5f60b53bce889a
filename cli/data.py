"""`edgecnn data inspect`: look at a data source before training on it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgecnn_cli._common import JsonOption, OverridesOption, SkipBadOption, data_overrides, print_json, user_errors

data_app = typer.Typer(help="Look at data sources before training on them.", no_args_is_help=True)

SourceArgument = Annotated[str, typer.Argument(
    help="digits, shapes, mnist, fashion_mnist, cifar10, an image folder (one subfolder per class), a .csv/.json "
    "list of path,label rows, an .npz file, or a recipe .yaml (its data section).", show_default=False)]


@data_app.command()
def inspect(source: SourceArgument,
            out: Annotated[Path, typer.Option("--out", "-o", help="Folder for contact_sheet.png, summary.json and summary.md.")]
            = Path("data-inspect"),
            per_class: Annotated[int, typer.Option("--per-class", min=1, max=64, help="Sample images per class "
                                                   "on the contact sheet.")] = 8,
            seed: Annotated[int, typer.Option("--seed", help="Seed of the sample choice (and of shapes).")] = 0,
            skip_bad_files: SkipBadOption = False, overrides: OverridesOption = None, as_json: JsonOption = False):
    """Classes with image counts (per split when the source has train/val/test), image sizes and modes,
    a class-imbalance warning, bad files, and a PNG contact sheet of samples per class.

    Example: edgecnn data inspect photos/ --per-class 12 --out photos-inspect
    """
    with user_errors():
        from edgecnn.data.inspect import inspect_source
        from edgecnn.recipe import data_recipe

        recipe = data_recipe(source, seed, data_overrides(overrides, skip_bad_files))
        summary = inspect_source(recipe.data, recipe.seed, out, per_class=per_class)
        if as_json:
            print_json(summary)
        else:
            _print_summary(summary)


def _print_summary(summary: dict) -> None:
    from rich.table import Table

    from edgecnn.console import console

    table = Table(title=f"{summary['source']}: {summary['images']} images, {len(summary['classes'])} classes")
    splits = summary["predefined_splits"]
    table.add_column("class")
    table.add_column("images", justify="right")
    for split in ("train", "val", "test") if splits else ():
        table.add_column(split, justify="right")
    for row in summary["classes"]:
        table.add_row(row["name"], str(row["images"]), *(str(row["splits"][s]) for s in ("train", "val", "test")
                                                          if splits))
    out = console()
    out.print(table)
    sizes = summary["image_sizes"]
    common = ", ".join(f"{s['width']}x{s['height']} ({s['images']})" for s in sizes["most_common"][:3])
    out.print(f"image sizes: width {sizes['width']['min']}..{sizes['width']['max']}, height "
              f"{sizes['height']['min']}..{sizes['height']['max']}; {sizes['distinct']} distinct, most common {common}")
    out.print("modes: " + ", ".join(f"{mode} {n}" for mode, n in summary["modes"].items()))
    for warning in summary["warnings"]:
        out.print(f"[yellow]warning:[/] {warning}")
    skipped = summary["skipped"]
    if skipped["count"]:
        out.print(f"[yellow]skipped {skipped['count']} bad files:[/]")
        for bad in skipped["files"][:20]:
            out.print(f"  {bad['path']}: {bad['problem']}")
    out.print(f"contact sheet: {summary['contact_sheet']}")


@data_app.command()
def demo(folder: Annotated[Path, typer.Argument(help="Folder to create, one subfolder per class.", show_default=False)],
         count: Annotated[int, typer.Option("--count", min=20, max=1_000_000, help="Images in all.")] = 2000,
         seed: Annotated[int, typer.Option("--seed", help="Seed of the generator.")] = 0):
    """Write a folder of PNG and JPEG shape photos, one subfolder per class: camera-shaped frames (square, 4:3,
    16:9, landscape and portrait; short side 64 to 160 px) with the shape framed in the centre square, as a
    person photographs a subject. An offline stand-in for your own photos, to try recipes/photos.yaml and
    `data inspect`.

    Example: edgecnn data demo photos && edgecnn build recipes/photos.yaml
    """
    with user_errors():
        from edgecnn.data.shapes import write_photo_demo
        from edgecnn.errors import DataError

        if folder.exists() and any(folder.iterdir()):
            raise DataError(f"{folder}: exists and is not empty; choose a new folder")
        paths = write_photo_demo(folder, count, ["circle", "square", "triangle", "cross", "star"], seed)
        typer.echo(f"wrote {len(paths)} images to {folder}/ (5 classes)", err=True)
