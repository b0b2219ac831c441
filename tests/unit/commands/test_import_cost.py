"""Process AGI imports these modules on every call: they must not pull in heavy stdlib modules,
and a blocking script must not load what it does not use."""

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
import agikit._sync_call, agikit._async_call, agikit._command_docs
print(json.dumps(sorted(set(sys.modules) - before)))
"""

# What a blocking process-AGI script does: run a few commands through SyncCall, as stdio does.
LEAN = """
import json, sys
before = set(sys.modules)
import agikit.transports.stdio
from agikit.call import SyncCall
from agikit.protocol.environment import Environment

class Runner:
    environment = Environment({"agi_channel": "PJSIP/alice-00000001"})
    hung_up = False
    def run(self, request):
        return request.line

call = SyncCall(Runner())
call.answer()
call.stream_file("hello-world", escape_digits="#")
call.get_data("enter-number", timeout=5, max_digits=4)
call.verbose("done")
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def _modules(script: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stdout))


def test_command_modules_import_nothing_heavy() -> None:
    imported = _modules(PROBE)
    assert {"agikit.commands", "agikit.call", "agikit.results", "agikit._sync_call"} <= imported
    assert not imported & FORBIDDEN, sorted(imported & FORBIDDEN)
    # Only agikit's own modules (and nothing from the standard library beyond start-up).
    assert {name for name in imported if not name.startswith("agikit")} <= {"__future__"}


def test_a_blocking_script_loads_neither_the_async_class_nor_the_documentation() -> None:
    imported = _modules(LEAN)
    assert "agikit._sync_call" in imported
    assert "agikit._async_call" not in imported
    assert "agikit._command_docs" not in imported
    assert not imported & FORBIDDEN, sorted(imported & FORBIDDEN)


# A blocking process-AGI script as written: the package, ``agikit.run``, a SyncCall.
PROCESS_AGI = """
import json, sys
before = set(sys.modules)
import agikit
agikit.run
from agikit._sync_call import SyncCall
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_a_process_agi_script_loads_no_package_or_module_it_does_not_need() -> None:
    """Each module costs its import machinery on every call: ``agikit.run`` comes from
    ``agikit._stdio`` without the ``agikit.transports`` package, the errors and results from
    ``agikit._outcomes`` without their public modules, and the protocol core from
    ``agikit._protocol`` without the ``agikit.protocol`` package."""
    imported = _modules(PROCESS_AGI)
    assert {
        "agikit._stdio",
        "agikit._outcomes",
        "agikit._protocol",
        "agikit._sync_call",
    } <= imported
    unwanted = {"agikit.transports", "agikit.errors", "agikit.results", "agikit.protocol"}
    assert not imported & unwanted, imported
    assert not [name for name in imported if name.startswith("agikit.protocol.")], imported


def test_the_public_modules_hold_the_same_objects_and_name_themselves() -> None:
    import agikit
    import agikit.errors
    import agikit.protocol.environment
    import agikit.protocol.quoting
    import agikit.protocol.replies
    import agikit.protocol.session
    import agikit.results
    import agikit.transports.stdio
    from agikit import _outcomes, _protocol, _stdio

    for module, code in (
        (agikit.errors, _outcomes),
        (agikit.results, _outcomes),
        (agikit.transports.stdio, _stdio),
        (agikit.protocol.environment, _protocol),
        (agikit.protocol.quoting, _protocol),
        (agikit.protocol.replies, _protocol),
        (agikit.protocol.session, _protocol),
    ):
        for name in module.__all__:
            value = getattr(module, name)
            assert value is getattr(code, name), name
            if callable(value):  # not the constants, nor the Event union
                assert value.__module__ == module.__name__, name
    assert agikit.run is agikit.transports.stdio.run
    assert agikit.Hangup is agikit.errors.Hangup
