"""Run an agikit server in a background thread, for tests that block: a FastAGI server that
the fake Asterisk (``FakeAsterisk.run_fastagi``) or the real one (``agikit.testing.asterisk``)
connects to::

    with fastagi_server(app) as server:
        result = fake.run_fastagi(f"agi://127.0.0.1:{server.bound_port}/ivr")

The server runs on an event loop of its own; code that must run there (``server.shutdown()``,
for instance) goes through ``asyncio.run_coroutine_threadsafe(coroutine, server.loop)``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from ..transports.fastagi import FastAGIServer, Handler

T = TypeVar("T")


@contextmanager
def background(
    start: Callable[[], Awaitable[T]],
    stop: Callable[[T], Awaitable[Any]],
    *,
    timeout: float = 15.0,
) -> Iterator[T]:
    """Run ``start()`` on a new event loop in a thread and yield what it returned; at the end
    of the block run ``stop(it)`` there and wait for the thread. An exception from ``start``
    is raised here."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        service = await start()
        box.update(service=service, loop=asyncio.get_running_loop(), done=asyncio.Event())
        ready.set()
        await box["done"].wait()
        await stop(service)

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced to the test
            box["error"] = exc
            ready.set()

    thread = threading.Thread(target=run, name="agikit-test-server", daemon=True)
    thread.start()
    if not ready.wait(timeout):
        raise TimeoutError(f"the background service did not start within {timeout} s")
    if "error" in box and "service" not in box:
        raise box["error"]
    try:
        yield box["service"]
    finally:
        box["loop"].call_soon_threadsafe(box["done"].set)
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError(f"the background service did not stop within {timeout} s")
        if "error" in box:
            raise box["error"]


@contextmanager
def fastagi_server(
    handler: Handler, *, grace: float = 5.0, **options: Any
) -> Iterator[FastAGIServer]:
    """A started :class:`~agikit.transports.fastagi.FastAGIServer` for ``handler`` (an
    ``async def`` handler or an :class:`~agikit.App`) on 127.0.0.1, on a free port
    (``server.bound_port``) unless ``port=`` says otherwise; ``options`` go to the server.
    At the end of the block it shuts down, giving calls ``grace`` seconds to finish."""
    from ..transports.fastagi import FastAGIServer

    options.setdefault("port", 0)

    async def start() -> FastAGIServer:
        server = FastAGIServer(handler, **options)
        await server.start()
        return server

    async def stop(server: FastAGIServer) -> None:
        await server.shutdown(grace)

    with background(start, stop) as server:
        yield server


__all__ = ["background", "fastagi_server"]
