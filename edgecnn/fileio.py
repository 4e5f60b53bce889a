"""Atomic writes (an artifact is either complete or absent, never half-written) and reading the small text
files a user hands over (labels, lists, reports) with named errors."""

import contextlib
import errno
import hashlib
import json
import os
import resource
import shutil
import sys
import tempfile
from pathlib import Path

from edgecnn.errors import DiskFull, no_space_cause

ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the zip format's earliest date: archives do not depend on the clock


@contextlib.contextmanager
def atomic_path(path: Path):
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; artifacts are meant to be shared
        os.replace(tmp, path)
    except Exception as exc:
        full = no_space_cause(exc)
        if full is None:
            raise
        written = os.path.getsize(tmp) if os.path.exists(tmp) else 0
        raise DiskFull(out_of_space_text(path, full, written)) from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def out_of_space_text(path: Path | str, error: OSError, written: int | None = None) -> str:
    """One line: which file (or scratch folder), what ran out, how much it needed at least when known (`written`
    bytes landed before the write failed), and what to do: the one wording for every out-of-space failure."""
    where = Path(path) if written is None else Path(path).parent
    if error.errno == errno.EFBIG:
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        shown = f"{limit:,} bytes" if limit != resource.RLIM_INFINITY else "a limit"
        what, advice = f"the file size limit (ulimit -f: {shown}) was reached", "raise the limit"
    else:
        try:
            free = f" ({shutil.disk_usage(where).free:,} bytes free on {where})"
        except OSError:
            free = ""
        what, advice = f"the disk is full{free}", "free some space"
    needed = "" if written is None else f" after {written:,} bytes, and the file needs more"
    return f"{path}: not written: {what}{needed}; {advice} and rerun (finished stages are reused)"


def staging_folder(parent: Path, prefix: str) -> Path:
    """A new empty folder in `parent` to fill and then rename into place, with the permissions the user's umask
    gives a new folder (mkdtemp makes 0700 folders: a bundle or a shared cache entry is meant to be shared)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(folder, 0o777 & ~_umask())
    return folder


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def captured_native_stderr(always: bool = False):
    """Capture what C++ code (TF converter, LiteRT) prints on file descriptor 2.

    Yields a list that holds the captured text after the block, so callers can show it on failure
    instead of printing converter chatter on every success. A no-op with EDGECNN_DEBUG set, unless `always`
    (the text is data the caller reads, such as TFLM's arena allocations).
    """
    captured: list[str] = []
    if os.environ.get("EDGECNN_DEBUG") and not always:
        yield captured
        return

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.append(sink.read().decode("utf-8", "replace"))


def write_bytes(path: Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def read_user_text(path: Path, what: str, error: type[Exception], limit: int = 50_000_000,
                   shown: str | None = None) -> str:
    """The UTF-8 text of a file the user named, or `error` with one line saying what is wrong with it
    (the line starts with `shown`, e.g. "--baseline FILE", else the path)."""
    path = Path(path)
    name = shown or str(path)
    if not path.exists():
        raise error(f"{name}: {what} not found")
    if not path.is_file():
        raise error(f"{name}: a folder, not a {what}")
    if path.stat().st_size > limit:
        raise error(f"{name}: {path.stat().st_size:,} bytes, more than a {what} should hold ({limit:,})")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{name}: not UTF-8 text (byte {exc.start}); save the {what} as UTF-8") from None
    except PermissionError:
        raise error(f"{name}: permission denied reading the {what}") from None


def file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
