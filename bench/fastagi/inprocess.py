"""The FastAGI servers' Python cost per call, in one process, without sockets.

    python bench/fastagi/inprocess.py [--loop asyncio|uvloop] [--impl NAME ...] [--commands N]
    python bench/fastagi/inprocess.py --opcodes          # bytecodes run per call, by function

Each server's protocol object gets a fake transport: a command line written to it is answered
with the call script's reply on the next loop iteration (``call_soon``), and closing it ends the
call the same way. 50 calls run at a time, and a new one starts as each ends. Every round runs
every server in turn, and the result is the median of the rounds, with the ratio to the first
server (the baseline by default).

What this leaves out is everything the kernel and the event loop's I/O do, which is the same
for every server; what it measures is the Python work of the server itself. That is a fraction
of what ``run.py`` reports per call (about a third here), but the ratio between servers comes
out close to the one ``run.py`` measures at ``c50``, in seconds rather than minutes. It is a
quick check of a change, not a substitute for ``run.py``.

``--agikit-src DIR`` measures agikit from another ``src/`` directory. ``--commands N`` replaces
the 7-command call with N ``VERBOSE`` commands (0 gives the fixed cost per call).
``--opcodes`` counts the bytecodes each function runs per call (with ``sys.settrace``), which
does not depend on the machine's noise.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, call_script, environment

CONCURRENCY = 50


class FakeTransport:
    """Answers each command line with its canned reply on the next loop iteration."""

    __slots__ = ("closing", "ended", "loop", "protocol", "replies")

    def __init__(
        self,
        protocol: Any,
        loop: asyncio.AbstractEventLoop,
        replies: dict[bytes, bytes],
        ended: Callable[[], None],
    ) -> None:
        self.protocol = protocol
        self.loop = loop
        self.replies = replies
        self.ended = ended
        self.closing = False

    def write(self, data: bytes) -> None:
        self.loop.call_soon(self.protocol.data_received, self.replies[data])

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        if not self.closing:
            self.closing = True
            self.loop.call_soon(self._lost)

    abort = close

    def _lost(self) -> None:
        self.protocol.connection_lost(None)
        self.ended()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default


async def run_calls(factory: Callable[[], Any], calls: int, block: bytes, replies: Any) -> None:
    """``calls`` calls through protocols made by ``factory``, CONCURRENCY at a time."""
    loop = asyncio.get_running_loop()
    finished = loop.create_future()
    left = calls
    active = 0

    def start() -> None:
        nonlocal left, active
        left -= 1
        active += 1
        protocol = factory()
        protocol.connection_made(FakeTransport(protocol, loop, replies, ended))
        loop.call_soon(protocol.data_received, block)

    def ended() -> None:
        nonlocal active
        active -= 1
        if left > 0:
            start()
        elif active == 0:
            finished.set_result(None)

    for _ in range(min(CONCURRENCY, calls)):
        start()
    await finished


def factories(loop: asyncio.AbstractEventLoop, commands: int | None) -> dict[str, Any]:
    """The servers of servers.py as protocol factories, on ``loop``."""
    import servers

    from agikit.transports.fastagi import FastAGIConnection, FastAGIServer

    agikit_handler = servers.agikit_handler
    baseline_handler = servers.baseline_handler
    if commands is not None:  # N VERBOSE commands instead of the call script

        async def agikit_verbose(call: Any) -> None:
            for _ in range(commands):
                await call.verbose("extra")

        async def baseline_verbose(connection: Any) -> None:
            try:
                for _ in range(commands):
                    await servers._ok(connection, b"VERBOSE extra\n")
            finally:
                connection.transport.close()

        agikit_handler, baseline_handler = agikit_verbose, baseline_verbose
    server = FastAGIServer(agikit_handler, port=0)
    server._loop = loop  # not started: the connections only need its loop and settings
    servers.baseline_handler = baseline_handler  # BaselineConnection looks it up by name
    return {
        "baseline": lambda: servers.BaselineConnection(loop),
        "agikit": lambda: FastAGIConnection(server),
        "direct": servers.DirectConnection,
    }


async def measure(impls: list[str], rounds: int, calls: int, commands: int | None) -> None:
    loop = asyncio.get_running_loop()
    made = factories(loop, commands)
    block, replies = script(commands)
    for impl in impls:  # warm up: the memos, the specialising interpreter
        await run_calls(made[impl], calls // 2, block, replies)
    results: dict[str, list[float]] = {impl: [] for impl in impls}
    for _ in range(rounds):
        for impl in impls:
            gc.collect()
            start = time.process_time_ns()
            await run_calls(made[impl], calls, block, replies)
            results[impl].append((time.process_time_ns() - start) / calls / 1000)
    first = statistics.median(results[impls[0]])
    for impl in impls:
        value = statistics.median(results[impl])
        print(f"{impl:10} {value:7.2f} us/call  {value / first:.3f}x {impls[0]}")


def script(commands: int | None) -> tuple[bytes, dict[bytes, bytes]]:
    steps = call_script() if commands is None else [("VERBOSE extra", "200 result=1\n")]
    return environment(), {f"{line}\n".encode(): reply.encode() for line, reply in steps}


async def count_opcodes(impl: str, commands: int | None) -> None:
    loop = asyncio.get_running_loop()
    made = factories(loop, commands)
    block, replies = script(commands)
    await run_calls(made[impl], 200, block, replies)
    counts: collections.Counter[str] = collections.Counter()
    here = Path(__file__).name

    def trace(frame: Any, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        code = frame.f_code
        if event == "opcode" and not code.co_filename.endswith(here):
            counts[f"{Path(code.co_filename).name}:{code.co_name}"] += 1
        return trace

    calls = 100
    sys.settrace(trace)
    try:
        await run_calls(made[impl], calls, block, replies)
    finally:
        sys.settrace(None)
    print(
        f"{impl}: {sum(counts.values()) / calls:.0f} bytecodes per call (not counting this script)"
    )
    for name, count in counts.most_common(25):
        print(f"  {count / calls:7.1f}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="uvloop")
    parser.add_argument("--impl", action="append", choices=("baseline", "agikit", "direct"))
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=4000, help="calls per server and round")
    parser.add_argument("--commands", type=int, help="N VERBOSE commands instead of the script")
    parser.add_argument("--agikit-src", help="import agikit from this src/ directory instead")
    parser.add_argument("--opcodes", action="store_true", help="count bytecodes per call")
    args = parser.parse_args()
    sys.path.insert(0, args.agikit_src or str(REPO / "src"))
    impls = args.impl or ["baseline", "agikit"]
    if args.commands is not None and "direct" in impls:
        parser.error("--commands works with baseline and agikit only")
    if "baseline" in impls:  # the first is what the ratios are to
        impls.remove("baseline")
        impls.insert(0, "baseline")
    loop_factory = None
    if args.loop == "uvloop":
        import uvloop

        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        if args.opcodes:
            for impl in impls:
                runner.run(count_opcodes(impl, args.commands))
        else:
            runner.run(measure(impls, args.rounds, args.calls, args.commands))


if __name__ == "__main__":
    main()
