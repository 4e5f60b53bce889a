"""`python -m edgecnn` runs the CLI."""

from edgecnn_cli.main import run

run()
