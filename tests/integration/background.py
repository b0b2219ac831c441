"""Run an asyncio service (a FastAGI server, an Async AGI runner) on a loop in a background
thread, for tests that drive the blocking harness from the main thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


@contextmanager
def background(
    start: Callable[[], Awaitable[T]],
    stop: Callable[[T], Awaitable[Any]],
    *,
    timeout: float = 15.0,
) -> Iterator[T]:
    """``start()`` on a new loop in a thread; yield what it returned; ``stop(it)`` at the end."""
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

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(timeout)
    if "error" in box:
        raise box["error"]
    try:
        yield box["service"]
    finally:
        box["loop"].call_soon_threadsafe(box["done"].set)
        thread.join(timeout)
