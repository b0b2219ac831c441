"""The environment block in pieces, as Asterisk writes it (a line at a time): the server gathers
the pieces and reads the block once its end has arrived, whatever the pieces are."""

from __future__ import annotations

import asyncio

import pytest

from agikit import Call, Environment
from agikit.testing._fake_env import build_environment
from agikit.transports.fastagi import FastAGIServer

from ._support import RawClient, Runner, eventually, normal_call, serving

pytestmark = pytest.mark.timeout(60)


def block(*, script: str | None = "pieces", callerid_name: str = "Alice", args: int = 0) -> bytes:
    """A FastAGI environment with every line Asterisk sends (agi_network_script only for a URL
    with a path), then ``args`` agi_arg_N lines."""
    environment = build_environment(
        request=f"agi://127.0.0.1/{script or ''}",
        args=[f"arg {n}" for n in range(1, args + 1)],
        overrides={"calleridname": callerid_name, "channel": "Local/s@pieces-00000001;2"},
        network_script=script or "",
    )
    return environment.to_bytes()


async def call_in_pieces(
    server: FastAGIServer, pieces: list[bytes], seen: list[Environment]
) -> None:
    """Send ``pieces`` one write (and one read on the server) at a time; the handler answers."""
    client = await RawClient.connect(server)
    for piece in pieces:
        await client.send(piece)
        await asyncio.sleep(0.002)
    assert await client.readline() == b"ANSWER\n"
    await client.send(b"200 result=0\n")
    assert await client.closed_by_server() == b""
    client.close()
    await eventually(lambda: not server.connections)
    assert len(seen) == 1


def lines_of(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


@pytest.mark.parametrize(
    ("name", "environment", "split"),
    [
        ("line by line", block(), lines_of),
        ("first line, then the rest", block(), lambda data: [data[:17], data[17:]]),
        ("no script line", block(script=None), lines_of),
        ("arguments", block(args=3), lines_of),
        (
            "cut inside lines",
            block(),
            lambda data: [data[i : i + 50] for i in range(0, len(data), 50)],
        ),
        ("the empty line alone", block(), lambda data: [data[:-1], data[-1:]]),
        ("longer than is gathered", block(callerid_name="x" * 6000), lines_of),
    ],
)
def test_an_environment_in_pieces(
    run: Runner[None], name: str, environment: bytes, split: object
) -> None:
    seen: list[Environment] = []

    async def handler(call: Call) -> None:
        seen.append(call.env)
        await call.answer()

    async def main() -> None:
        async with serving(handler) as server:
            pieces = split(environment)  # type: ignore[operator]
            assert b"".join(pieces) == environment
            await call_in_pieces(server, pieces, seen)
            assert seen[0].to_bytes() == environment
            assert seen[0] == Environment(list(seen[0].raw.items()))
            assert server.stats.calls == 1 and server.stats.failed == 0

    run(main())


def test_the_end_of_the_stream_inside_gathered_pieces(run: Runner[None]) -> None:
    async def main() -> None:
        async with serving() as server:
            for cut in (17, 100, 400):
                client = await RawClient.connect(server)
                await client.send(block()[:cut])
                await asyncio.sleep(0.01)
                client.sock.shutdown(1)  # SHUT_WR: the end of the stream, as a closing peer
                assert await client.closed_by_server() == b""
                client.close()
            await normal_call(server)
            await eventually(lambda: not server.connections)
            assert server.stats.calls == 1 and server.stats.failed == 0

    run(main())
