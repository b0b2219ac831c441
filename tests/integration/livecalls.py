"""Run agikit handlers as real process-AGI calls, several at once, with typed results back.

Each scenario's body is written to agi-bin as a script that ends with ``agikit.run(main)``. The
script reports with ``record(key, value)`` or ``attempt(key, method, *args)``: values (agikit's
result objects, ``ChannelState``, exceptions with their command and reply) are pickled into a JSON
file on the host, so a test sees the very objects the handler got, e.g. a ``PlaybackResult`` or a
``CommandFailed`` whose ``reply.raw_text`` is Asterisk's line. A scenario may also run a second
agikit script on the far end (the ``;1`` half of the Local channel) with ``FarEnd.agi``.

The calls of all scenarios are placed at once and run side by side, so a file of many calls takes
about as long as its longest call.
"""

from __future__ import annotations

import base64
import contextlib
import json
import pickle
import textwrap
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agikit.testing.asterisk import Asterisk, Call, CallResult, FarEnd

#: In a scenario's ``far_end``, stands for the step that runs its ``far_body`` script.
FAR_AGI = "<far-agi>"
#: Where the scripts' results and recordings go, as the chroot sees the host's agi-bin/results.
CHROOT_RESULTS = "/agikit/agi-bin/results"

_PREAMBLE = """\
#!/usr/bin/env python3
import atexit, base64, json, os, pickle, sys, time
sys.path.insert(0, "/agikit/src")
import agikit
from agikit import *
from agikit.errors import AGIError

_RESULTS = {results_path!r}
_recorded = {{}}


def _save():
    with open(_RESULTS + ".tmp", "w") as out:
        json.dump(_recorded, out)
    os.replace(_RESULTS + ".tmp", _RESULTS)


def record(key, value):
    # The object itself (pickled with protocol 4, which every Python 3.8+ reads) and its repr.
    _recorded[key] = {{
        "repr": repr(value),
        "pickle": base64.b64encode(pickle.dumps(value, protocol=4)).decode(),
    }}
    _save()
    return value


def attempt(key, method, *args, **kwargs):
    # Run one command; record its result, or the agikit error it raised.
    try:
        value = method(*args, **kwargs)
    except AGIError as error:
        return record(key, error)
    return record(key, value)


async def attempt_async(key, method, *args, **kwargs):
    try:
        value = await method(*args, **kwargs)
    except AGIError as error:
        return record(key, error)
    return record(key, value)


@atexit.register
def _finished():
    _recorded["__exit__"] = {{"repr": "True", "pickle": None}}
    _save()

"""


def script_source(results_path: str, body: str) -> str:
    return _PREAMBLE.format(results_path=results_path) + textwrap.dedent(body) + "\n"


@dataclass
class Scenario:
    """One call: ``body`` defines ``main(call)`` (sync or async) and calls ``agikit.run(main)``."""

    name: str
    body: str
    far_end: Sequence[str] = ()
    far_body: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    report: Iterable[str] = ()
    #: Module-level names for both scripts: ``{"FAMILY": "x"}`` becomes ``FAMILY = 'x'``.
    constants: Mapping[str, object] = field(default_factory=dict)
    timeout: float = 40.0

    def source(self, results_path: str, body: str) -> str:
        names = "".join(f"{name} = {value!r}\n" for name, value in self.constants.items())
        return script_source(results_path, names + textwrap.dedent(body))


@dataclass
class LiveRun:
    """How a scenario's call ended, and what its script (and far-end script) recorded."""

    call: CallResult
    recorded: dict[str, Any]
    far: dict[str, Any]
    raw: dict[str, str]

    def __getitem__(self, key: str) -> Any:
        if key not in self.recorded:
            raise KeyError(
                f"the script recorded no {key!r}; it recorded {sorted(self.recorded)}; the "
                f"call's log:\n{self.call.log_text()}"
            )
        return self.recorded[key]


def _decode(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    data = json.loads(text)
    decoded: dict[str, Any] = {}
    for key, entry in data.items():
        blob = entry["pickle"]
        decoded[key] = True if blob is None else pickle.loads(base64.b64decode(blob))
    return decoded


def _read_when_finished(path: Path, deadline: float) -> str | None:
    """The results file once the script has exited (its atexit marker), or what is there."""
    text = None
    while True:
        try:
            text = path.read_text()
        except FileNotFoundError:
            text = None
        if text is not None and '"__exit__"' in text:
            return text
        if time.monotonic() > deadline:
            return text
        time.sleep(0.05)


class Pending:
    """A scenario's call in progress; :meth:`result` waits for it (once) and decodes."""

    def __init__(self, asterisk: Asterisk, scenario: Scenario) -> None:
        self.scenario = scenario
        self.written: list[Path] = []
        results = asterisk.agi_bin / "results"
        results.mkdir(exist_ok=True)
        tag = f"{scenario.name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        self.results = results / f"{tag}.json"
        self.far_results = results / f"{tag}_far.json"
        far_end = list(scenario.far_end)
        if scenario.far_body is not None:
            far_name = self._write(
                asterisk,
                f"{tag}_far.py",
                scenario.source(f"{CHROOT_RESULTS}/{self.far_results.name}", scenario.far_body),
            )
            far_end = [FarEnd.agi(far_name) if step == FAR_AGI else step for step in far_end]
        name = self._write(
            asterisk,
            f"{tag}.py",
            scenario.source(f"{CHROOT_RESULTS}/{self.results.name}", scenario.body),
        )
        self.call: Call = asterisk.originate_process_agi(
            name,
            far_end=far_end,
            variables=scenario.variables,
            report=scenario.report,
        )
        self._run: LiveRun | None = None

    def _write(self, asterisk: Asterisk, name: str, source: str) -> str:
        path = asterisk.agi_bin / name
        path.write_text(source)
        path.chmod(0o755)
        self.written.append(path)
        return name

    def result(self) -> LiveRun:
        if self._run is None:
            call = self.call.wait(self.scenario.timeout)
            deadline = time.monotonic() + 10
            text = _read_when_finished(self.results, deadline)
            far_text = None
            if self.scenario.far_body is not None:
                far_text = _read_when_finished(self.far_results, deadline)
            self._run = LiveRun(
                call=call,
                recorded=_decode(text),
                far=_decode(far_text),
                raw={"near": text or "", "far": far_text or ""},
            )
        return self._run

    def cleanup(self) -> None:
        for path in self.written:
            path.unlink(missing_ok=True)


class LiveCalls:
    """Places every scenario's call at the first request, then hands out their results."""

    def __init__(self, asterisk: Asterisk, scenarios: Iterable[Scenario]) -> None:
        self.asterisk = asterisk
        self.scenarios = {scenario.name: scenario for scenario in scenarios}
        self.pending: dict[str, Pending] = {}

    def start_all(self) -> None:
        for name, scenario in self.scenarios.items():
            if name not in self.pending:
                self.pending[name] = Pending(self.asterisk, scenario)

    def __getitem__(self, name: str) -> LiveRun:
        self.start_all()
        return self.pending[name].result()

    def close(self) -> None:
        for pending in self.pending.values():
            with contextlib.suppress(Exception):  # cleanup goes on whatever happened
                pending.result()  # let every call end before its script goes away
            pending.cleanup()
