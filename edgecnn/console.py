"""Terminal output: progress and tables on stderr, so stdout stays clean for `--json`."""

import os
import sys

from rich.console import Console

_console: Console | None = None


def console() -> Console:
    """One stderr console; plain (no colour or live bars) when not a terminal or NO_COLOR is set."""
    global _console
    if _console is None:
        plain = not sys.stderr.isatty() or "NO_COLOR" in os.environ
        # Logs and CI summaries are read wide: do not wrap tables at 80 columns there, unless COLUMNS says.
        width = 180 if not sys.stderr.isatty() and "COLUMNS" not in os.environ else None
        _console = Console(stderr=True, no_color=plain, highlight=False, width=width)
    return _console


def is_interactive() -> bool:
    return console().is_terminal
