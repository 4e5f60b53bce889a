"""One writer per run folder: a lock file holding the writer's process id.

Two builds into the same `--out` would interleave their files; the second is refused with the
holder's process id. A lock whose process is gone (killed, crashed) is stale and taken over.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from edgecnn.errors import RecipeError

LOCK_FILE = ".edgecnn.lock"


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
    """Hold `folder`'s lock while the block writes into it."""
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
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


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
