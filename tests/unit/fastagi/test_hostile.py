"""Misbehaving peers: each is logged and closed, and a normal call is served all the while."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time
import tracemalloc
from typing import Any

import pytest

from agikit import Call
from agikit.errors import ConnectionClosed, ProtocolError
from agikit.transports.fastagi import FastAGIConnection

from ._support import (
    RawClient,
    Runner,
    environment_bytes,
    eventually,
    normal_call,
    raise_fd_limit,
    routed,
    serving,
)

GARBAGE = {
    "http": b"GET / HTTP/1.1\r\nHost: agi\r\n\r\n",
    "tls-hello": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    "empty-lines": b"\n\n\n",
    "binary": bytes(range(256)) * 4,
    "almost-agi": b"agi_network: no\n\n",
}


@pytest.mark.parametrize("garbage", list(GARBAGE.values()), ids=list(GARBAGE))
def test_garbage_instead_of_an_environment_is_closed_at_once(
    run: Runner[None], garbage: bytes
) -> None:
    async def main() -> None:
        async with serving() as server:
            client = await RawClient.connect(server)
            call = asyncio.create_task(normal_call(server))
            started = time.monotonic()
            await client.send(garbage)
            assert await client.closed_by_server() == b""  # nothing written back
            assert time.monotonic() - started < 1.0  # not left to the environment deadline
            client.close()
            await call
            await eventually(lambda: not server.connections)
            assert server.stats.protocol_errors == 1
            assert server.stats.calls == 1  # no handler ever ran for the garbage
            assert server.stats.failed == 0

    run(main())


def test_garbage_after_the_environment_while_idle(run: Runner[None]) -> None:
    outcome: dict[str, Any] = {}

    async def idle(call: Call) -> None:
        await asyncio.sleep(0.3)
        try:
            await call.answer()
        except ProtocolError as exc:
            outcome["error"] = exc
            raise

    async def main() -> None:
        async with serving(routed(idle=idle)) as server:
            client = await RawClient.connect(server)
            await client.send(environment_bytes("idle"))
            await eventually(lambda: server.stats.running == 1)
            await client.send(b"200 result=0\n")  # a reply nobody asked for
            call = asyncio.create_task(normal_call(server))
            assert await client.closed_by_server() == b""
            client.close()
            await call
            await eventually(lambda: not server.connections)
            assert server.stats.protocol_errors == 1
            assert server.stats.failed == 1  # the handler's next command raised
            assert isinstance(outcome["error"], ProtocolError)

    run(main())


def test_garbage_reply_to_a_command(run: Runner[None]) -> None:
    errors: list[BaseException] = []

    async def answer(call: Call) -> None:
        try:
            await call.answer()
        except ProtocolError as exc:
            errors.append(exc)

    async def main() -> None:
        async with serving(routed(answer=answer)) as server:
            client = await RawClient.connect(server)
            await client.send(environment_bytes("answer"))
            assert await client.readline() == b"ANSWER\n"
            await client.send(b"not a reply at all\n")
            await normal_call(server)
            assert await client.closed_by_server() == b""  # no failure line to a broken peer
            client.close()
            await eventually(lambda: not server.connections)
            assert server.stats.protocol_errors == 1
            assert len(errors) == 1

    run(main())


def test_slow_trickle_of_the_environment_meets_its_deadline(run: Runner[None]) -> None:
    async def main() -> None:
        async with serving(environment_timeout=0.6) as server:
            client = await RawClient.connect(server)
            started = time.monotonic()

            async def trickle() -> None:
                for byte in environment_bytes():
                    await client.send(bytes([byte]))
                    await asyncio.sleep(0.05)

            trickling = asyncio.create_task(trickle())
            await normal_call(server)
            await client.closed_by_server()
            elapsed = time.monotonic() - started
            trickling.cancel()
            client.close()
            assert 0.5 < elapsed < 2.0, elapsed
            await eventually(lambda: not server.connections)
            assert server.stats.timed_out == 1
            assert server.stats.calls == 1

    run(main())


def test_slow_reply_is_waited_for_without_a_deadline(run: Runner[None]) -> None:
    """After the environment no deadline applies by default: a reply trickled byte by byte
    over longer than the environment deadline still completes the command."""
    values: list[str | None] = []

    async def slow(call: Call) -> None:
        values.append(await call.get_variable("SLOW"))

    async def main() -> None:
        async with serving(routed(slow=slow), environment_timeout=0.3) as server:
            client = await RawClient.connect(server)
            await client.send(environment_bytes("slow"))
            assert await client.readline() == b"GET VARIABLE SLOW\n"
            for byte in b"200 result=1 (patience)\n":
                await client.send(bytes([byte]))
                await asyncio.sleep(0.03)  # about 0.7 s in all
            assert await client.closed_by_server() == b""
            client.close()
            await eventually(lambda: not server.connections)
            assert values == ["patience"]
            assert server.stats.timed_out == 0 and server.stats.failed == 0

    run(main())


def test_a_megabyte_without_end_of_environment(run: Runner[None]) -> None:
    async def main() -> None:
        async with serving() as server:
            client = await RawClient.connect(server)
            call = asyncio.create_task(normal_call(server))
            sender = asyncio.create_task(client.send(b"agi_network: yes\n" + b"x" * (1 << 20)))
            await client.closed_by_server()
            sender.cancel()
            client.close()
            await call
            await eventually(lambda: not server.connections)
            assert server.stats.protocol_errors == 1
            assert server.stats.calls == 1

    run(main())


def test_a_megabyte_line_as_a_reply(run: Runner[None]) -> None:
    errors: list[BaseException] = []

    async def big(call: Call) -> None:
        try:
            await call.get_variable("BIG")
        except ProtocolError as exc:
            errors.append(exc)
            raise

    async def main() -> None:
        async with serving(routed(big=big), max_line=1 << 20) as server:
            client = await RawClient.connect(server)
            await client.send(environment_bytes("big"))
            assert await client.readline() == b"GET VARIABLE BIG\n"
            sender = asyncio.create_task(client.send(b"200 result=1 (" + b"y" * (2 << 20)))
            await normal_call(server)
            await client.closed_by_server()
            sender.cancel()
            client.close()
            await eventually(lambda: not server.connections)
            assert server.stats.protocol_errors == 1
            assert "longer than 1048576 bytes" in str(errors[0])

    run(main())


def test_a_large_value_under_max_line_passes(run: Runner[None]) -> None:
    values: list[str | None] = []

    async def big(call: Call) -> None:
        values.append(await call.get_variable("BIG"))

    async def main() -> None:
        async with serving(routed(big=big)) as server:
            client = await RawClient.connect(server)
            await client.send(environment_bytes("big"))
            assert await client.readline() == b"GET VARIABLE BIG\n"
            await client.send(b"200 result=1 (" + b"v" * 500_000 + b")\n")
            assert await client.closed_by_server() == b""
            client.close()
            assert values == ["v" * 500_000]

    run(main())


def test_reset_mid_call(run: Runner[None]) -> None:
    errors: list[BaseException] = []

    async def waits(call: Call) -> None:
        try:
            await call.wait_for_digit(10)
        except ConnectionClosed as exc:
            errors.append(exc)
            raise

    async def main() -> None:
        async with serving(routed(waits=waits)) as server:
            client = await RawClient.connect(server)
            await client.send(environment_bytes("waits"))
            assert await client.readline() == b"WAIT FOR DIGIT 10000\n"
            client.reset()
            await normal_call(server)
            await eventually(lambda: not server.connections)
            assert len(errors) == 1
            assert server.stats.failed == 1  # logged as a warning, without a traceback
            assert server.stats.running == 0

    run(main())


def test_reset_before_the_environment(run: Runner[None]) -> None:
    async def main() -> None:
        async with serving() as server:
            clients = [await RawClient.connect(server) for _ in range(20)]
            for client in clients:
                await client.send(b"agi_network: yes\nagi_chan")
                client.reset()
            await normal_call(server)
            await eventually(lambda: not server.connections)
            assert server.stats.calls == 1 and server.stats.failed == 0

    run(main())


def test_handler_outliving_its_reset_socket_stays_tracked(run: Runner[None]) -> None:
    """A peer gone while the handler does other work: the connection is counted until the
    handler returns (a drain must wait for it), and its next command raises."""
    release = asyncio.Event()
    errors: list[BaseException] = []

    async def busy(call: Call) -> None:
        await release.wait()
        try:
            await call.answer()
        except ConnectionClosed as exc:
            errors.append(exc)

    async def main() -> None:
        async with serving(routed(busy=busy)) as server:
            client = await RawClient.connect(server)
            await client.send(environment_bytes("busy"))
            await eventually(lambda: server.stats.running == 1)
            (connection,) = server.connections
            client.reset()
            await eventually(lambda: connection.transport is None)
            assert server.connections == {connection}
            release.set()
            await eventually(lambda: not server.connections)
            assert len(errors) == 1

    run(main())


def test_clients_outside_the_allowed_networks_are_closed(run: Runner[None]) -> None:
    async def main() -> None:
        async with serving(allow=["10.0.0.0/8"]) as server:
            client = await RawClient.connect(server)
            assert await client.closed_by_server() == b""
            client.close()
            assert server.stats.rejected_network == 1
            assert not server.connections

    run(main())


def test_idle_sockets_do_not_count_against_max_calls(run: Runner[None]) -> None:
    release = asyncio.Event()

    async def hold(call: Call) -> None:
        await release.wait()

    async def main() -> None:
        async with serving(routed(hold=hold), max_calls=1) as server:
            idle = [await RawClient.connect(server) for _ in range(10)]
            await normal_call(server)  # 10 idle sockets, max_calls=1: still served
            holder = await RawClient.connect(server)
            await holder.send(environment_bytes("hold"))
            await eventually(lambda: server.stats.running == 1)
            refused = await RawClient.connect(server)
            await refused.send(environment_bytes("hold"))
            assert await refused.closed_by_server() == b"failure\n"
            assert server.stats.rejected_busy == 1
            release.set()
            assert await holder.closed_by_server() == b""
            for client in [*idle, holder, refused]:
                client.close()

    run(main())


def test_a_flood_of_bad_peers_is_not_a_flood_of_log_lines(
    run: Runner[None], caplog: pytest.LogCaptureFixture
) -> None:
    took = {"seconds": 0.0}

    async def main() -> None:
        started = time.monotonic()
        async with serving() as server:
            for _ in range(100):
                client = await RawClient.connect(server)
                await client.send(b"garbage\n")
                await client.closed_by_server()
                client.close()
            assert server.stats.protocol_errors == 100
        took["seconds"] = time.monotonic() - started

    with caplog.at_level(logging.WARNING, logger="agikit.fastagi"):
        run(main())
    closing = [r for r in caplog.records if "closing" in r.getMessage()]
    windows = int(took["seconds"]) + 1
    assert 20 <= len(closing) <= 20 * windows, (len(closing), took)  # 20 a second at most


#: Opens COUNT connections to PORT that never send a byte, reports, then waits until the server
#: has closed every one (EOF or reset) and reports again. A process of its own: the client ends
#: need file descriptors too, and RLIMIT_NOFILE is per process.
IDLE_CLIENTS = r"""
import selectors, socket, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
selector = selectors.DefaultSelector()
pending = set()
for _ in range(count):
    sock = socket.socket()
    sock.setblocking(False)
    sock.connect_ex(("127.0.0.1", port))
    selector.register(sock, selectors.EVENT_WRITE)
    pending.add(sock)
connected = []
while pending:
    for key, _ in selector.select(5):
        sock = key.fileobj
        error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        assert error == 0, error
        pending.discard(sock)
        selector.modify(sock, selectors.EVENT_READ)
        connected.append(sock)
print("connected", len(connected), flush=True)
open_ = set(connected)
while open_:
    for key, _ in selector.select(30):
        sock = key.fileobj
        try:
            data = sock.recv(1)
        except ConnectionResetError:
            data = b""
        assert data == b"", data
        selector.unregister(sock)
        sock.close()
        open_.discard(sock)
print("closed", len(connected) - len(open_), flush=True)
"""


def test_ten_thousand_idle_sockets(run: Runner[None]) -> None:
    """10,000 connections that never send a byte: the server holds them (little memory per
    socket), serves a normal call meanwhile, and closes each at the environment deadline."""
    count = 10_000
    raise_fd_limit(count + 1000)

    async def main() -> None:
        async with serving(environment_timeout=8.0, backlog=4096) as server:
            clients = await asyncio.create_subprocess_exec(
                sys.executable, "-c", IDLE_CLIENTS, str(server.bound_port), str(count),
                stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            assert clients.stdout is not None
            started = time.monotonic()
            tracemalloc.start()
            try:
                line = await asyncio.wait_for(clients.stdout.readline(), 10)
                assert line == f"connected {count}\n".encode(), line
                await eventually(lambda: server.stats.active == count, timeout=5)
                connected = time.monotonic() - started
                held = tracemalloc.get_traced_memory()[0]
                tracemalloc.stop()
                assert connected < 7.0, f"connecting took {connected:.1f} s"
                assert held / count < 8192, f"{held / count:.0f} bytes per idle connection"
                await normal_call(server)
                assert server.stats.active == count  # none dropped before their deadline
                line = await asyncio.wait_for(clients.stdout.readline(), 15)
                assert line == f"closed {count}\n".encode(), line
                assert await clients.wait() == 0
            finally:
                if clients.returncode is None:
                    clients.kill()
                    await clients.wait()
            await eventually(lambda: not server.connections)
            assert server.stats.timed_out == count
            assert server.stats.calls == 1

    run(main())


def test_memory_after_hostile_connections(
    run: Runner[None], caplog: pytest.LogCaptureFixture
) -> None:
    """Rounds of every kind of bad peer: once they are closed nothing of them remains."""
    # Log records (pytest keeps them) would hold the exceptions, and through their tracebacks
    # the connections: log nothing here.
    caplog.set_level(logging.CRITICAL, logger="agikit.fastagi")

    async def waits(call: Call) -> None:
        await call.wait_for_digit(10)

    async def one_round(server: Any) -> None:
        clients = []
        for garbage in GARBAGE.values():
            client = await RawClient.connect(server)
            await client.send(garbage)
            clients.append(client)
        big = await RawClient.connect(server)
        sending = asyncio.create_task(big.send(b"agi_network: yes\n" + b"z" * 100_000))
        clients.append(big)
        reset = await RawClient.connect(server)
        await reset.send(environment_bytes("waits"))
        await reset.readline()
        reset.reset()
        idle = await RawClient.connect(server)
        clients.append(idle)
        for client in clients[:-1]:
            await client.closed_by_server()
        sending.cancel()
        idle.close()
        for client in clients:
            client.close()
        await eventually(lambda: not server.connections)

    async def main() -> None:
        async with serving(routed(waits=waits), environment_timeout=0.5) as server:
            for _ in range(3):  # warm up: first-use caches, the loop's own buffers
                await one_round(server)
            await normal_call(server)
            gc.collect()
            tracemalloc.start()
            before = tracemalloc.take_snapshot()
            rounds = 30
            for _ in range(rounds):
                await one_round(server)
            await normal_call(server)
            gc.collect()
            after = tracemalloc.take_snapshot()
            tracemalloc.stop()
            assert len(server.connections) == 0
            assert server.stats.active == 0 and server.stats.running == 0
            growth = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
            top = "\n".join(map(str, after.compare_to(before, "lineno")[:10]))
            assert growth < 128 * 1024, f"{growth} bytes more after {rounds * 8} peers:\n{top}"
            alive = [o for o in gc.get_objects() if isinstance(o, FastAGIConnection)]
            assert alive == []

    run(main())
