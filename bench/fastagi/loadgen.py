"""The load generator: plays Asterisk against a FastAGI server over loopback TCP.

Each call is one connection: write the environment block, then answer each command line with the
step's canned reply (after the step's delay, if any), checking that the line is exactly the one
the call script expects; after the last reply, wait for the server to close. Any other line, a
reset or a timeout counts as an error. It always runs on uvloop when uvloop is installed (its own
cost must stay well below the server's), and keeps its per-command work to one callback, one
``bytes`` comparison, one clock read and one write.

Two ways to use it:

* standalone: ``python bench/fastagi/loadgen.py --port 4573 --concurrency 50 --duration 5``
  prints one JSON result;
* as a worker of ``run.py`` (``--worker``): reads one JSON operation per line on stdin, writes
  one JSON result per line on stdout. ``{"op": "run", ...}`` keeps ``concurrency`` calls going
  for ``duration`` seconds (or ``max_calls`` calls), or with ``rate`` starts that many calls a
  second (open loop, ``concurrency`` at most open at once); ``{"op": "hold", ...}`` opens
  ``sessions`` calls and holds each at the reply to step ``hold_step`` (a reply delay that
  ends when the worker gets SIGUSR1 or ``max_hold`` seconds pass), reporting
  ``{"event": "held"}`` once they all wait there, then lets them finish.

Every loop is bounded: by the duration or call count, and by ``drain`` seconds after it, when
whatever is still open is aborted and counted as an error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import environment, load_script, raise_nofile

perf_ns = time.perf_counter_ns
MAX_SAMPLES = 4_000_000  # latency samples kept per operation (32 MB at most)


def bucket_us(ns: int) -> int:
    """Latency histogram bucket (µs, lower bound): 1 µs steps below 1 ms, then 1% or finer."""
    us = ns // 1000
    if us < 1000:
        return us
    if us < 10_000:
        return us - us % 10
    if us < 100_000:
        return us - us % 100
    return us - us % 1000


def histogram(samples: array) -> dict[str, int]:
    return {str(k): v for k, v in sorted(Counter(map(bucket_us, samples)).items())}


class Run:
    """What the connections of one operation share: the script and the counters."""

    def __init__(self, script: list[tuple[str, str]], env: bytes, delays: list[float]) -> None:
        self.lines = [line.encode() for line, _ in script]
        self.replies = [reply.encode() for _, reply in script]
        self.delays = delays  # seconds before each step's reply (0: at once)
        self.steps = len(script)
        self.env = env
        self.completed = 0
        self.commands = 0
        self.errors = 0
        self.error_samples: list[str] = []
        self.rtt = array("q")  # command k arrived -> command k+1 arrived (ns)
        self.first = array("q")  # environment written -> first command arrived (ns)
        self.record = True
        self.open: set[FakeAsterisk] = set()
        # hold mode
        self.hold_step = -1
        self.held: list[FakeAsterisk] = []
        self.released = False

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(text)


class FakeAsterisk(asyncio.Protocol):
    """One call, as Asterisk's side of a FastAGI connection."""

    __slots__ = ("buffer", "done", "failed", "last", "loop", "reached", "run", "step", "transport")

    def __init__(self, run: Run, loop: asyncio.AbstractEventLoop) -> None:
        self.run = run
        self.loop = loop
        self.step = 0
        self.buffer = b""
        self.last = 0
        self.failed = False
        self.transport: Any = None
        self.done: asyncio.Future[None] = loop.create_future()
        self.reached: asyncio.Future[None] | None = None  # hold mode: at the held step

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.run.open.add(self)
        transport.write(self.run.env)
        self.last = perf_ns()

    def data_received(self, data: bytes) -> None:
        now = perf_ns()
        if self.buffer:
            data = self.buffer + data
            self.buffer = b""
        run = self.run
        start = 0
        end = data.find(b"\n")
        while end >= 0:
            line = data[start:end]
            start = end + 1
            step = self.step
            if step >= run.steps or line != run.lines[step]:
                expected = run.lines[step] if step < run.steps else b"(end of call)"
                self._fail(f"step {step}: got {line[:80]!r}, expected {expected!r}")
                return
            if run.record and len(run.rtt) < MAX_SAMPLES:
                (run.first if step == 0 else run.rtt).append(now - self.last)
            self.last = now
            self.step = step + 1
            run.commands += 1
            if step == run.hold_step and not run.released:
                run.held.append(self)
                if self.reached is not None and not self.reached.done():
                    self.reached.set_result(None)
            elif run.delays[step]:
                self.loop.call_later(run.delays[step], self._reply, step)
            else:
                self.transport.write(run.replies[step])
            end = data.find(b"\n", start)
        if start < len(data):
            self.buffer = data[start:]

    def _reply(self, step: int) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(self.run.replies[step])

    def _fail(self, text: str) -> None:
        if not self.failed:
            self.failed = True
            self.run.error(text)
        if self.transport is not None:
            self.transport.abort()

    def eof_received(self) -> bool | None:
        if self.buffer or self.step != self.run.steps:
            self._fail(f"server closed at step {self.step} (buffer {self.buffer[:80]!r})")
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        run = self.run
        run.open.discard(self)
        self.transport = None
        if not self.failed:
            if self.step == run.steps and not self.buffer:
                run.completed += 1
            else:
                self.failed = True
                run.error(f"connection lost at step {self.step}: {exc!r}")
        if not self.done.done():
            self.done.set_result(None)
        if self.reached is not None and not self.reached.done():
            self.reached.set_result(None)


def loopback(host: str) -> str:
    """Refuse any target but this machine (127.0.0.0/8, localhost, ::1)."""
    if host in ("localhost", "::1") or host.startswith("127."):
        return host
    raise SystemExit(f"loopback only: refusing to send load to {host!r}")


def _abort_all(run: Run) -> None:
    for proto in list(run.open):
        proto._fail(f"still open at the drain deadline, step {proto.step}")


async def _connect(
    run: Run, loop: asyncio.AbstractEventLoop, host: str, port: int
) -> FakeAsterisk | None:
    proto = FakeAsterisk(run, loop)
    try:
        await loop.create_connection(lambda: proto, host, port)
    except OSError as exc:
        run.error(f"connect: {exc!r}")
        return None
    return proto


async def op_run(cfg: dict[str, Any]) -> dict[str, Any]:
    """Closed loop: keep ``concurrency`` calls going until ``duration`` s or ``max_calls``.
    Open loop (``rate`` > 0): start ``rate`` calls per second, at most ``concurrency`` open."""
    loop = asyncio.get_running_loop()
    extra = int(cfg.get("extra", 0))
    script = load_script(cfg.get("script"), extra)
    delays = [float(cfg.get("delay_ms", 0.0)) / 1000.0] * len(script)
    run = Run(script, environment(extra), delays)
    run.record = bool(cfg.get("latency", True))
    host, port = loopback(cfg.get("host", "127.0.0.1")), int(cfg["port"])
    concurrency = int(cfg.get("concurrency", 1))
    rate = float(cfg.get("rate", 0.0))
    duration = float(cfg.get("duration", 5.0))
    max_calls = int(cfg.get("max_calls", 1 << 62))
    drain = float(cfg.get("drain", 10.0))
    started = 0
    skipped = 0  # open loop: calls not started because ``concurrency`` were already open
    clock = time.monotonic
    t0 = clock()
    deadline = t0 + duration

    async def slot() -> None:
        nonlocal started
        while started < max_calls and clock() < deadline:
            started += 1
            proto = await _connect(run, loop, host, port)
            if proto is None:
                await asyncio.sleep(0.01)
                continue
            await proto.done

    async def one_call() -> None:
        proto = await _connect(run, loop, host, port)
        if proto is not None:
            await proto.done

    async def pacer() -> None:
        nonlocal started, skipped
        calls: set[asyncio.Task[None]] = set()
        while True:
            now = clock()
            if now >= deadline or started >= max_calls:
                break
            due = min(int((now - t0) * rate) + 1, max_calls)
            while started < due:
                started += 1
                if len(calls) >= concurrency:
                    skipped += 1
                    continue
                task = loop.create_task(one_call())
                calls.add(task)
                task.add_done_callback(calls.discard)
            await asyncio.sleep(0.001)  # uvloop rounds timers to 1 ms: shorter would spin
        if calls:
            await asyncio.wait(calls, timeout=drain + 5.0)

    if rate > 0:
        tasks = [loop.create_task(pacer())]
    else:
        tasks = [loop.create_task(slot()) for _ in range(concurrency)]
    watchdog = loop.call_at(loop.time() + duration + drain, _abort_all, run)
    await asyncio.wait(tasks, timeout=duration + drain + 5.0)
    watchdog.cancel()
    elapsed = clock() - t0
    for task in tasks:
        task.cancel()
    return {
        "op": "run",
        "concurrency": concurrency,
        "rate": rate,
        "started": started,
        "skipped": skipped,
        "calls": run.completed,
        "commands": run.commands,
        "errors": run.errors,
        "error_samples": run.error_samples,
        "elapsed": elapsed,
        "rtt_hist": histogram(run.rtt),
        "first_hist": histogram(run.first),
    }


async def op_hold(cfg: dict[str, Any], out: Any) -> dict[str, Any]:
    """Open ``sessions`` calls, hold each at the reply to ``hold_step``, report, then release."""
    loop = asyncio.get_running_loop()
    script = load_script(cfg.get("script"), 0)
    run = Run(script, environment(0), [0.0] * len(script))
    run.record = False
    run.hold_step = int(cfg["hold_step"])
    host, port = loopback(cfg.get("host", "127.0.0.1")), int(cfg["port"])
    sessions = int(cfg["sessions"])
    max_hold = float(cfg.get("max_hold", 60.0))
    setup_limit = float(cfg.get("setup_timeout", 60.0))
    opening = int(cfg.get("opening", 200))  # calls being set up at once
    released = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR1, lambda: released.done() or released.set_result(None))
    calls: list[FakeAsterisk] = []
    t0 = time.monotonic()

    async def slot() -> None:
        while len(calls) < sessions and time.monotonic() - t0 < setup_limit:
            proto = FakeAsterisk(run, loop)
            proto.reached = loop.create_future()
            calls.append(proto)
            try:
                await loop.create_connection(lambda p=proto: p, host, port)  # type: ignore[misc]
            except OSError as exc:
                run.error(f"connect: {exc!r}")
                calls.remove(proto)
                await asyncio.sleep(0.01)
                continue
            await proto.reached

    tasks = [loop.create_task(slot()) for _ in range(min(opening, sessions))]
    await asyncio.wait(tasks, timeout=setup_limit + 5.0)
    setup = time.monotonic() - t0
    held = len(run.held)
    out.write(json.dumps({"event": "held", "held": held, "setup": setup}) + "\n")
    out.flush()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(released, max_hold)
    loop.remove_signal_handler(signal.SIGUSR1)
    run.released = True
    reply = run.replies[run.hold_step]
    for proto in run.held:
        if proto.transport is not None:
            proto.transport.write(reply)
    pending = [proto.done for proto in calls]
    drain = float(cfg.get("drain", 30.0))
    if pending:
        _, still = await asyncio.wait(pending, timeout=drain)
        if still:
            _abort_all(run)
            await asyncio.wait(still, timeout=5.0)
    return {
        "op": "hold",
        "sessions": sessions,
        "held": held,
        "setup": setup,
        "calls": run.completed,
        "errors": run.errors,
        "error_samples": run.error_samples,
    }


def worker() -> None:
    """Serve operations from stdin until it closes (the runner's lifetime bounds ours)."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        print(json.dumps({"event": "ready", "uvloop": _loop_factory() is not None}), flush=True)
        for line in sys.stdin:
            if not line.strip():
                continue
            cfg = json.loads(line)
            if cfg["op"] == "run":
                result = runner.run(op_run(cfg))
            elif cfg["op"] == "hold":
                result = runner.run(op_hold(cfg, sys.stdout))
            elif cfg["op"] == "exit":
                return
            else:
                result = {"error": f"unknown op {cfg['op']!r}"}
            print(json.dumps(result), flush=True)


def _loop_factory() -> Any:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", action="store_true", help="serve JSON operations on stdin")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4573)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--max-calls", type=int, default=1 << 62)
    parser.add_argument("--rate", type=float, default=0.0, help="open loop: calls started per s")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="delay before each reply")
    parser.add_argument("--extra", type=int, default=0, help="extra VERBOSE commands per call")
    parser.add_argument("--script", help='JSON call script: [["LINE", "reply\\n"], ...]')
    parser.add_argument("--nofile", type=int, default=20_000)
    args = parser.parse_args()
    raise_nofile(args.nofile)
    if args.worker:
        worker()
        return
    loopback(args.host)
    cfg = {
        "port": args.port,
        "host": args.host,
        "concurrency": args.concurrency,
        "rate": args.rate,
        "duration": args.duration,
        "max_calls": args.max_calls,
        "delay_ms": args.delay_ms,
        "extra": args.extra,
        "script": args.script,
    }
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        print(json.dumps(runner.run(op_run(cfg))))


if __name__ == "__main__":
    main()
