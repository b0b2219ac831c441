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
    SOURCE / "_outcomes.py",
    SOURCE / "_protocol.py",
    *sorted((SOURCE / "protocol").glob("*.py")),
]


def test_importing_the_core_loads_only_agikit_modules() -> None:
    script = (
        "import sys\n"
        "import agikit\n"
        "package = set(sys.modules)\n"
        "import agikit.protocol, agikit.errors\n"
        "from agikit.protocol import *\n"  # every name, from every module of the core
        "print(sorted(set(sys.modules) - package))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    core_imports = ast.literal_eval(output[0])
    assert "agikit.protocol.session" in core_imports, "agikit.protocol was already imported?"
    assert all(name.startswith("agikit.") for name in core_imports), core_imports


def test_the_package_imports_its_names_on_first_use() -> None:
    """``import agikit.protocol`` loads no submodule (process AGI imports only what it uses);
    each public name, and each submodule, is still there as an attribute."""
    script = (
        "import sys\n"
        "import agikit.protocol as protocol\n"
        "assert not [m for m in sys.modules if m.startswith('agikit.protocol.')], sys.modules\n"
        "from agikit.protocol import session\n"
        "assert protocol.AgiSession is session.AgiSession\n"
        "import agikit.protocol.quoting\n"
        "assert protocol.quoting.format_command is protocol.format_command\n"
        "for name in protocol.__all__:\n"
        "    value = getattr(protocol, name)\n"
        "    module = sys.modules[f'agikit.protocol.{protocol._LAZY[name]}']\n"
        "    assert value is getattr(module, name), name\n"
        "assert set(protocol.__all__) <= set(dir(protocol))\n"
        "assert protocol.environment.Environment is protocol.Environment\n"
        "try:\n"
        "    protocol.nothing\n"
        "except AttributeError:\n"
        "    pass\n"
        "else:\n"
        "    raise AssertionError('no AttributeError')\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


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


def test_star_import_of_the_package_leaves_asyncio_unloaded() -> None:
    """Process-AGI scripts often start with ``from agikit import *``; a loop-free async
    handler must not pay for asyncio all the same."""
    script = "import sys\nfrom agikit import *\nassert 'asyncio' not in sys.modules, 'asyncio'\n"
    subprocess.run([sys.executable, "-c", script], check=True)
