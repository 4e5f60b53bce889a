"""One writer per run folder: a kernel lock on a file in it, and scratch space inside it.

Two builds into the same `--out` would interleave their files; the second is refused, naming the holder's
process id. The lock is `filelock`'s (flock on Unix): the kernel releases it when its process dies, however it
dies, so there are no stale locks to guess about. While the lock is held, every temporary file (ours and the
converters', through `tempfile`) lives in the run folder's `.edgecnn-tmp/`, and whatever a killed run left
there or as a half-written `.NAME.*.tmp*` file is removed when the next writer starts, so nothing outlives a
rerun.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from filelock import FileLock, Timeout

from edgecnn.errors import RecipeError

LOCK_FILE = ".edgecnn.lock"  # stays in the folder between writers: removing a flock'ed file races its next taker
SCRATCH_DIR = ".edgecnn-tmp"


def prepare_folder(folder: Path, flag: str = "--out") -> Path:
    """The folder, created if needed; a path that cannot be a folder is bad input, named."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise RecipeError(f"{flag} {folder}: exists and is not a folder; choose a folder for the run")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RecipeError(f"{flag} {folder}: cannot create the folder ({exc.strerror})") from None
    return folder


@contextlib.contextmanager
def run_lock(folder: Path):
    """Hold `folder`'s lock while the block writes into it; folders made here (the run folder and any missing
    parents, e.g. `runs/`) that a failure left empty are removed again, so bad input writes nothing."""
    folder = Path(folder)
    made = _missing_ancestors(folder)
    path = prepare_folder(folder) / LOCK_FILE
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RecipeError(f"{folder}: another edgecnn (process {_holder(path) or '?'}) is writing this run folder; "
                          "wait for it to finish or choose another --out") from None
    except OSError as exc:
        raise RecipeError(f"{folder}: cannot write here ({exc.strerror})") from None
    path.write_text(str(os.getpid()))  # for the message a second writer gets; the kernel lock is what counts
    scratch, previous = remove_leftovers(folder), tempfile.tempdir
    scratch.mkdir()
    # Converters (TFLiteConverter's SavedModel, tf2onnx, ONNX Runtime's tools) make their temporary files through
    # `tempfile` with no folder argument: pointing `tempfile` here for the lock's duration keeps them inside
    # the run folder, where the next writer removes what a killed run left. One writer per process at a time.
    tempfile.tempdir = str(scratch)
    try:
        yield
    finally:
        tempfile.tempdir = previous
        shutil.rmtree(scratch, ignore_errors=True)
        if made and [p.name for p in folder.iterdir()] == [LOCK_FILE]:
            path.unlink()  # the folder goes too: nobody can be waiting on a folder this writer made
        lock.release()
        for created in made:  # innermost first
            with contextlib.suppress(OSError):  # not empty: a file landed; keep it
                created.rmdir()


def _missing_ancestors(folder: Path) -> list[Path]:
    """`folder` and its parents that do not exist yet, innermost first."""
    missing = []
    for candidate in [folder, *folder.parents]:
        if candidate.exists():
            break
        missing.append(candidate)
    return missing


def remove_leftovers(folder: Path) -> Path:
    """Delete what a killed writer left: the scratch folder and half-written files (`.NAME.*.tmp*`, the
    pattern of `fileio.atomic_path`); returns the scratch folder's path."""
    scratch = folder / SCRATCH_DIR
    shutil.rmtree(scratch, ignore_errors=True)
    places = [folder, *(sub for sub in folder.iterdir() if sub.is_dir())] if folder.is_dir() else []
    for place in places:  # the folder and its subfolders (optimized/, inspect/): where atomic writes happen
        for leftover in place.glob(".*.tmp*") if place.is_dir() else ():
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
    return scratch


def _holder(path: Path) -> int | None:
    try:
        return int(path.read_text().strip() or "x")
    except (OSError, ValueError):
        return None
