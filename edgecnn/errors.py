"""The errors edgecnn raises on purpose. The CLI turns each into one line and an exit code."""


class EdgeCNNError(Exception):
    """Base class: a problem the user can fix; the message says how."""

    exit_code = 2


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
