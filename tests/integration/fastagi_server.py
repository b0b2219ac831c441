"""Run an agikit FastAGI server in a background thread for tests that drive the harness."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from agikit.transports.fastagi import FastAGIServer, Handler


@contextmanager
def running_server(handler: Handler, **options: Any) -> Iterator[FastAGIServer]:
    """A started FastAGIServer on 127.0.0.1 (ephemeral port) until the block ends."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        async def main() -> None:
            server = FastAGIServer(handler, port=0, **options)
            await server.start()
            box["server"], box["loop"], box["stop"] = (
                server,
                asyncio.get_running_loop(),
                asyncio.Event(),
            )
            ready.set()
            await box["stop"].wait()
            await server.shutdown(box.get("grace", 5.0))

        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced to the test
            box["error"] = exc
            ready.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    if "error" in box:
        raise box["error"]
    try:
        yield box["server"]
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(15)
