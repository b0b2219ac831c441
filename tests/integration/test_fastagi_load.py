"""The FastAGI server under load on a real Asterisk 22: hundreds of concurrent calls, a drain
during live calls, and hostile clients hammering the server beside real calls.

Sized for a 2-core machine: Asterisk runs 2-3 threads per call, calls are originated in
batches, and each test stays well under a minute. Every call is a Local channel whose AGI side
runs ``AGI(agi://127.0.0.1:<port>/<path>)``; its far end stays silent, so ``ANSWER`` takes
Asterisk's 0.5 s (it waits for a first frame) but the calls run side by side, so that costs
0.5 s in all.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from agikit import Call
from agikit.testing import asterisk as harness
from agikit.testing.asterisk import Asterisk, fastagi_server
from agikit.transports.fastagi import FastAGIServer

BATCH = 50  # originations per burst
BATCH_PAUSE = 0.1  # seconds between bursts
ENVIRONMENT_TIMEOUT = 2.0  # the hostile-clients test's deadline for the environment


def originate_all(
    asterisk: Asterisk, port: int, count: int, path: str, **options: Any
) -> list[harness.Call]:
    calls = []
    for index in range(count):
        calls.append(asterisk.originate_fastagi(port, path, **options))
        if (index + 1) % BATCH == 0:
            time.sleep(BATCH_PAUSE)
    return calls


def on_loop(server: FastAGIServer, coroutine: Any) -> Future[Any]:
    """Run a coroutine on the server's event loop (the server runs in a thread of its own)."""
    return asyncio.run_coroutine_threadsafe(coroutine, server.loop)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.02)


class Barrier:
    """Handlers wait here until ``count`` of them have arrived: the calls are then all in
    progress at once, which is what makes the test a concurrency test."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.arrived = 0
        self.everyone = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        self.arrived += 1
        if self.arrived >= self.count:
            self.everyone.set()
        await asyncio.wait_for(self.everyone.wait(), timeout)


def test_500_concurrent_calls_through_one_server(asterisk: Asterisk) -> None:
    count = 500
    barrier = Barrier(count)
    errors: list[BaseException] = []
    peak = {"running": 0}

    async def handler(call: Call) -> None:
        try:
            await call.answer()
            await call.set_variable("LOAD_IN", call.env.uniqueid)
            await barrier.wait(40)
            peak["running"] = max(peak["running"], server.stats.running)
            value = await call.get_variable("LOAD_IN")
            await call.verbose("agikit load test")
            await call.set_variable(
                "LOAD_OK", "yes" if value == call.env.uniqueid else f"{value!r}"
            )
        except BaseException as exc:
            errors.append(exc)
            raise

    with fastagi_server(handler) as server:
        started = time.monotonic()
        calls = originate_all(asterisk, server.bound_port, count, "load", report=["LOAD_OK"])
        results = [call.wait(60) for call in calls]
        elapsed = time.monotonic() - started
        stats = server.stats.as_dict()
    assert errors == []
    bad = [r for r in results if r.agi_status != "SUCCESS" or r.variables["LOAD_OK"] != "yes"]
    assert bad == [], bad[0].log_text()
    assert barrier.arrived == count
    assert peak["running"] == count  # all 500 in the server at once
    assert stats["calls"] == count and stats["failed"] == 0 and stats["timed_out"] == 0
    assert stats["active"] == 0 and stats["running"] == 0
    assert elapsed < 50, elapsed


def test_shutdown_during_100_live_calls_loses_none(asterisk: Asterisk) -> None:
    """``shutdown(grace)`` (what SIGTERM runs) with 100 calls in progress: the listening socket
    closes at once (a new call fails over to the dialplan's fallback), every call in progress
    finishes its work, and the drain ends when the last one does."""
    count = 100
    barrier = Barrier(count)
    release = threading.Event()

    async def handler(call: Call) -> None:
        await call.answer()
        await call.set_variable("DRAIN_STEP", "1")
        await barrier.wait(30)
        while not release.is_set():  # still working when the shutdown begins
            await asyncio.sleep(0.05)
        await call.set_variable("DRAIN_STEP", "2")
        await call.set_variable("DRAIN_DONE", call.env.uniqueid)

    with fastagi_server(handler) as server:
        port = server.bound_port
        calls = originate_all(asterisk, port, count, "drain", report=["DRAIN_STEP", "DRAIN_DONE"])
        wait_until(lambda: barrier.everyone.is_set(), 30, "100 calls in progress")
        shutdown = on_loop(server, server.shutdown(30))
        wait_until(lambda: server.sockets == () or _refused(port), 5, "listening socket closed")
        late = asterisk.originate_fastagi(port, "drain", report=["AGISTATUS"]).wait(30)
        time.sleep(0.5)
        assert not shutdown.done()  # draining: waiting for the calls in progress
        release.set()
        shutdown.result(30)
        results = [call.wait(30) for call in calls]
        stats = server.stats.as_dict()
    assert late.agi_status == "FAILURE"  # connection refused: AGI() fails, the dialplan goes on
    assert late.after_agi
    for result in results:
        assert result.agi_status == "SUCCESS", result.log_text()
        assert result.variables["DRAIN_STEP"] == "2"
        assert result.variables["DRAIN_DONE"] == result.uniqueid
    assert stats["calls"] == count
    assert stats["cancelled"] == 0 and stats["failed"] == 0 and stats["active"] == 0


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except ConnectionRefusedError:
        return True
    return False


class Hammer:
    """Hostile clients, on an event loop of their own in a thread, until stopped: garbage,
    an environment trickled a byte at a time, a megabyte line, calls reset mid-command, and
    waves of idle sockets."""

    def __init__(self, port: int, idle: int) -> None:
        self.port = port
        self.idle = idle
        self.sent = {"garbage": 0, "trickle": 0, "big": 0, "reset": 0, "idle": 0}
        self.idle_closed = 0  # idle sockets the server closed at the environment deadline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> Hammer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(30)
        assert not self._thread.is_alive()

    async def _connect(self) -> socket.socket:
        sock = socket.socket()
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", self.port))
        return sock

    async def _loop(self, kind: str, attack: Callable[[], Any], pause: float) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):  # reset: the server closed on us, as it should
                await attack()
            self.sent[kind] += 1
            await asyncio.sleep(pause)

    async def _garbage(self) -> None:
        loop = asyncio.get_running_loop()
        sock = await self._connect()
        try:
            await loop.sock_sendall(sock, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(range(256)))
            await asyncio.wait_for(loop.sock_recv(sock, 100), 5)
        finally:
            sock.close()

    async def _trickle(self) -> None:
        loop = asyncio.get_running_loop()
        sock = await self._connect()
        try:
            for byte in b"agi_network: yes\nagi_request: agi://x/\n" * 100:
                await loop.sock_sendall(sock, bytes([byte]))
                await asyncio.sleep(0.01)
        finally:
            sock.close()

    async def _big(self) -> None:
        loop = asyncio.get_running_loop()
        sock = await self._connect()
        try:
            await loop.sock_sendall(sock, b"agi_network: yes\n" + b"x" * (1 << 20))
        finally:
            sock.close()

    async def _reset(self) -> None:
        loop = asyncio.get_running_loop()
        sock = await self._connect()
        try:
            await loop.sock_sendall(
                sock,
                b"agi_network: yes\nagi_network_script: hostile\nagi_request: agi://x/hostile\n"
                b"agi_channel: Hostile/1\nagi_uniqueid: 0.1\n\n",
            )
            await asyncio.wait_for(loop.sock_recv(sock, 100), 5)  # its first command
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        finally:
            sock.close()

    async def _idle_wave(self) -> None:
        """``idle`` sockets that never send a byte, held past the environment deadline: the
        server must have closed every one of them by then."""
        loop = asyncio.get_running_loop()
        sockets = []
        try:
            for _ in range(self.idle):
                sockets.append(await self._connect())
            await asyncio.sleep(ENVIRONMENT_TIMEOUT + 1)
            for sock in sockets:
                try:
                    data = await asyncio.wait_for(loop.sock_recv(sock, 1), 1)
                except ConnectionResetError:
                    data = b""
                assert data == b"", data
                self.idle_closed += 1
        finally:
            for sock in sockets:
                sock.close()

    async def _main(self) -> None:
        try:
            await asyncio.gather(
                self._loop("garbage", self._garbage, 0.01),
                self._loop("trickle", self._trickle, 0.0),
                self._loop("trickle", self._trickle, 0.0),
                self._loop("big", self._big, 0.05),
                self._loop("reset", self._reset, 0.01),
                self._loop("idle", self._idle_wave, 0.0),
            )
        except BaseException as exc:
            self.error = exc


def test_hostile_clients_do_not_disturb_real_calls(asterisk: Asterisk) -> None:
    count = 200
    hostile_started = {"n": 0}

    async def handler(call: Call) -> None:
        if call.env.script_path == "hostile":
            hostile_started["n"] += 1
            await call.answer()  # the client resets instead of answering
            return
        await call.answer()
        await call.set_variable("REAL_IN", call.env.uniqueid)
        await asyncio.sleep(0.5)  # the hammering goes on meanwhile
        value = await call.get_variable("REAL_IN")
        await call.set_variable("REAL_OK", "yes" if value == call.env.uniqueid else f"{value!r}")

    with fastagi_server(handler, environment_timeout=ENVIRONMENT_TIMEOUT) as server:
        with Hammer(server.bound_port, idle=500) as hammer:
            time.sleep(1)  # let the hammering start
            calls = originate_all(asterisk, server.bound_port, count, "real", report=["REAL_OK"])
            results = [call.wait(60) for call in calls]
            wait_until(lambda: hammer.sent["idle"] > 0, 10, "a wave of idle sockets")
        assert hammer.error is None, hammer.error
        wait_until(lambda: not server.connections, 10, "all connections closed")
        stats = server.stats.as_dict()
    for result in results:
        assert result.agi_status == "SUCCESS", result.log_text()
        assert result.variables["REAL_OK"] == "yes"
    sent = hammer.sent
    print(f"hostile connections: {sent}; server: {stats}")
    assert min(sent.values()) > 0, sent
    # every hostile connection was closed by the server or by itself; none left a handler behind
    assert stats["calls"] == count + hostile_started["n"]
    assert stats["protocol_errors"] >= sent["garbage"] + sent["big"]
    assert hammer.idle_closed == sent["idle"] * 500
    assert stats["timed_out"] >= hammer.idle_closed + sent["trickle"]
    assert stats["failed"] == hostile_started["n"]  # the resets, each logged
    assert stats["active"] == 0 and stats["running"] == 0
