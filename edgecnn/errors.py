"""The errors edgecnn raises on purpose. The CLI turns each into one line and an exit code."""


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
