"""A blocking face on :class:`agikit.ami.AmiClient` for the test harness.

The harness and its tests are synchronous (they wait for calls, read logs, originate), so the
asyncio client runs on an event loop in a daemon thread and each method waits for its result.
Event listeners are called on that thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from ...ami.client import AmiClient, AmiError, ListResult
from ...ami.codec import Message

T = TypeVar("T")
EventListener = Callable[[Message], None]

__all__ = ["AmiConnection", "AmiError", "Message"]


class AmiConnection:
    """An AMI session to ``host:port``; :meth:`login` before use."""

    def __init__(self, host: str, port: int, *, timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._client: AmiClient | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="agikit-ami", daemon=True
        )
        self._thread.start()

    def _run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result((timeout or self.timeout) + 1)

    @property
    def client(self) -> AmiClient:
        if self._client is None:
            raise AmiError("not logged in")
        return self._client

    @property
    def banner(self) -> str | None:
        return self.client.banner

    @property
    def closed(self) -> bool:
        return self._client is None or not self._client.connected

    def login(self, username: str, secret: str, *, md5: bool = False) -> None:
        """Connect and log in with a plain secret or an MD5 challenge (raises AmiError)."""
        client = AmiClient(
            self.host,
            self.port,
            username,
            secret,
            auth="md5" if md5 else "plain",
            reconnect=False,
            ping_interval=None,
            timeout=self.timeout,
        )
        self._run(client.connect())
        self._client = client

    def add_listener(self, listener: EventListener) -> None:
        """Call ``listener(event)`` (on the client's thread) for every event from now on."""
        self.client.on()(listener)

    def remove_listener(self, listener: EventListener) -> None:
        self.client.remove_callback(listener)

    def send(
        self, action: str, headers: Iterable[tuple[str, str]] = (), *, track: bool = True
    ) -> str:
        """Send an action without waiting for its response; returns its ActionID (events
        carrying it, such as ``OriginateResponse``, reach the listeners). The response itself
        is dropped whatever ``track`` says (kept for callers of the older harness client)."""

        async def send() -> str:
            return self.client.send(action, list(headers))

        return self._run(send())

    def action(
        self,
        action: str,
        headers: Iterable[tuple[str, str]] = (),
        *,
        timeout: float | None = None,
        check: bool = True,
    ) -> Message:
        """Send an action and return its response; AmiError on ``Response: Error``."""
        return self._run(
            self.client.action(action, list(headers), check=check, timeout=timeout), timeout
        )

    def action_list(
        self, action: str, headers: Iterable[tuple[str, str]] = (), *, timeout: float | None = None
    ) -> list[Message]:
        """An event-list action's item events."""
        result: ListResult = self._run(
            self.client.action_list(action, list(headers), timeout=timeout), timeout
        )
        return list(result.events)

    def command(self, cli: str, *, timeout: float | None = None) -> str:
        """Run a CLI command and return its output."""
        return self._run(self.client.command(cli, timeout=timeout), timeout)

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(AmiError, TimeoutError, OSError):
                self._run(self._client.close(), 5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._loop.is_running():
            self._loop.close()
