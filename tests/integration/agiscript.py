"""Run an agikit handler as a real process-AGI (or EAGI) script inside the harness Asterisk.

The handler's source is written to agi-bin with a preamble that gives it ``record(key, value)``:
values are JSON-encoded into a results file on the host, which the test reads after the call.
"""

from __future__ import annotations

import json
import textwrap
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agikit.testing.asterisk import Asterisk, CallResult

_PREAMBLE = """\
#!/usr/bin/env python3
import atexit, json, os, sys
sys.path.insert(0, "/agikit/src")
import agikit
from agikit import *

_RESULTS = {results_path!r}
_recorded = {{}}

def record(key, value):
    _recorded[key] = value
    with open(_RESULTS + ".tmp", "w") as out:
        json.dump(_recorded, out, default=repr)
    os.replace(_RESULTS + ".tmp", _RESULTS)  # never a half-written file

atexit.register(lambda: open(_RESULTS + ".done", "w").close())

"""


@dataclass
class ScriptRun:
    call: CallResult
    recorded: dict[str, Any]


def run_script(
    asterisk: Asterisk,
    agi_script: Callable[[str, str], str],
    body: str,
    *,
    eagi: bool = False,
    args: Sequence[str] = (),
    far_end: Iterable[str] = (),
    variables: Mapping[str, str] | None = None,
    report: Iterable[str] = (),
    timeout: float = 30.0,
) -> ScriptRun:
    """Write ``body`` (which must end by calling ``agikit.run(...)``) as a script and call it."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    results_dir = asterisk.agi_bin / "results"
    results_dir.mkdir(exist_ok=True)
    host_results = results_dir / f"{name}.json"
    chroot_results = f"/agikit/agi-bin/results/{name}.json"
    source = _PREAMBLE.format(results_path=chroot_results) + textwrap.dedent(body)
    script = agi_script(f"{name}.py", source)
    originate = asterisk.originate_eagi if eagi else asterisk.originate_process_agi
    call = originate(script, args=args, far_end=far_end, variables=variables or {}, report=report)
    result = call.wait(timeout)
    # The call can end before the script does (AGIEXITONHANGUP): wait for it to exit.
    done = host_results.with_name(host_results.name + ".done")
    deadline = time.monotonic() + 10
    while not done.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    recorded = json.loads(host_results.read_text()) if host_results.exists() else {}
    return ScriptRun(result, recorded)


def script_path(asterisk: Asterisk, name: str) -> Path:
    return asterisk.agi_bin / name
