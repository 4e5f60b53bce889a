"""`edgecnn models`: the registered architectures."""

from __future__ import annotations


from edgecnn_cli._common import JsonOption, print_json, user_errors


def models(as_json: JsonOption = False):
    """List the registered architectures with parameters and MACs at their default input size.

    Example: edgecnn models --json
    """
    with user_errors():
        from rich.table import Table

        from edgecnn.console import console
        from edgecnn.models import list_presets, preset_summary

        rows = [preset_summary(preset) for preset in list_presets()]
        if as_json:
            print_json(rows)
            return
        table = Table(title="edgecnn models (counts at the default input and classes)")
        for header in ("name", "input", "classes", "params", "MACs", "description"):
            table.add_column(header, justify="right" if header in ("params", "MACs", "classes") else "left")
        for row in rows:
            table.add_row(row["name"], "x".join(map(str, row["input"])), str(row["classes"]), f"{row['params']:,}",
                          f"{row['macs'] / 1e6:,.2f} M", row["description"])
        console().print(table)
