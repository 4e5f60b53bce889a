"""The errors edgecnn raises on purpose. The CLI turns each into one line and an exit code."""

import errno
import signal


class EdgeCNNError(Exception):
    """Base class: a problem the user can fix; the message says how, in one line."""

    exit_code = 2

    def __init__(self, message: str = ""):
        super().__init__(one_line(str(message)))


def one_line(text: str) -> str:
    """Line breaks and other control characters shown escaped (`\\n`): a key a user typed with a newline in it,
    or a library's two-line message, must not break the CLI's one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class RecipeError(EdgeCNNError):
    """A recipe file or override is malformed or out of range."""


class DataError(EdgeCNNError):
    """A data source cannot be read or does not hold usable labelled images."""


class ModelError(EdgeCNNError):
    """A model name, block string or model argument is invalid."""


class ExportError(EdgeCNNError):
    """An artifact could not be written."""


class VerificationError(EdgeCNNError):
    """An artifact cannot be loaded or run in its runtime."""


class MissingDependency(EdgeCNNError):
    """An optional dependency (the `train` extra) is not installed."""


class BudgetExceeded(EdgeCNNError):
    """A verification budget was missed: exit code 1, so CI fails the job."""

    exit_code = 1


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an exception so that, as with Ctrl-C, every `finally` runs: half-written files and
    scratch folders are removed and the run folder's lock released before the process exits (143)."""


_stop_requested: type[KeyboardInterrupt] | None = None


def stop_on_signal(signum, frame) -> None:
    """The CLI's SIGINT and SIGTERM handler: the stop is remembered, then raised (KeyboardInterrupt, Terminated).
    Python prints and drops an exception raised while it runs a `__del__` (TensorFlow deletes a dataset iterator at
    every epoch's end), so a signal landing there would be lost and the build would run on; the checkpoints
    (`raise_if_stop_requested`: every training batch, every stage, the command's end) raise it again."""
    global _stop_requested
    _stop_requested = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
    raise _stop_requested()


def raise_if_stop_requested() -> None:
    if _stop_requested is not None:
        raise _stop_requested()


class DiskFull(EdgeCNNError):
    """A write failed for want of space: the disk or quota is full, or the file size limit (ulimit -f) was hit."""


NO_SPACE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}  # a full disk, the file size limit (RLIMIT_FSIZE), a quota


def no_space_cause(exc: BaseException) -> OSError | None:
    """The out-of-space OSError behind `exc` (itself, or in its chain of causes: libraries wrap it), or None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in NO_SPACE_ERRNOS:
            return exc
        text = str(exc)
        if "No space left on device" in text or "File too large" in text:
            return OSError(errno.ENOSPC if "No space" in text else errno.EFBIG, text.splitlines()[0])
        exc = exc.__cause__ or exc.__context__
    return None
