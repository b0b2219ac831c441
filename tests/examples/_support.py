"""Running an example's app against the fake Asterisk, and against the harness Asterisk."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agikit.testing.fake import FakeAsterisk, Result
from agikit.transports.fastagi import FastAGIServer, Handler

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_fastagi(app: Handler, fake: FakeAsterisk, path: str, **options: Any) -> Result:
    """Serve ``app`` on a loopback port and let ``fake`` place one call to ``agi://.../path``."""

    async def main() -> Result:
        async with FastAGIServer(app, port=0) as server:
            url = f"agi://127.0.0.1:{server.bound_port}/{path}"
            return await fake.start_fastagi(url, **options).wait_async()

    return asyncio.run(main())


@contextmanager
def running_server(handler: Handler, **options: Any) -> Iterator[FastAGIServer]:
    """A FastAGI server for ``handler`` on 127.0.0.1 (an ephemeral port), in a background
    thread, until the block ends: for the harness Asterisk, whose calls block the test."""
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
            await server.shutdown(5.0)

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
