"""Process AGI imports these modules on every call: they must not pull in heavy stdlib modules."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = {
    "typing",
    "dataclasses",
    "enum",
    "re",
    "inspect",
    "collections",
    "collections.abc",
    "functools",
    "asyncio",
    "datetime",
    "textwrap",
    "argparse",
}

PROBE = """
import json, sys
before = set(sys.modules)
import agikit.commands, agikit.call, agikit._execute, agikit._runner, agikit.results
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_command_modules_import_nothing_heavy() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    imported = set(json.loads(done.stdout))
    assert {"agikit.commands", "agikit.call", "agikit.results"} <= imported
    assert not imported & FORBIDDEN, sorted(imported & FORBIDDEN)
    # Only agikit's own modules (and nothing from the standard library beyond start-up).
    assert {name for name in imported if not name.startswith("agikit")} <= {"__future__"}
