"""FastAGI: Asterisk connects over TCP (``AGI(agi://host:port/path?query,args)``) to a
long-running server, one connection per call.

Each connection is an :class:`asyncio.Protocol` around the sans-IO :class:`AgiSession`: bytes
go in, events come out, and the handler awaits one future per command. The server binds to
loopback unless told otherwise, caps concurrent calls, gives Asterisk a deadline for the
environment block, and drains on shutdown. A misbehaving peer (garbage, a trickle, an oversized
line, a reset) gets its connection closed and logged; it never takes the server down.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from .._execute import complete, refuse_when_dead
from ..app import RouteError, call_context
from ..call import Call
from ..errors import CommandFailed, ConnectionClosed, Hangup, ProtocolError
from ..protocol.environment import Environment
from ..protocol.replies import Reply
from ..protocol.session import (
    AgiSession,
    EnvironmentReceived,
    HangupReceived,
    ReplyReceived,
    State,
)

T = TypeVar("T")
Handler = Callable[[Call], Awaitable[object]]

log = logging.getLogger("agikit.fastagi")

DEFAULT_PORT = 4573
#: A line Asterisk reads as "the AGI failed": it ends the session with AGISTATUS=FAILURE.
_FAILURE_LINE = b"failure\n"


class ServerStats:
    """Counters of a :class:`FastAGIServer` (for logs and metrics)."""

    __slots__ = (
        "active",
        "calls",
        "failed",
        "hung_up",
        "protocol_errors",
        "rejected_busy",
        "rejected_network",
        "timed_out",
    )

    def __init__(self) -> None:
        self.calls = 0  # handlers started
        self.active = 0  # connections open now
        self.failed = 0  # handlers that raised
        self.hung_up = 0  # handlers ended by a hangup
        self.rejected_busy = 0  # turned away at max_calls
        self.rejected_network = 0  # turned away by the allowlist
        self.protocol_errors = 0  # peers that broke the protocol
        self.timed_out = 0  # no environment in time, or the call deadline passed

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self) -> str:
        return f"ServerStats({self.as_dict()})"


class FastAGIConnection(asyncio.Protocol):
    """One FastAGI call: the session, the socket, and the runner that ``Call`` uses."""

    def __init__(self, server: FastAGIServer) -> None:
        self.server = server
        self.session = AgiSession(max_line=server.max_line)
        self.transport: asyncio.Transport | None = None
        self.peer: str = "?"
        self.task: asyncio.Task[None] | None = None
        self.started = time.monotonic()
        self._loop = server.loop
        self._waiter: asyncio.Future[Reply] | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._closed_error: BaseException | None = None

    # -- the runner interface ---------------------------------------------------------------
    @property
    def environment(self) -> Environment:
        environment = self.session.environment
        if environment is None:
            raise ProtocolError("the AGI environment has not arrived yet")
        return environment

    @property
    def hung_up(self) -> bool:
        return self.session.hung_up

    async def run(self, request: Any) -> Any:
        """Send one command and wait for its reply (the async runner of :class:`Call`)."""
        session = self.session
        refuse_when_dead(request, session.hung_up)
        try:
            reply = await self._exchange(request)
        except ConnectionClosed as closed:
            # With AGIEXITONHANGUP Asterisk closes right after notifying the hangup.
            if session.hung_up:
                raise self._error_for(request) from closed
            raise
        try:
            return complete(request, reply, session.hung_up)
        except CommandFailed as failure:
            if request.dead_ok or session.hung_up:
                raise
            # A command needing a live channel failed. Asterisk reports a detected hangup (the
            # HANGUP line) before it answers the next command, so one NOOP tells the two apart.
            await self._probe_hangup()
            if session.hung_up:
                raise Hangup(
                    "the channel hung up while the command ran",
                    command=failure.command,
                    reply=failure.reply,
                ) from failure
            raise

    def _exchange(self, request: Any) -> asyncio.Future[Reply]:
        if self._closed_error is not None or self.transport is None:
            raise self._error_for(request)
        data = self.session.send_command(request.line)
        waiter: asyncio.Future[Reply] = self._loop.create_future()
        self._waiter = waiter
        self.transport.write(data)
        return waiter

    async def _probe_hangup(self) -> None:
        from ..commands import NOOP

        try:
            await self._exchange(NOOP.request())
        except (ConnectionClosed, Hangup):
            if not self.session.hung_up:
                raise

    def _error_for(self, request: Any) -> BaseException:
        line = request.line.decode("utf-8", "surrogateescape")
        if self.session.hung_up:
            return Hangup(
                "the channel hung up and the connection is closed", command=line, reply=None
            )
        return ConnectionClosed(f"the FastAGI connection is closed; cannot send {line!r}")

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        server = self.server
        if not server._admit(self):
            return
        self._deadline = self._loop.call_later(
            server.environment_timeout, self._environment_overdue
        )

    def data_received(self, data: bytes) -> None:
        try:
            events = self.session.receive_data(data)
        except ProtocolError as exc:
            self._broken(exc)
            return
        for event in events:
            kind = type(event)
            if kind is ReplyReceived:
                waiter = self._waiter
                self._waiter = None
                if waiter is not None and not waiter.done():
                    waiter.set_result(event.reply)  # type: ignore[union-attr]
            elif kind is EnvironmentReceived:
                self._start_handler()
            elif kind is HangupReceived:
                log.debug("%s: HANGUP from Asterisk", self._label())

    def eof_received(self) -> bool | None:
        self._end_of_stream()
        return None  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self._end_of_stream()
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self.transport = None
        self.server._discard(self)

    # -- internals ----------------------------------------------------------------------------
    def _end_of_stream(self) -> None:
        if self._closed_error is not None:
            return
        state = self.session.state
        try:
            if state not in (State.CLOSED, State.ERROR):
                self.session.receive_data(b"")
            self._closed_error = ConnectionClosed("Asterisk closed the FastAGI connection")
        except ProtocolError as exc:  # EOF inside a line, a reply or the environment
            self._closed_error = exc
        waiter = self._waiter
        self._waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(self._closed_error)

    def _broken(self, exc: ProtocolError) -> None:
        self.server.stats.protocol_errors += 1
        log.warning("%s: closing: %s", self._label(), exc)
        self._closed_error = exc
        waiter = self._waiter
        self._waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()

    def _environment_overdue(self) -> None:
        self._deadline = None
        if self.session.state == State.ENVIRONMENT and self.transport is not None:
            self.server.stats.timed_out += 1
            log.warning(
                "%s: no AGI environment within %.1f s, closing",
                self._label(),
                self.server.environment_timeout,
            )
            self.transport.abort()

    def _start_handler(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self.server.stats.calls += 1
        self.task = self._loop.create_task(self._run_handler())

    async def _run_handler(self) -> None:
        server = self.server
        call = Call(self)
        environment = call.env
        call_context.set({"uniqueid": environment.uniqueid, "channel": environment.channel})
        try:
            if server.call_timeout is None:
                await server.handler(call)
            else:
                async with asyncio.timeout(server.call_timeout):
                    await server.handler(call)
        except Hangup:
            server.stats.hung_up += 1
            log.debug("%s: the call hung up", self._label())
        except ConnectionClosed as exc:
            if self.session.hung_up:
                server.stats.hung_up += 1
            else:
                server.stats.failed += 1
                log.warning("%s: %s", self._label(), exc)
        except TimeoutError:
            server.stats.timed_out += 1
            log.warning("%s: the call deadline of %s s passed", self._label(), server.call_timeout)
        except asyncio.CancelledError:
            log.info("%s: handler cancelled (server shutting down)", self._label())
        except RouteError as exc:
            server.stats.failed += 1
            log.error("%s: %s", self._label(), exc)
            self._report_failure()
        except Exception:
            server.stats.failed += 1
            log.exception("%s: the handler raised", self._label())
            self._report_failure()
        finally:
            # Closing our side is what ends the AGI for Asterisk; it then continues the dialplan.
            if self.transport is not None:
                self.transport.close()

    def _report_failure(self) -> None:
        # As a process AGI's non-zero exit does: Asterisk ends the AGI with AGISTATUS=FAILURE.
        if self.transport is not None and self._closed_error is None and not self.hung_up:
            self.transport.write(_FAILURE_LINE)

    def _label(self) -> str:
        environment = self.session.environment
        if environment is None:
            return f"FastAGI {self.peer}"
        return f"FastAGI {environment.uniqueid} {environment.channel}"


def _parse_networks(allow: Iterable[str] | None) -> list[Any] | None:
    if allow is None:
        return None
    import ipaddress

    return [ipaddress.ip_network(network, strict=False) for network in allow]


class FastAGIServer:
    """A FastAGI server running ``handler(call)`` for every call Asterisk sends.

    ``host`` defaults to loopback: binding elsewhere must be explicit. ``allow`` limits clients
    to networks (``["10.0.0.0/8"]``). ``max_calls`` caps concurrent calls: a call beyond it is
    refused at once with the ``failure`` line, so ``AGISTATUS=FAILURE`` and the dialplan can
    fall back. ``environment_timeout`` bounds how long a connection may take to send the AGI
    environment; ``call_timeout`` (default: none, a ``Dial`` may last an hour) bounds a call.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        max_calls: int | None = None,
        allow: Iterable[str] | None = None,
        environment_timeout: float = 10.0,
        call_timeout: float | None = None,
        max_line: int = 1 << 20,
        reuse_port: bool = False,
        backlog: int = 1024,
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.max_calls = max_calls
        self.allow = _parse_networks(allow)
        self.environment_timeout = environment_timeout
        self.call_timeout = call_timeout
        self.max_line = max_line
        self.reuse_port = reuse_port
        self.backlog = backlog
        self.stats = ServerStats()
        self.connections: set[FastAGIConnection] = set()
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the server is not started")
        return self._loop

    @property
    def sockets(self) -> tuple[Any, ...]:
        return tuple(self._server.sockets) if self._server is not None else ()

    @property
    def bound_port(self) -> int:
        """The port actually bound (useful with ``port=0``)."""
        port: int = self.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        """Bind and start accepting calls."""
        self._loop = asyncio.get_running_loop()
        start = getattr(self.handler, "start", None)  # an App's start-up hooks
        if start is not None:
            await start()
        self._server = await self._loop.create_server(
            lambda: FastAGIConnection(self),
            self.host,
            self.port,
            reuse_port=self.reuse_port or None,
            backlog=self.backlog,
        )
        log.info(
            "FastAGI server listening on %s",
            ", ".join(str(s.getsockname()[:2]) for s in self._server.sockets),
        )

    async def __aenter__(self) -> FastAGIServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    def _admit(self, connection: FastAGIConnection) -> bool:
        transport = connection.transport
        assert transport is not None
        if self.allow is not None:
            import ipaddress

            peer = transport.get_extra_info("peername")
            try:
                address = ipaddress.ip_address(peer[0])
            except (TypeError, ValueError, IndexError):
                address = None
            if address is None or not any(address in network for network in self.allow):
                self.stats.rejected_network += 1
                log.warning("FastAGI %s: not in the allowed networks, closing", connection.peer)
                transport.abort()
                return False
        if self.max_calls is not None and len(self.connections) >= self.max_calls:
            self.stats.rejected_busy += 1
            log.warning(
                "FastAGI %s: refused, %d calls already (max_calls)", connection.peer, self.max_calls
            )
            transport.write(_FAILURE_LINE)
            transport.close()
            return False
        self.connections.add(connection)
        self.stats.active = len(self.connections)
        self._idle.clear()
        return True

    def _discard(self, connection: FastAGIConnection) -> None:
        self.connections.discard(connection)
        self.stats.active = len(self.connections)
        if not self.connections:
            self._idle.set()

    async def shutdown(self, grace: float = 30.0) -> None:
        """Stop accepting, let calls in progress finish for up to ``grace`` seconds, then cancel
        the handlers still running and close their connections."""
        if self._server is not None:
            self._server.close()
        if self.connections:
            log.info("draining %d calls (up to %.0f s)", len(self.connections), grace)
            try:
                await asyncio.wait_for(self._idle.wait(), grace)
            except TimeoutError:
                remaining = list(self.connections)
                log.warning("cancelling %d calls still running after %.0f s", len(remaining), grace)
                for connection in remaining:
                    if connection.task is not None:
                        connection.task.cancel()
                    if connection.transport is not None:
                        connection.transport.close()
                await asyncio.sleep(0)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        stop = getattr(self.handler, "stop", None)  # an App's shutdown hooks
        if stop is not None:
            await stop()


def serve(
    handler: Handler,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    grace: float = 30.0,
    **options: Any,
) -> None:
    """Run a FastAGI server until SIGTERM or SIGINT, then drain and return.

    Uses uvloop when it is installed.
    """
    import signal

    async def main() -> None:
        server = FastAGIServer(handler, host=host, port=port, **options)
        await server.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        log.info("shutting down")
        await server.shutdown(grace)

    try:
        uvloop: Any = importlib.import_module("uvloop")
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
