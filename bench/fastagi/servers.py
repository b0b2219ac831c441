"""The FastAGI servers under test, one per process, all doing the same call (common.CALL_SCRIPT).

    python bench/fastagi/servers.py --impl {baseline,agikit,panoramisk} --loop {asyncio,uvloop}

Binds 127.0.0.1 (an ephemeral port unless ``--port``), prints ``READY <port>`` on stdout, and
serves until its standard input closes, SIGTERM/SIGINT, or ``--max-seconds`` pass (so it never
outlives the runner by much). ``--cprofile FILE`` runs it under cProfile and dumps the stats on
exit.

* ``baseline``: a minimal hand-written asyncio Protocol: the environment into a dict, one Future
  per command, a reply is "good" if it starts with ``200 ``. No limits, no logging, no hangup
  handling beyond skipping the HANGUP line: the floor any asyncio FastAGI server sits on.
* ``agikit``: ``agikit.FastAGIServer`` with an ``async def handler(call)`` using ``Call``'s
  methods (argument checking, typed results, errors), as a user writes it.
* ``panoramisk``: ``panoramisk.fast_agi.Application`` on ``asyncio.start_server``, a route
  whose endpoint sends the same lines with ``request.send_command`` and checks each result dict.

Every handler sends byte-identical command lines; ``agi_arg_1: N`` adds N ``VERBOSE extra``
commands before HANGUP (the runner uses it to split per-call from per-command cost).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, raise_nofile

BACKLOG = 4096  # the same listen backlog for all three (asyncio's default of 100 drops SYNs)


# --------------------------------------------------------------------------------------------
# (c) the hand-written baseline
# --------------------------------------------------------------------------------------------
class BaselineError(Exception):
    pass


class BaselineConnection(asyncio.Protocol):
    __slots__ = ("buffer", "env", "loop", "transport", "waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.buffer = b""
        self.env: dict[bytes, bytes] | None = None
        self.waiter: asyncio.Future[bytes] | None = None
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.buffer:
            data = self.buffer + data
            self.buffer = b""
        if self.env is None:
            end = data.find(b"\n\n")
            if end < 0:
                self.buffer = data
                return
            env = {}
            for line in data[:end].split(b"\n"):
                name, _, value = line.partition(b": ")
                env[name] = value
            self.env = env
            data = data[end + 2 :]
            self.loop.create_task(baseline_handler(self))
        start = 0
        end = data.find(b"\n")
        while end >= 0:
            line = data[start:end]
            if line != b"HANGUP":
                waiter = self.waiter
                self.waiter = None
                if waiter is not None and not waiter.done():
                    waiter.set_result(line)
            start = end + 1
            end = data.find(b"\n", start)
        if start < len(data):
            self.buffer = data[start:]

    def connection_lost(self, exc: Exception | None) -> None:
        waiter = self.waiter
        self.waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(BaselineError("connection lost"))

    def command(self, line: bytes) -> asyncio.Future[bytes]:
        waiter = self.waiter = self.loop.create_future()
        self.transport.write(line)
        return waiter


async def _ok(connection: BaselineConnection, line: bytes) -> bytes:
    reply = await connection.command(line)
    if not reply.startswith(b"200 "):
        raise BaselineError(f"{line!r}: {reply!r}")
    return reply


async def baseline_handler(connection: BaselineConnection) -> None:
    try:
        env = connection.env
        assert env is not None
        extra = int(env.get(b"agi_arg_1", b"0"))
        await _ok(connection, b"ANSWER\n")
        reply = await _ok(connection, b"GET VARIABLE CALLERID(num)\n")
        caller = reply[reply.find(b"(") + 1 : reply.rfind(b")")]
        await _ok(connection, b"SET VARIABLE SEEN " + caller + b"\n")
        await _ok(connection, b"STREAM FILE hello-world #\n")
        await _ok(connection, b"GET DATA enter-number 5000 4\n")
        await _ok(connection, b"VERBOSE done\n")
        for _ in range(extra):
            await _ok(connection, b"VERBOSE extra\n")
        await _ok(connection, b"HANGUP\n")
    except BaselineError:
        pass
    finally:
        connection.transport.close()


async def start_baseline(port: int) -> Any:
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: BaselineConnection(loop), "127.0.0.1", port, backlog=BACKLOG
    )


# --------------------------------------------------------------------------------------------
# (d, opt-in) the baseline without a Future and a Task step per command: data_received resumes
# the handler's coroutine itself (coro.send). Such a handler can await nothing but commands (no
# asyncio.sleep, no other I/O): an experiment that measures what a Future + loop iteration per
# command costs, not a design to copy as is.
# --------------------------------------------------------------------------------------------
class _Suspend:
    __slots__ = ()

    def __await__(self) -> Any:
        reply = yield self
        return reply


_SUSPEND = _Suspend()


class DirectConnection(asyncio.Protocol):
    __slots__ = ("buffer", "coro", "env", "transport")

    def __init__(self) -> None:
        self.buffer = b""
        self.env: dict[bytes, bytes] | None = None
        self.coro: Any = None
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.buffer:
            data = self.buffer + data
            self.buffer = b""
        if self.env is None:
            end = data.find(b"\n\n")
            if end < 0:
                self.buffer = data
                return
            env = {}
            for line in data[:end].split(b"\n"):
                name, _, value = line.partition(b": ")
                env[name] = value
            self.env = env
            data = data[end + 2 :]
            self.coro = direct_handler(self)
            self._resume(None)
        start = 0
        end = data.find(b"\n")
        while end >= 0:
            line = data[start:end]
            if line != b"HANGUP":
                self._resume(line)
            start = end + 1
            end = data.find(b"\n", start)
        if start < len(data):
            self.buffer = data[start:]

    def _resume(self, value: bytes | None) -> None:
        coro = self.coro
        if coro is None:
            return
        try:
            coro.send(value)
        except StopIteration:
            self.coro = None
            self.transport.close()
        except BaselineError:
            self.coro = None
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.coro is not None:
            self.coro.close()
            self.coro = None

    def command(self, line: bytes) -> _Suspend:
        self.transport.write(line)
        return _SUSPEND


async def _direct_ok(connection: DirectConnection, line: bytes) -> bytes:
    reply: bytes = await connection.command(line)
    if not reply.startswith(b"200 "):
        raise BaselineError(f"{line!r}: {reply!r}")
    return reply


async def direct_handler(connection: DirectConnection) -> None:
    env = connection.env
    assert env is not None
    extra = int(env.get(b"agi_arg_1", b"0"))
    await _direct_ok(connection, b"ANSWER\n")
    reply = await _direct_ok(connection, b"GET VARIABLE CALLERID(num)\n")
    caller = reply[reply.find(b"(") + 1 : reply.rfind(b")")]
    await _direct_ok(connection, b"SET VARIABLE SEEN " + caller + b"\n")
    await _direct_ok(connection, b"STREAM FILE hello-world #\n")
    await _direct_ok(connection, b"GET DATA enter-number 5000 4\n")
    await _direct_ok(connection, b"VERBOSE done\n")
    for _ in range(extra):
        await _direct_ok(connection, b"VERBOSE extra\n")
    await _direct_ok(connection, b"HANGUP\n")


async def start_direct(port: int) -> Any:
    loop = asyncio.get_running_loop()
    return await loop.create_server(DirectConnection, "127.0.0.1", port, backlog=BACKLOG)


# --------------------------------------------------------------------------------------------
# (a) agikit
# --------------------------------------------------------------------------------------------
async def agikit_handler(call: Any) -> None:
    await call.answer()
    caller = await call.get_variable("CALLERID(num)")
    await call.set_variable("SEEN", caller or "")
    await call.stream_file("hello-world", escape_digits="#")
    await call.get_data("enter-number", timeout=5, max_digits=4)
    await call.verbose("done")
    args = call.env.args
    for _ in range(int(args[0]) if args else 0):
        await call.verbose("extra")
    await call.hangup()


async def start_agikit(port: int) -> Any:
    from agikit.transports.fastagi import FastAGIServer

    server = FastAGIServer(agikit_handler, host="127.0.0.1", port=port, backlog=BACKLOG)
    await server.start()
    return server


# --------------------------------------------------------------------------------------------
# (b) panoramisk
# --------------------------------------------------------------------------------------------
class PanoramiskError(Exception):
    pass


async def _send(request: Any, line: str) -> dict[str, Any]:
    result: dict[str, Any] = await request.send_command(line)
    if "error" in result or result.get("status_code") != 200:
        raise PanoramiskError(f"{line}: {result}")
    return result


async def panoramisk_handler(request: Any) -> None:
    extra = int(request.headers.get("agi_arg_1", "0"))
    await _send(request, "ANSWER")
    result = await _send(request, "GET VARIABLE CALLERID(num)")
    caller = result["result"][1]
    await _send(request, f"SET VARIABLE SEEN {caller}")
    await _send(request, "STREAM FILE hello-world #")
    await _send(request, "GET DATA enter-number 5000 4")
    await _send(request, "VERBOSE done")
    for _ in range(extra):
        await _send(request, "VERBOSE extra")
    await _send(request, "HANGUP")


async def start_panoramisk(port: int) -> Any:
    from panoramisk.fast_agi import Application

    app = Application()
    app.add_route("bench", panoramisk_handler)
    return await asyncio.start_server(app.handler, "127.0.0.1", port, backlog=BACKLOG)


STARTERS = {
    "baseline": start_baseline,
    "agikit": start_agikit,
    "panoramisk": start_panoramisk,
    "direct": start_direct,
}


def bound_port(server: Any) -> int:
    sockets = server.sockets
    return int(sockets[0].getsockname()[1])


TRACEMALLOC_OUTPUT: str | None = None
_snapshots: list[Any] = []


def tracemalloc_step() -> None:
    """SIGUSR2 with --tracemalloc: the first takes a snapshot, the second writes what was
    allocated since then (by line, then by traceback for the largest), and starts over."""
    import gc
    import tracemalloc

    gc.collect()
    _snapshots.append(tracemalloc.take_snapshot())
    if len(_snapshots) < 2:
        return
    before, after = _snapshots[-2], _snapshots[-1]
    _snapshots.clear()
    assert TRACEMALLOC_OUTPUT is not None
    with open(TRACEMALLOC_OUTPUT, "w") as out:
        lines = after.compare_to(before, "lineno")
        total = sum(stat.size_diff for stat in lines)
        out.write(f"total allocated since the first snapshot: {total} bytes\n")
        for stat in lines[:40]:
            out.write(f"{stat.size_diff:>12} B {stat.count_diff:>8} blocks  {stat.traceback}\n")
        out.write("\nby traceback:\n")
        for stat in after.compare_to(before, "traceback")[:15]:
            out.write(f"{stat.size_diff:>12} B {stat.count_diff:>8} blocks\n")
            for frame in stat.traceback.format()[-12:]:
                out.write(f"      {frame}\n")


async def serve(impl: str, port: int, max_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    def stdin_readable() -> None:
        try:
            data = os.read(0, 4096)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(0)
            stop.set()

    loop.add_reader(0, stdin_readable)
    if TRACEMALLOC_OUTPUT:
        loop.add_signal_handler(signal.SIGUSR2, tracemalloc_step)
    server = await STARTERS[impl](port)
    print(f"READY {bound_port(server)}", flush=True)
    try:
        await asyncio.wait_for(stop.wait(), max_seconds)
    except TimeoutError:
        print(f"servers.py {impl}: --max-seconds passed, exiting", file=sys.stderr)
    if impl == "agikit":
        await server.shutdown(grace=0.5)
    else:
        server.close()


def _uvloop_assert_present(src: Path) -> bool:
    source = src / "agikit" / "transports" / "fastagi.py"
    try:
        text = source.read_text(encoding="utf-8")
    except OSError:
        return False
    return "assert isinstance(transport, asyncio.Transport)" in text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", choices=sorted(STARTERS), required=True)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    parser.add_argument("--nofile", type=int, default=20_000, help="RLIMIT_NOFILE to ask for")
    parser.add_argument("--agikit-src", help="import agikit from this src/ directory instead")
    parser.add_argument("--cprofile", metavar="FILE", help="run under cProfile, dump stats here")
    parser.add_argument(
        "--tracemalloc", metavar="FILE", help="trace allocations; SIGUSR2 twice writes the diff"
    )
    args = parser.parse_args()
    src = Path(args.agikit_src) if args.agikit_src else REPO / "src"
    if (
        args.impl == "agikit"
        and args.loop == "uvloop"
        and not sys.flags.optimize
        and _uvloop_assert_present(src)
    ):
        # uvloop's transports do not subclass asyncio.Transport, so this assert in
        # FastAGIConnection.connection_made (agikit 4e5e57b and before) rejects every call under
        # uvloop. There, run agikit under uvloop with -O (asserts off); nothing else changes.
        print(
            "servers.py: agikit's fastagi.py asserts isinstance(transport, "
            "asyncio.Transport), which fails for uvloop transports; re-running with -O",
            file=sys.stderr,
        )
        os.execv(sys.executable, [sys.executable, "-O", *sys.argv])
    # agikit from this work tree (also when not installed), or from --agikit-src
    sys.path.insert(0, args.agikit_src or str(REPO / "src"))
    raise_nofile(args.nofile)
    loop_factory = None
    if args.loop == "uvloop":
        import uvloop

        loop_factory = uvloop.new_event_loop
    if args.tracemalloc:
        import tracemalloc

        global TRACEMALLOC_OUTPUT
        TRACEMALLOC_OUTPUT = args.tracemalloc
        tracemalloc.start(12)
    profiler = None
    if args.cprofile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(serve(args.impl, args.port, args.max_seconds))
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.cprofile)


if __name__ == "__main__":
    main()
