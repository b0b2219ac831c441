"""A small AMI server on loopback that behaves as Asterisk 22's manager does in the transcripts:
banner, Login (plain or MD5 challenge; a failure is answered after a delay, then the connection
closes), Ping, Logoff, ``Permission denied`` before login, unknown actions. Tests add handlers
for other actions and push events."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, cast

from agikit.ami import AmiParser, Message

BANNER = b"Asterisk Call Manager/11.0.0\r\n"

Handler = Callable[["FakeConnection", Message], "Awaitable[None] | None"]


def run(
    coroutine: Coroutine[Any, Any, Any],
    timeout: float = 20.0,
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
) -> Any:
    """Run ``coroutine`` on a new loop within ``timeout``; fail if asyncio reported an error
    meanwhile (a future whose exception nobody retrieved, a task destroyed while pending ...)."""
    reported: list[dict[str, Any]] = []

    async def bounded() -> Any:
        asyncio.get_running_loop().set_exception_handler(lambda loop, c: reported.append(c))
        async with asyncio.timeout(timeout):
            return await coroutine

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        result = runner.run(bounded())
        gc.collect()
    assert not reported, [c.get("message") for c in reported]
    return result


def encode(*headers: tuple[str, str]) -> bytes:
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in headers) + b"\r\n"


def response(request: Message, status: str, *headers: tuple[str, str]) -> bytes:
    """A response as Asterisk lays it out: Response, ActionID (if the action had one), rest."""
    first: list[tuple[str, str]] = [("Response", status)]
    if request.action_id is not None:
        first.append(("ActionID", request.action_id))
    return encode(*first, *headers)


class FakeConnection(asyncio.Protocol):
    def __init__(self, server: FakeAmiServer) -> None:
        self.server = server
        self.parser = AmiParser()
        self.parser.feed(BANNER)  # the client sends no banner; actions parse as messages
        self.transport: asyncio.Transport | None = None
        self.logged_in = False
        self.challenge: str | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio's
        self.server.connections.append(self)
        self.transport.write(self.server.banner)

    def data_received(self, data: bytes) -> None:
        for message in self.parser.feed(data):
            self.server.received.append(message)
            result = self.handle(message)
            if result is not None:
                task = asyncio.ensure_future(result)
                self.server.tasks.add(task)
                task.add_done_callback(self.server.tasks.discard)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def handle(self, request: Message) -> Awaitable[None] | None:
        server = self.server
        action = (request.get("Action") or "").lower()
        if action == "login":
            return self._login(request)
        if action == "challenge":
            if (request.get("AuthType") or "").lower() != "md5":
                self.write(response(request, "Error", ("Message", "Must specify AuthType")))
            else:
                self.challenge = server.challenge
                self.write(response(request, "Success", ("Challenge", self.challenge)))
            return None
        if action == "logoff":
            self.write(response(request, "Goodbye", ("Message", "Thanks for all the fish.")))
            self.close()
            return None
        if not self.logged_in:
            self.write(response(request, "Error", ("Message", "Permission denied")))
            return None
        if action == "ping":
            if server.answer_pings:
                self.write(
                    response(
                        request, "Success", ("Ping", "Pong"), ("Timestamp", "1795797601.827132")
                    )
                )
            return None
        handler = server.handlers.get(action)
        if handler is not None:
            return handler(self, request)
        self.write(
            response(
                request,
                "Error",
                (
                    "Message",
                    f"Invalid/unknown command: {request.get('Action')}. "
                    "Use Action: ListCommands to show available commands.",
                ),
            )
        )
        return None

    async def _login(self, request: Message) -> None:
        server = self.server
        if (request.get("AuthType") or "").lower() == "md5":
            expected = hashlib.md5(f"{self.challenge}{server.secret}".encode()).hexdigest()
            good = self.challenge is not None and request.get("Key") == expected
        else:
            good = request.get("Secret") == server.secret
        good = good and request.get("Username") == server.username and server.accept_logins
        if not good:
            await asyncio.sleep(server.failure_delay)
            self.write(response(request, "Error", ("Message", "Authentication failed")))
            self.close()
            return
        if self.logged_in:
            self.write(response(request, "Success", ("Message", "Already authenticated")))
            return
        self.logged_in = True
        self.write(response(request, "Success", ("Message", "Authentication accepted")))
        if (request.get("Events") or "on").lower() != "off":
            self.write(
                encode(
                    ("Event", "FullyBooted"),
                    ("Privilege", "system,all"),
                    ("Uptime", "514"),
                    ("LastReload", "514"),
                    ("Status", "Fully Booted"),
                )
            )


class FakeAmiServer:
    """``async with FakeAmiServer() as server:`` listens on ``server.port``."""

    def __init__(
        self,
        *,
        username: str = "harness",
        secret: str = "harness-secret",
        challenge: str = "112443435",
        failure_delay: float = 0.05,
        banner: bytes = BANNER,
    ) -> None:
        self.username = username
        self.secret = secret
        self.challenge = challenge
        self.failure_delay = failure_delay
        self.banner = banner
        self.answer_pings = True
        self.accept_logins = True
        self.handlers: dict[str, Handler] = {}
        self.connections: list[FakeConnection] = []
        self.received: list[Message] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> FakeAmiServer:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: FakeConnection(self), "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and drop every connection (Asterisk going away)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for connection in self.connections:
            if connection.transport is not None:
                connection.transport.abort()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.sleep(0)

    async def __aenter__(self) -> FakeAmiServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def live(self) -> list[FakeConnection]:
        return [c for c in self.connections if not c.closed.done()]

    def broadcast(self, data: bytes) -> None:
        """Send ``data`` (whole messages) to every logged-in connection."""
        for connection in self.live:
            if connection.logged_in:
                connection.write(data)

    def actions(self, name: str) -> list[Message]:
        return [m for m in self.received if (m.get("Action") or "").lower() == name.lower()]

    async def wait_for(
        self, predicate: Callable[[], object], timeout: float = 5.0, step: float = 0.005
    ) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(step)


@contextlib.asynccontextmanager
async def serving(**options: Any) -> Any:
    server = FakeAmiServer(**options)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
