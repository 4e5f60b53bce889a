"""Markdown tables checked the way GitHub renders them: a real GFM table parser (markdown-it-py)."""

import re

from markdown_it import MarkdownIt

_PARSER = MarkdownIt("commonmark").enable("table")


def _cells(line: str) -> int:
    """Cells in a source row: pipes that are not escaped, minus the outer two."""
    return len(re.split(r"(?<!\\)\|", line.strip().strip("|")))


def assert_gfm_tables(text: str) -> int:
    """Every table-looking block parses as a table and every row has the header's cell count; returns the count."""
    tokens = _PARSER.parse(text)
    tables = [t for t in tokens if t.type == "table_open"]
    blocks = re.findall(r"(?:^\|.*\|[ \t]*\n)+", text, flags=re.MULTILINE)
    assert len(tables) == len(blocks), f"{len(blocks)} table blocks, {len(tables)} parsed as tables"
    lines = text.splitlines()
    for table in tables:
        start, end = table.map
        rows = [line for line in lines[start:end] if not re.fullmatch(r"\|[\s:|-]+\|", line.strip())]
        header = _cells(rows[0])
        for row in rows[1:]:
            assert _cells(row) == header, f"{header} header cells, {_cells(row)} in: {row}"
    return len(tables)
