"""Dependencies point one way: ``minigrad`` imports nothing of ours; ``zoo`` imports only ``minigrad``;
``viz`` imports only ``minigrad`` (and graphviz); ``rnnlab``, the application, may import all three
and is the only code importing both zoo and viz. hypothesis is imported only by
``minigrad.testing``, which ``import minigrad`` does not load. The engine has no import circle.

Every .py file of each package is parsed with ``ast``, so imports inside functions count too, and
so do ``importlib.import_module("...")`` calls with a literal name."""
import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("minigrad", "zoo", "viz", "rnnlab")
# top-level modules whose importers are checked: ours, and the optional dependencies that must stay put
WATCHED = {*PACKAGES, "bench", "graphviz", "hypothesis"}
ALLOWED = {  # package -> what of WATCHED it may import besides itself
    "minigrad": set(),
    "zoo": {"minigrad"},
    "viz": {"minigrad", "graphviz"},
    "rnnlab": {"minigrad", "zoo", "viz", "graphviz"},
}
EXCEPTIONS = {ROOT / "minigrad" / "testing.py": {"hypothesis"}}  # the test extra's strategies


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(node: ast.ImportFrom, path: Path) -> str:
    """The absolute module an ``ImportFrom`` names (relative ones resolved against ``path``)."""
    if node.level == 0:
        return node.module or ""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[:len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imported_modules(path: Path, tree: ast.AST | None = None) -> list[tuple[str, list[str]]]:
    """``(module, names)`` for every import in the file (or in ``tree``, a part of it): ``names``
    are what ``from module import ...`` takes (empty for ``import module``)."""
    out = []
    for node in ast.walk(tree if tree is not None else ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append((_absolute(node, path), [a.name for a in node.names]))
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name) and node.func.id in ("import_module", "__import__")))):
            out.append((node.args[0].value, []))
    return out


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", [p for package in PACKAGES for p in _files(package)],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_every_file_imports_only_the_layers_below(path):
    package = path.relative_to(ROOT).parts[0]
    tops = {module.split(".")[0] for module, _ in imported_modules(path)}
    allowed = ALLOWED[package] | {package} | EXCEPTIONS.get(path, set())
    assert not (tops & WATCHED) - allowed, f"{path.relative_to(ROOT)} imports {sorted((tops & WATCHED) - allowed)}"


def test_the_checker_sees_imports_inside_functions_and_by_name():
    probe = ROOT / "zoo" / "probe.py"  # never written: parsed from the text below as if it lived in zoo/
    tree = ast.parse("def f():\n    import viz.render\n    from ..viz import dot\n"
                     "def g():\n    importlib.import_module('rnnlab.cli')\n")
    assert imported_modules(probe, tree) == [("viz.render", []), ("viz", ["dot"]), ("rnnlab.cli", [])]


def loaded_modules(statement: str) -> set:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return {name.split(".")[0] for name in json.loads(out.stdout)}


@pytest.mark.parametrize("statement, forbidden", [
    ("import minigrad, minigrad.nn", {"zoo", "viz", "rnnlab", "graphviz", "hypothesis"}),
    ("import minigrad.testing", {"zoo", "viz", "rnnlab", "graphviz"}),
    ("import zoo, zoo.models, zoo.tasks, zoo.train", {"viz", "rnnlab", "graphviz", "hypothesis"}),
    ("import viz", {"zoo", "rnnlab", "hypothesis"}),
])
def test_importing_a_layer_pulls_in_none_of_the_layers_above(statement, forbidden):
    loaded = loaded_modules(statement)
    assert statement.split()[1].rstrip(",").split(".")[0] in loaded and "numpy" in loaded
    assert not loaded & forbidden
    if "testing" in statement:
        assert "hypothesis" in loaded


# the engine's own modules ---------------------------------------------------------------------------
def _module_level(tree: ast.Module) -> list:
    """The statements that run when the module is imported: the module's body, into if/try/with
    blocks and class bodies, but not functions or ``if TYPE_CHECKING:`` blocks."""
    out, todo = [], list(tree.body)
    while todo:
        node = todo.pop(0)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo += node.orelse
            continue
        out.append(node)
        for field in ("body", "orelse", "finalbody", "handlers"):
            todo += [n for n in getattr(node, field, []) if isinstance(n, ast.AST)]
    return [n for n in out if isinstance(n, (ast.Import, ast.ImportFrom))]


def engine_import_graph() -> dict:
    """module -> the minigrad modules its module-level imports run (a target's packages included,
    except those the importer is already inside)."""
    modules = {module_name(p): p for p in _files("minigrad")}
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        if path.name == "__init__.py":
            own.add(name)
        edges = set()
        for node in _module_level(tree):
            for module, names in imported_modules(path, node):
                targets = [f"{module}.{n}" for n in names if f"{module}.{n}" in modules] or [module]
                for target in targets:
                    parts = target.split(".")
                    edges |= {m for m in (".".join(parts[:i]) for i in range(1, len(parts) + 1))
                              if m in modules and m not in own and m != name}
        graph[name] = edges
    return graph


def find_cycle(graph: dict) -> list | None:
    """One import circle of ``graph`` as a list of modules (first == last), or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_find_cycle_finds_circles_and_only_them():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_the_engine_has_no_import_circle():
    graph = engine_import_graph()
    assert {"minigrad.tensors", "minigrad.ops", "minigrad.function"} <= set(graph)
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))
