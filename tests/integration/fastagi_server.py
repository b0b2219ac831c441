"""Run an agikit FastAGI server in a background thread for tests that drive the harness."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from agikit.transports.fastagi import FastAGIServer, Handler

from .background import background


@contextmanager
def running_server(handler: Handler, grace: float = 5.0, **options: Any) -> Iterator[FastAGIServer]:
    """A started FastAGIServer on 127.0.0.1 (ephemeral port) until the block ends."""

    async def start() -> FastAGIServer:
        server = FastAGIServer(handler, port=0, **options)
        await server.start()
        return server

    async def stop(server: FastAGIServer) -> None:
        await server.shutdown(grace)

    with background(start, stop) as server:
        yield server
