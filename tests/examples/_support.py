"""Running an example's app against the fake Asterisk, and against the harness Asterisk."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from agikit.testing.asterisk import fastagi_server
from agikit.testing.fake import FakeAsterisk, Result
from agikit.transports.fastagi import FastAGIServer, Handler

__all__ = ["EXAMPLES", "fastagi_server", "run_fastagi"]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_fastagi(app: Handler, fake: FakeAsterisk, path: str, **options: Any) -> Result:
    """Serve ``app`` on a loopback port and let ``fake`` place one call to ``agi://.../path``."""

    async def main() -> Result:
        async with FastAGIServer(app, port=0) as server:
            url = f"agi://127.0.0.1:{server.bound_port}/{path}"
            return await fake.start_fastagi(url, **options).wait_async()

    return asyncio.run(main())
