"""`edgecnn cache list|clear`: the cache of finished stages that run folders share (`build --cache`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from edgecnn_cli._common import JsonOption, print_json, user_errors

cache_app = typer.Typer(help="The cache of finished stages that builds share (build --cache DIR or EDGECNN_CACHE).",
                        no_args_is_help=True)

CacheDirOption = Annotated[Optional[Path], typer.Option(
    "--cache", metavar="DIR", help="Cache folder \\[default: $EDGECNN_CACHE].")]


def _chosen(folder: Path | None):
    from edgecnn.errors import RecipeError
    from edgecnn.incremental.cache import CACHE_ENV, StageCache

    cache = StageCache.chosen(folder)
    if cache is None:
        raise RecipeError(f"no cache named: pass --cache DIR or set {CACHE_ENV}")
    return cache


@cache_app.command("list")
def list_entries(cache: CacheDirOption = None, as_json: JsonOption = False):
    """The cached stages, most recently used first, with their sizes and the recipe that made them.

    Example: edgecnn cache list --cache ~/.cache/edgecnn
    """
    with user_errors():
        from rich.table import Table

        from edgecnn.console import console

        store = _chosen(cache)
        entries = sorted(store.entries(), key=lambda e: -e.used)
        total = sum(e.bytes for e in entries)
        if as_json:
            print_json({"cache": str(store.root), "bytes": total, "max_bytes": store.max_bytes,
                        "entries": [{"stage": e.stage, "key": e.key, "recipe": e.recipe, "bytes": e.bytes,
                                     "created": e.created, "used": e.used} for e in entries]})
            return
        table = Table(title=f"{store.root}: {len(entries)} stages, {_size(total)} of {_size(store.max_bytes)}")
        for header in ("stage", "recipe", "size", "last used", "key"):
            table.add_column(header, justify="right" if header == "size" else "left")
        for e in entries:
            table.add_row(e.stage, e.recipe, _size(e.bytes), _ago(e.used), e.key[:12])
        console().print(table)


@cache_app.command("clear")
def clear(cache: CacheDirOption = None):
    """Remove every cached stage (run folders keep their own files).

    Example: edgecnn cache clear --cache ~/.cache/edgecnn
    """
    with user_errors():
        count, freed = _chosen(cache).clear()
        typer.echo(f"removed {count} cached stages ({_size(freed)})", err=True)


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


def _ago(stamp: float) -> str:
    seconds = max(0.0, time.time() - stamp)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"
