"""What the fake Asterisk (``loadgen.py``) and the servers (``servers.py``) agree on: the AGI
environment block, the call script (each command line and its canned reply), and a few helpers.

The default call is the 7 commands of ``bench/process_agi_cost.py``: answer, get variable, set
variable, stream file, get data, verbose, hangup. Every server under test sends exactly the
``line`` of each step (the load generator checks it); ``extra`` more ``VERBOSE`` steps, asked
for through ``agi_arg_1``, let the runner separate the per-command cost from the per-call one.
"""

from __future__ import annotations

import json
import os
import resource
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

#: The environment block Asterisk 22 sends for ``AGI(agi://127.0.0.1/bench,N)``. ``{args}``
#: becomes ``agi_arg_1: N`` when extra commands are asked for.
ENVIRONMENT_TEMPLATE = (
    "agi_network: yes\nagi_network_script: bench\nagi_request: agi://127.0.0.1/bench\n"
    "agi_channel: PJSIP/alice-00000001\nagi_language: en\nagi_type: PJSIP\n"
    "agi_uniqueid: 1700000000.1\nagi_version: 22.10.1\nagi_callerid: 1001\n"
    "agi_calleridname: Alice\nagi_callingpres: 0\nagi_callingani2: 0\nagi_callington: 0\n"
    "agi_callingtns: 0\nagi_dnid: 600\nagi_rdnis: unknown\nagi_context: default\n"
    "agi_extension: 600\nagi_priority: 1\nagi_enhanced: 0.0\nagi_accountcode: \n"
    "agi_threadid: 140000000000000\n{args}\n"
)

#: (line the server must send, canned reply). The handlers in servers.py send these lines.
CALL_SCRIPT: list[tuple[str, str]] = [
    ("ANSWER", "200 result=0\n"),
    ("GET VARIABLE CALLERID(num)", "200 result=1 (1001)\n"),
    ("SET VARIABLE SEEN 1001", "200 result=1\n"),
    ("STREAM FILE hello-world #", "200 result=0 endpos=3520\n"),
    ("GET DATA enter-number 5000 4", "200 result=1234\n"),
    ("VERBOSE done", "200 result=1\n"),
    ("HANGUP", "200 result=1\n"),
]
EXTRA_STEP = ("VERBOSE extra", "200 result=1\n")
#: Index of STREAM FILE in CALL_SCRIPT: where a held call waits (as during a long prompt).
HOLD_STEP = 3


def environment(extra: int = 0) -> bytes:
    args = f"agi_arg_1: {extra}\n" if extra else ""
    return ENVIRONMENT_TEMPLATE.format(args=args).encode()


def call_script(extra: int = 0) -> list[tuple[str, str]]:
    """The call's steps; ``extra`` VERBOSE steps go after ``VERBOSE done``, before HANGUP."""
    return [*CALL_SCRIPT[:-1], *[EXTRA_STEP] * extra, CALL_SCRIPT[-1]]


def load_script(path: str | None, extra: int = 0) -> list[tuple[str, str]]:
    """A call script from a JSON file (``[["LINE", "reply\\n"], ...]``), or the default one."""
    if path is None:
        return call_script(extra)
    with open(path, encoding="utf-8") as handle:
        return [(str(line), str(reply)) for line, reply in json.load(handle)]


def raise_nofile(wanted: int) -> int:
    """Raise RLIMIT_NOFILE's soft limit towards ``wanted`` (up to the hard limit); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def cpu_ns(pid: int) -> int:
    """CPU time (user + system) of a process, in ns: /proc/PID/schedstat (ns resolution), else
    /proc/PID/stat (clock ticks)."""
    try:
        with open(f"/proc/{pid}/schedstat") as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return sum(cpu_ticks(pid)) * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid: int) -> tuple[int, int]:
    """(user, system) CPU clock ticks of a process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (VmRSS), in bytes."""
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")
