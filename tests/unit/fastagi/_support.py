"""A FastAGIServer on an ephemeral loopback port, raw hostile clients, and a normal call.

Every test runs its coroutine on both event loops the server meets in production: asyncio's
own, and uvloop (which ``agikit serve`` uses when it is installed).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import resource
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import pytest

from agikit import Call
from agikit.testing.fake import FakeAsterisk, Result, expect
from agikit.transports.fastagi import FastAGIServer

T = TypeVar("T")

LOOPS = ["asyncio"] + (["uvloop"] if importlib.util.find_spec("uvloop") else [])

Runner = Callable[[Coroutine[Any, Any, T]], T]


#: The environment block of a FastAGI call, as Asterisk starts it, for raw clients.
def environment_bytes(script: str = "raw", uniqueid: str = "1700000000.9") -> bytes:
    return (
        b"agi_network: yes\n"
        + f"agi_network_script: {script}\n".encode()
        + f"agi_request: agi://127.0.0.1/{script}\n".encode()
        + b"agi_channel: Local/s@raw-00000001;2\n"
        + f"agi_uniqueid: {uniqueid}\n".encode()
        + b"agi_version: 22.10.1\n"
        + b"\n"
    )


async def normal_handler(call: Call) -> None:
    """What a normal call does: the commands of :func:`normal_call`'s script."""
    await call.answer()
    value = await call.get_variable("X")
    await call.set_variable("Y", f"got {value}")


def routed(**handlers: Callable[[Call], Awaitable[object]]) -> Callable[[Call], Awaitable[object]]:
    """A handler dispatching on the script path: ``normal`` runs :func:`normal_handler`."""
    table = {"normal": normal_handler, **handlers}

    async def handler(call: Call) -> object:
        return await table[call.env.script_path](call)

    return handler


NORMAL_SCRIPT = [
    expect("ANSWER"),
    expect("GET VARIABLE X", reply="200 result=1 (x value)"),
    expect('SET VARIABLE Y "got x value"'),
]


async def normal_call(server: FastAGIServer, *, timeout: float = 10.0) -> Result:
    """One well-behaved call from the fake Asterisk; raises if it did not go as scripted."""
    fake = FakeAsterisk(NORMAL_SCRIPT, timeout=timeout)
    result = await fake.start_fastagi(url(server, "normal")).wait_async(timeout + 5)
    result.assert_ok()
    assert result.agi_status == "SUCCESS"
    return result


def url(server: FastAGIServer, script: str) -> str:
    return f"agi://127.0.0.1:{server.bound_port}/{script}"


@contextlib.asynccontextmanager
async def serving(
    handler: Callable[[Call], Awaitable[object]] | None = None, **options: Any
) -> AsyncIterator[FastAGIServer]:
    """A started server on 127.0.0.1 (ephemeral port), shut down (grace 5 s) at the end."""
    server = FastAGIServer(handler or routed(), port=0, **options)
    await server.start()
    try:
        yield server
    finally:
        await server.shutdown(5.0)


class RawClient:
    """A TCP client that plays Asterisk's side badly, byte by byte if need be."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.loop = asyncio.get_running_loop()
        self.buffer = b""

    @classmethod
    async def connect(cls, server: FastAGIServer) -> RawClient:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.bound_port))
        return cls(sock)

    async def send(self, data: bytes) -> None:
        await self.loop.sock_sendall(self.sock, data)

    async def readline(self, timeout: float = 5.0) -> bytes:
        """The next line (with its LF); b"" at the end of the stream."""
        async with asyncio.timeout(timeout):
            while b"\n" not in self.buffer:
                chunk = await self.loop.sock_recv(self.sock, 65536)
                if not chunk:
                    rest, self.buffer = self.buffer, b""
                    return rest
                self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line + b"\n"

    async def closed_by_server(self, timeout: float = 5.0) -> bytes:
        """Read until the server closes (EOF or reset); returns what arrived meanwhile."""
        received = self.buffer
        self.buffer = b""
        async with asyncio.timeout(timeout):
            while True:
                try:
                    chunk = await self.loop.sock_recv(self.sock, 65536)
                except ConnectionResetError:
                    return received
                if not chunk:
                    return received
                received += chunk

    async def nothing_for(self, seconds: float) -> bool:
        """True if nothing arrives (and the stream stays open) for ``seconds``."""
        if self.buffer:
            return False
        try:
            async with asyncio.timeout(seconds):
                chunk = await self.loop.sock_recv(self.sock, 65536)
        except TimeoutError:
            return True
        self.buffer += chunk
        return False

    def reset(self) -> None:
        """Close with a TCP reset (SO_LINGER 0), as a crashed peer's kernel does."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        self.sock.close()


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``condition()`` holds (polling the loop), or fail."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition still false after {timeout} s")
        await asyncio.sleep(0.01)


def raise_fd_limit(needed: int) -> None:
    """Raise RLIMIT_NOFILE to at least ``needed`` or skip the test, saying why."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, max(hard, needed)))
    except (ValueError, OSError) as exc:
        pytest.skip(
            f"needs {needed} file descriptors; RLIMIT_NOFILE is {soft}/{hard} and could not be "
            f"raised ({exc}): run as root or raise the hard limit (ulimit -Hn)"
        )
