"""Run agikit's Async AGI server beside the harness Asterisk, for tests (see also
:func:`agikit.testing.servers.fastagi_server` for FastAGI)::

    with async_agi_server(asterisk, app):
        result = asterisk.originate_async_agi(args=["/ivr"]).wait()
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..servers import background

if TYPE_CHECKING:
    from ...transports.asyncagi import AsyncAGIServer
    from ...transports.fastagi import Handler
    from ._instance import Asterisk


@contextmanager
def async_agi_server(
    asterisk: Asterisk, handler: Handler, *, drain: float = 5.0, **options: Any
) -> Iterator[AsyncAGIServer]:
    """A started :class:`~agikit.transports.asyncagi.AsyncAGIServer` for ``handler`` on an
    AMI connection of its own to ``asterisk`` (as its AMI user); ``options`` go to the server.
    Calls into ``AGI(agi:async)`` (``asterisk.originate_async_agi``) run the handler. At the
    end of the block it stops, giving calls ``drain`` seconds, and closes the connection."""
    from ...ami import AmiClient
    from ...transports.asyncagi import AsyncAGIServer

    async def start() -> AsyncAGIServer:
        ami = AmiClient("127.0.0.1", asterisk.ami_port, asterisk.ami_user, asterisk.ami_secret)
        await ami.connect()
        server = AsyncAGIServer(handler, ami, **options)
        await server.start()
        return server

    async def stop(server: AsyncAGIServer) -> None:
        await server.stop(drain)
        await server.ami.close()

    with background(start, stop) as server:
        yield server
