"""The toolkit (the compiler, its local engine and the functions' runtime) sits below the
Airbyte application: nothing in it may import the application, which builds on it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLKIT = [ROOT / "src" / "arazzo_sfn", ROOT / "layers" / "arazzo_runtime", ROOT / "functions" / "operation"]
APPLICATION = ("airbyte_resync", "airbyte_client")


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("directory", TOOLKIT, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_toolkit_imports_nothing_of_the_application(directory):
    sources = sorted(directory.rglob("*.py"))
    assert sources
    offending = {
        str(path.relative_to(ROOT)): sorted(m for m in imported_modules(path) if m.split(".")[0] in APPLICATION)
        for path in sources
    }
    assert {path: modules for path, modules in offending.items() if modules} == {}


def test_the_runtime_has_a_layer_of_its_own():
    assert (ROOT / "layers" / "arazzo_runtime" / "arazzo_runtime" / "step.py").is_file()
    assert not (ROOT / "layers" / "airbyte_client" / "arazzo_runtime").exists()
