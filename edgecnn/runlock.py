"""One writer per run folder: a lock file holding the writer's process id, and scratch space inside it.

Two builds into the same `--out` would interleave their files; the second is refused with the
holder's process id. A lock whose process is gone (killed, crashed) is stale and taken over. While
the lock is held, every temporary file (ours and the converters', through `tempfile`) lives in the
run folder's `.edgecnn-tmp/`, and whatever a killed run left there or as a half-written `.NAME.*.tmp*`
file is removed when the next writer starts, so nothing outlives a rerun.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from edgecnn.errors import RecipeError

LOCK_FILE = ".edgecnn.lock"
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
    """Hold `folder`'s lock while the block writes into it; a folder made here and left empty by a
    failure is removed again, so bad input writes nothing."""
    created = not Path(folder).exists()
    path = prepare_folder(folder) / LOCK_FILE
    while True:
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            holder = _holder(path)
            if holder is not None and _alive(holder):
                raise RecipeError(f"{folder}: another edgecnn (process {holder}) is writing this run folder; "
                                  "wait for it to finish or choose another --out") from None
            path.unlink(missing_ok=True)  # stale: its process is gone
        except OSError as exc:
            raise RecipeError(f"{folder}: cannot write here ({exc.strerror})") from None
    with os.fdopen(descriptor, "w") as lock:
        lock.write(str(os.getpid()))
    scratch, previous = remove_leftovers(Path(folder)), tempfile.tempdir
    scratch.mkdir()
    tempfile.tempdir = str(scratch)
    try:
        yield
    finally:
        tempfile.tempdir = previous
        shutil.rmtree(scratch, ignore_errors=True)
        path.unlink(missing_ok=True)
        if created and not any(Path(folder).iterdir()):
            Path(folder).rmdir()


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


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
