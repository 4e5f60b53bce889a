"""The package's layering, read from the source: each module imports only modules of its own or an
earlier stage, and every `from edgecnn... import name` (lazy ones too) names something that exists."""

import ast
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "edgecnn"

# Earlier stages first. A module may import its own stage and any earlier one, never a later one.
STAGES = [
    {"__init__", "__main__", "_vendor", "errors", "fileio", "console", "_tf", "yaml_text", "runlock", "plots",
     "modelfile", "formats",
     "memory"},
    {"data"}, {"models"}, {"recipe"}, {"run"}, {"artifacts"}, {"mcu"}, {"train"}, {"export"}, {"optimize"}, {"verify"},
    {"anatomy"}, {"predict"}, {"report"}, {"pipeline"}, {"incremental"}, {"sweep"}, {"handoff"}, {"api"},
]
LEVEL = {name: level for level, names in enumerate(STAGES) for name in names}


def _imports(folders=(PACKAGE,), annotations: bool = False):
    """(importing module, imported module, imported names, line) for every edgecnn import in `folders`; those
    under `if TYPE_CHECKING:` (names for annotations, never imported at run time) only with `annotations`."""
    for path in sorted(p for folder in folders for p in folder.rglob("*.py")):
        if path.name.endswith("_generated.py"):
            continue
        module = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        tree = ast.parse(path.read_text())
        typing_only = {id(inner) for node in ast.walk(tree) if isinstance(node, ast.If)
                       and getattr(node.test, "id", None) == "TYPE_CHECKING" for inner in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in typing_only and not annotations:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "edgecnn":
                yield module, node.module, [alias.name for alias in node.names], node.lineno
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "edgecnn":
                        yield module, alias.name, [], node.lineno


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_has_a_stage():
    stages = {_stage(module) for module, _, _, _ in _imports()}
    assert stages <= set(LEVEL), f"place these in STAGES: {sorted(stages - set(LEVEL))}"


def test_no_module_imports_a_later_stage():
    upward = [f"{module}:{line} imports {imported}" for module, imported, _, line in _imports()
              if LEVEL[_stage(imported)] > LEVEL[_stage(module)]]
    assert not upward, "\n".join(upward)


EVERYWHERE = (PACKAGE, REPO / "cli", REPO / "tests", REPO / "benchmarks")


@pytest.mark.parametrize("module", sorted({imported for _, imported, _, _ in _imports(EVERYWHERE, annotations=True)}))
def test_every_imported_name_exists(module):
    # Lazy imports inside functions fail only when the function runs; this finds a moved name at once.
    loaded = importlib.import_module(module)
    for importer, imported, names, line in _imports(EVERYWHERE, annotations=True):
        if imported == module:
            for name in names:
                assert hasattr(loaded, name) or importlib.util.find_spec(f"{module}.{name}"), \
                    f"{importer}:{line}: {module} has no {name}"


def test_no_import_cycle():
    """Imports between edgecnn's modules form no cycle, imports inside functions included (a lazy import is
    still a dependency; a package counts as its __init__)."""
    modules = {".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
               for p in PACKAGE.rglob("*.py")}
    edges: dict[str, set[str]] = {module: set() for module in modules}
    for module, imported, names, _ in _imports():
        targets = [f"{imported}.{name}" if f"{imported}.{name}" in modules else imported
                   for name in names] or [imported]
        edges[module].update(t for t in targets if t != module)
    state: dict[str, int] = {}

    def visit(module, trail):
        state[module] = 1
        for target in edges.get(module, ()):
            if state.get(target) == 1:
                raise AssertionError("import cycle: " + " -> ".join(trail[trail.index(target):] + [target]))
            if target not in state:
                visit(target, trail + [target])
        state[module] = 2

    for module in sorted(modules):
        if module not in state:
            visit(module, [module])


def test_settings_parameters_say_their_type():
    """A `recipe`, `cfg`, `settings`, `config`, `data_config` or `options` parameter names its recipe section's type:
    what it reads is then one click away."""
    untyped = [f"{path.relative_to(REPO)}:{node.lineno} {node.name}({arg.arg})"
               for path in sorted(PACKAGE.rglob("*.py")) if not path.name.endswith("_generated.py")
               for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.FunctionDef)
               for arg in node.args.args + node.args.kwonlyargs
               if arg.arg in ("recipe", "cfg", "settings", "config", "data_config", "options")
               and arg.annotation is None]
    assert not untyped, "\n".join(untyped)


# Suites that test behaviour across the package rather than one module, each named for what it proves.
CROSS_CUTTING = {
    "test_bad_input": "every command's one-line errors on bad input",
    "test_fuzz": "hypothesis over every parser of user input",
    "test_layering": "this file: the package's layering and the tests' names",
    "test_interrupts": "Ctrl-C and SIGTERM at any stage",
    "test_readme_gate": "the README's CI workflow, run as written",
    "test_phone_sdks": "the files in MediaPipe Tasks and onnxruntime-node",
    "test_frames_mediapipe": "edgecnn.data.frames against MediaPipe's own pre-processing, pixel by pixel",
    "test_folder_build": "a folder of photos from `data demo` to the handoff",
    "test_recipes": "every shipped recipe built and verified",
}


def test_every_test_module_is_named_after_the_module_it_tests():
    """tests/test_A_B.py tests edgecnn's (or the CLI's) module or subpackage A.B (A/B.py or A/B/); the other
    test modules are the cross-cutting suites declared above."""
    modules = {".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
               for folder in (PACKAGE, REPO / "cli") for p in folder.rglob("*.py")}
    named = {module.split(".", 1)[1].replace(".", "_") if "." in module else module for module in modules}
    named |= {"cli" + ("_" + module.split(".", 1)[1].replace(".", "_") if "." in module else "")
              for module in modules if module.startswith("cli")}
    for path in sorted((REPO / "tests").glob("test_*.py")):
        stem = path.stem
        assert stem.removeprefix("test_") in named or stem in CROSS_CUTTING, \
            f"tests/{path.name}: names no module of edgecnn/ or cli/ (nor a suite in CROSS_CUTTING)"
