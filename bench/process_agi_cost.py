"""Per-call cost of a process-AGI script written with agikit, against the standard library alone.

Both scripts run the same 7 commands (answer, get variable, set variable, stream file, get data,
verbose, hangup). Each is spawned per call, as Asterisk does, against a fake Asterisk that writes
the environment block and answers each command line with a canned reply. Runs alternate between
the two scripts so that machine noise hits both alike; the report is the ratio of medians.

    python bench/process_agi_cost.py [--calls 200]

Results (ratio agikit/stdlib, wall median; Python 3.11, 2 shared CPUs, so about +-0.01 between
runs; the target is 1.15x):

- 1.20x before the garbage-collector pause below (lazy command parameters and documentation,
  split Call/SyncCall, lazy package ``__init__``s, ``gc.freeze()`` in ``run()`` already done).
- 1.18-1.19x (CPU 1.19x) with: no collection during agikit's lazy imports (``agikit.__getattr__``
  pauses the collector: the two or three collections they set off walked only long-lived
  objects, about 0.2 ms a call), the session's one-line reply fast path in the stdio transport
  (one call instead of the event machinery per reply) and a lighter first use of each command.
- 1.16x (CPU 1.17x; the previous tree measured 1.18-1.19x in the same runs) with ten modules
  on the blocking path instead of twelve: the protocol core (quoting, replies, the session) is
  one private module (then ``agikit.protocol._core``), which the public modules re-export (about
  0.1 ms); the loop-free driver of ``async def`` handlers is a module of its own, loaded only
  for them; the command table gives its parameters as rows of data instead of 47 lambdas, and
  ``find_command``/``raw_request`` moved to a module loaded on first use (together about
  0.1 ms).
- 1.15x (1.148-1.156x, CPU 1.15x; the previous tree measured 1.162-1.168x in the same runs)
  with eight modules on the blocking path: the errors and the results are one private module,
  ``agikit._outcomes``, which ``agikit.errors`` and ``agikit.results`` re-export (their
  documentation pages render the same); ``agikit.run`` comes from ``agikit._stdio``, which
  ``agikit.transports.stdio`` re-exports, so the ``agikit.transports`` package is not loaded.
  Each of the two steps gained about the same (1.16x with the first alone).
- 1.13x (1.125-1.133x, CPU 1.14x; the previous tree measured 1.149-1.155x in the same runs)
  with six modules on the blocking path: the protocol core and the environment block are one
  private module, ``agikit._protocol``, which ``agikit.protocol.environment``, ``.quoting``,
  ``.replies`` and ``.session`` re-export, so neither the ``agikit.protocol`` package nor its
  modules are loaded (about 0.25 ms).

Where the rest goes (``python -X importtime``, per-module timing in fresh processes; the stdlib
script takes about 11 ms here; measured with 10 modules, two steps ago): agikit's modules
take about 2.4 ms to import and the 7 commands about 0.3 ms (about half of it the round trips
the stdlib script pays too), while closing the protocol pipe early and ``gc.freeze()`` win back
about 0.9 ms at exit. Each module costs about 55 us of import machinery (find, stat, read,
module set-up: four empty modules measured 0.2 ms), then unmarshalling (``commands`` about 0.26
ms, ``_sync_call`` about 0.1 ms: the volume of bytecode counts, not the number of functions: the
47 lambdas cost only 25 us) and class creation (10-15 us per class, even warm; about 38 classes
on the path, the exception classes the dearest).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

ENVIRONMENT = (
    b"agi_request: bench.py\nagi_channel: PJSIP/alice-00000001\nagi_language: en\n"
    b"agi_type: PJSIP\nagi_uniqueid: 1700000000.1\nagi_version: 22.10.1\n"
    b"agi_callerid: 1001\nagi_calleridname: Alice\nagi_callingpres: 0\nagi_callingani2: 0\n"
    b"agi_callington: 0\nagi_callingtns: 0\nagi_dnid: 600\nagi_rdnis: unknown\n"
    b"agi_context: default\nagi_extension: 600\nagi_priority: 1\nagi_enhanced: 0.0\n"
    b"agi_accountcode: \nagi_threadid: 140000000000000\n\n"
)
REPLIES = {
    b"ANSWER": b"200 result=0\n",
    b"GET": b"200 result=1 (1001)\n",
    b"SET": b"200 result=1\n",
    b"STREAM": b"200 result=0 endpos=3520\n",
    b"GET DATA": b"200 result=1234\n",
    b"VERBOSE": b"200 result=1\n",
    b"HANGUP": b"200 result=1\n",
}

AGIKIT_SCRIPT = """\
import agikit

def main(call):
    call.answer()
    caller = call.get_variable("CALLERID(num)")
    call.set_variable("SEEN", caller or "")
    call.stream_file("hello-world", escape_digits="#")
    call.get_data("enter-number", timeout=5, max_digits=4)
    call.verbose("done")
    call.hangup()

agikit.run(main)
"""

STDLIB_SCRIPT = """\
import sys

def command(line):
    sys.stdout.write(line + "\\n")
    sys.stdout.flush()
    reply = sys.stdin.readline()
    if not reply.startswith("200 "):
        sys.exit(1)
    return reply

while sys.stdin.readline() not in ("\\n", ""):
    pass
command("ANSWER")
reply = command("GET VARIABLE CALLERID(num)")
caller = reply[reply.find("(") + 1 : reply.rfind(")")]
command('SET VARIABLE SEEN "%s"' % caller)
command('STREAM FILE hello-world "#"')
command("GET DATA enter-number 5000 4")
command("VERBOSE done")
command("HANGUP")
"""


# As deployed: byte-compiled modules are cached (some shells disable that), and agikit is
# importable (here from the source tree).
CHILD_ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    "PYTHONPATH": str(REPO / "src"),
}


def _reply_for(line: bytes) -> bytes:
    if line.startswith(b"GET DATA"):
        return REPLIES[b"GET DATA"]
    return REPLIES[line.split(b" ", 1)[0]]


def one_call(script: Path) -> tuple[float, float]:
    """Spawn the script, play Asterisk, wait for it; returns (wall seconds, child CPU seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, str(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=CHILD_ENV,
    )
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(ENVIRONMENT)
    child.stdin.flush()
    commands = 0
    while line := child.stdout.readline():
        child.stdin.write(_reply_for(line.rstrip(b"\n")))
        child.stdin.flush()
        commands += 1
    child.stdin.close()
    status = child.wait()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if status != 0 or commands != 7:
        raise SystemExit(f"{script.name}: exit {status} after {commands} commands")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per script")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scripts = {
            "stdlib": Path(scratch, "stdlib_agi.py"),
            "agikit": Path(scratch, "agikit_agi.py"),
        }
        scripts["stdlib"].write_text(STDLIB_SCRIPT)
        scripts["agikit"].write_text(AGIKIT_SCRIPT)
        for script in scripts.values():  # warm up: byte-compile, fill the page cache
            for _ in range(5):
                one_call(script)
        walls: dict[str, list[float]] = {name: [] for name in scripts}
        cpus: dict[str, list[float]] = {name: [] for name in scripts}
        for _ in range(args.calls):
            for name, script in scripts.items():
                wall, cpu = one_call(script)
                walls[name].append(wall)
                cpus[name].append(cpu)
    print(f"process AGI, 7 commands, {args.calls} calls each, Python {sys.version.split()[0]}")
    for name in scripts:
        print(
            f"  {name:7} wall median {statistics.median(walls[name]) * 1000:6.2f} ms"
            f"   child CPU mean {statistics.mean(cpus[name]) * 1000:6.2f} ms"
        )
    wall_ratio = statistics.median(walls["agikit"]) / statistics.median(walls["stdlib"])
    cpu_ratio = statistics.mean(cpus["agikit"]) / statistics.mean(cpus["stdlib"])
    print(f"  ratio agikit/stdlib: wall {wall_ratio:.3f}x, CPU {cpu_ratio:.3f}x (target <= 1.15x)")


if __name__ == "__main__":
    main()
