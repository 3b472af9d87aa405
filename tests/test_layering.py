"""Dependencies point one way: minigrad imports neither zoo nor viz nor graphviz, and hypothesis
only in minigrad.testing, which ``import minigrad`` does not load."""
import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "minigrad"
FORBIDDEN = ("zoo", "viz", "graphviz", "hypothesis")


def loaded_modules(statement: str) -> set:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in json.loads(out.stdout)}


def test_importing_minigrad_pulls_in_none_of_the_layers_above():
    loaded = loaded_modules("import minigrad, minigrad.nn")
    assert "minigrad" in loaded and "numpy" in loaded
    assert not loaded & set(FORBIDDEN)


def test_minigrad_testing_loads_hypothesis_but_nothing_above():
    loaded = loaded_modules("import minigrad.testing")
    assert "hypothesis" in loaded
    assert not loaded & {"zoo", "viz", "graphviz"}


def _imports(path: Path) -> set:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_engine_file_imports_the_layers_above(path):
    """Also catches imports inside functions, which the subprocess test would not trigger."""
    allowed = {"hypothesis"} if path.name == "testing.py" else set()
    assert not _imports(path) & (set(FORBIDDEN) - allowed)
