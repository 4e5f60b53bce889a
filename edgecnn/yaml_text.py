"""YAML the way a recipe may be written: `safe_load` (no tags, no code) plus named limits.

Duplicate keys are an error (YAML would keep the last one silently), and the document is measured
before it is built: the nesting depth, and its size with every alias expanded, so an alias bomb (a
few lines that expand to billions of values) is refused in milliseconds instead of exhausting memory
when the values are later walked or printed.
"""

from __future__ import annotations

import yaml

MAX_TEXT_BYTES = 1_000_000  # a recipe is a page of settings, not data
MAX_DEPTH = 40
MAX_EXPANDED_VALUES = 100_000


class YamlProblem(ValueError):
    """What is wrong with the text, in words for a one-line error; the caller names the file."""


class _StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)):
                continue
            if key in seen:
                raise YamlProblem(f"key {str(key)[:40]!r} appears twice (line {key_node.start_mark.line + 1}); "
                                  "YAML would keep only the last one")
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_yaml_text(text: str):
    """Parse recipe YAML: safe, duplicate keys refused, depth and expanded size limited."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        raise YamlProblem(f"larger than {MAX_TEXT_BYTES // 1000} kB; a recipe holds settings, and data sources are "
                          "named by path")
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node)
        return loader.construct_document(node)
    except RecursionError:
        raise YamlProblem(f"nested deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()


def _check_size(root) -> None:
    """Depth and alias-expanded value count, computed once per node (aliases share their node)."""
    sizes: dict[int, int] = {}

    def size(node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise YamlProblem(f"nested deeper than {MAX_DEPTH} levels")
        if id(node) in sizes:
            return sizes[id(node)]
        if isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k, depth + 1) + size(v, depth + 1) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(item, depth + 1) for item in node.value)
        else:
            total = 1
        if total > MAX_EXPANDED_VALUES:
            raise YamlProblem(f"expands to more than {MAX_EXPANDED_VALUES:,} values (YAML aliases: *name); a "
                              "recipe needs far fewer")
        sizes[id(node)] = total
        return total

    size(root, 0)
