"""The protocol core imports nothing beyond the interpreter's start-up set (process AGI pays
for every import on every call)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import agikit

SOURCE = Path(agikit.__file__).parent
CORE = [
    SOURCE / "errors.py",
    *sorted((SOURCE / "protocol").glob("*.py")),
]


def test_importing_the_core_loads_only_agikit_modules() -> None:
    script = (
        "import sys\n"
        "import agikit\n"
        "package = set(sys.modules)\n"
        "import agikit.protocol, agikit.errors\n"
        "print(sorted(set(sys.modules) - package))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    core_imports = ast.literal_eval(output[0])
    assert core_imports, "agikit.protocol was already imported?"
    assert all(name.startswith("agikit.") for name in core_imports), core_imports


@pytest.mark.parametrize("path", CORE, ids=lambda path: path.name)
def test_the_core_imports_at_run_time_only_its_own_modules(path: Path) -> None:
    """Also catches ``from __future__ import annotations``: it imports ``__future__``."""
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Import):
            pytest.fail(f"{path.name}:{node.lineno} imports {[a.name for a in node.names]}")
        if isinstance(node, ast.ImportFrom):
            assert node.level > 0, f"{path.name}:{node.lineno} imports from {node.module}"
        if isinstance(node, ast.If) and not (
            isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        ):
            assert not any(isinstance(n, ast.Import | ast.ImportFrom) for n in ast.walk(node))
