"""FastAGI: Asterisk connects over TCP (``AGI(agi://host:port/path?query,args)``) to a
long-running server, one connection per call.

Each connection is an :class:`asyncio.Protocol` around the sans-IO :class:`AgiSession`: bytes
go in, events come out, and the handler awaits one future per command. The server binds to
loopback unless told otherwise, caps concurrent calls, gives Asterisk a deadline for the
environment block, and drains on shutdown. A misbehaving peer (garbage, a trickle, an oversized
line, a reset) gets its connection closed and logged; it never takes the server down.

Time limits, and what each does to the call:

* ``environment_timeout``: from the TCP connect to the end of the environment block (Asterisk
  sends it at once). Past it the socket is closed; no handler ever ran.
* ``call_timeout`` (none by default: a ``Dial`` may last an hour): the handler is cancelled (its
  ``finally`` blocks run), Asterisk gets the ``failure`` line (``AGISTATUS=FAILURE``) and the
  socket is closed.
* A deadline on one command (``asyncio.timeout``/``asyncio.wait_for`` around a ``Call``
  method) stops the *wait*, not the command: Asterisk cannot be interrupted and still sends
  its reply. The connection keeps the session in step: the next command is sent once that
  late reply has arrived (and dropped), never before it (AGI must not be pipelined).
* The ``HANGUP`` line cancels nothing: the call goes on in dead mode (only the commands Asterisk
  allows on a dead channel are sent, the others raise :class:`~agikit.errors.Hangup`), and the
  socket is closed when the handler returns.
* :meth:`FastAGIServer.shutdown` stops accepting, lets the calls in progress finish for up to
  ``grace`` seconds, then cuts off the rest as ``call_timeout`` does.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from .._async_call import Call
from ..app import RouteError, call_environment
from ..commands import NOOP, complete, failure_or_hangup, hangup_unknown, refuse_when_dead
from ..errors import CommandFailed, CommandInFlight, ConnectionClosed, Hangup, ProtocolError
from ..protocol.environment import Environment
from ..protocol.replies import Reply
from ..protocol.session import (
    AgiSession,
    EnvironmentReceived,
    HangupReceived,
    ReplyReceived,
    State,
)
from ..transcript import TranscriptDirectory

T = TypeVar("T")
Handler = Callable[[Call], Awaitable[object]]

log = logging.getLogger("agikit.fastagi")

DEFAULT_PORT = 4573
#: A line Asterisk reads as "the AGI failed": it ends the session with AGISTATUS=FAILURE.
_FAILURE_LINE = b"failure\n"
#: The first line Asterisk writes on a FastAGI connection (res_agi.c launch_netscript).
_FIRST_LINE = b"agi_network: yes\n"
#: At most this much of the environment is gathered before the session reads it (a standard
#: block is about 600 bytes); a peer trickling bytes costs no more than that a piece.
_GATHER = 4096
#: Made directly rather than through loop.create_future() (the same class, one call less).
_Future = asyncio.Future
#: What asks Asterisk whether the channel hung up (see commands.hangup_unknown).
_NOOP = NOOP.request()
_AWAITING_REPLY = State.AWAITING_REPLY
#: How long cancelled handlers get to return at the end of a shutdown before they are abandoned.
_CANCEL_WAIT = 5.0
#: Warnings about misbehaving peers logged per second at most; the rest are counted.
_WARNINGS_PER_SECOND = 20


class ServerStats:
    """Counters of a :class:`FastAGIServer` (for logs and metrics)."""

    __slots__ = (
        "active",
        "calls",
        "cancelled",
        "failed",
        "hung_up",
        "protocol_errors",
        "rejected_busy",
        "rejected_network",
        "running",
        "timed_out",
    )

    def __init__(self) -> None:
        self.calls = 0  # handlers started
        self.active = 0  # connections open now (with a handler or still sending the environment)
        self.running = 0  # handlers running now (what max_calls caps)
        self.failed = 0  # handlers that raised
        self.hung_up = 0  # handlers ended by a hangup
        self.cancelled = 0  # handlers cut off by the end of a shutdown's grace period
        self.rejected_busy = 0  # turned away at max_calls
        self.rejected_network = 0  # turned away by the allowlist
        self.protocol_errors = 0  # peers that broke the protocol
        self.timed_out = 0  # no environment in time, or the call deadline passed

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self) -> str:
        return f"ServerStats({self.as_dict()})"


class FastAGIConnection(asyncio.Protocol):
    """One FastAGI call: the session, the socket, and the runner that ``Call`` uses.

    It stays in :attr:`FastAGIServer.connections` until both its socket is closed and its
    handler has returned, so a drain waits for handlers that outlive their socket too.
    """

    __slots__ = (
        "_call_timeout",
        "_closed_error",
        "_cut_off",
        "_failure",
        "_head",
        "_late",
        "_loop",
        "_pending",
        "_received",
        "_request",
        "_returned",
        "_waiter",
        "server",
        "session",
        "started",
        "task",
        "transport",
    )

    def __init__(self, server: FastAGIServer) -> None:
        self.server = server
        transcripts = server.transcripts
        self.session = (
            AgiSession(max_line=server.max_line, max_environment=server.max_environment)
            if transcripts is None
            else transcripts.session(
                "FastAGI", max_line=server.max_line, max_environment=server.max_environment
            )
        )
        self.transport: asyncio.Transport | None = None
        self.task: asyncio.Task[None] | None = None
        self.started = time.monotonic()
        self._loop = server.loop
        #: The future of the command in flight (or waiting to be sent), and its request.
        self._waiter: asyncio.Future[Any] | None = None
        self._request: Any = None
        #: The reply awaited is a cancelled command's: _request is sent once it has arrived.
        self._late = False
        #: The failure of _request while a NOOP asks whether the channel hung up.
        self._failure: CommandFailed | None = None
        self._returned = False  # the handler has returned
        self._closed_error: BaseException | None = None
        #: Bytes received before the environment was complete (bounded by max_environment).
        self._received = 0
        self._head = b""
        #: The environment's bytes while its end has not arrived (None: given to the session).
        self._pending: bytes | None = b""
        self._call_timeout: asyncio.Timeout | None = None
        self._cut_off = False

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

    def run(self, request: Any) -> asyncio.Future[Any]:
        """Send one command; the future gets its typed result or its error (the async runner
        of :class:`Call`). Not a coroutine: :meth:`data_received` completes the command, so it
        costs one future and no coroutine of its own."""
        session = self.session
        if session.hung_up:
            refuse_when_dead(request, True)
        waiter: asyncio.Future[Any] = _Future(loop=self._loop)
        try:
            if session.state is _AWAITING_REPLY:
                # The wait for an earlier command was cancelled but Asterisk still runs it.
                self._check_late_reply(request)
                self._late = True
            else:  # self._send(request), inlined: once per command
                transport = self.transport
                if (
                    self._closed_error is not None
                    or transport is None
                    # While the handler runs, only _broken and cut_off close the transport, and
                    # they set _closed_error; a command of a task it left is checked here.
                    or (self._returned and transport.is_closing())
                ):
                    raise self._error_for(request)
                transport.write(session.send_command(request.line))
        except ConnectionClosed as closed:
            # With AGIEXITONHANGUP Asterisk closes right after notifying the hangup.
            if session.hung_up:
                raise self._error_for(request) from closed
            raise
        self._waiter = waiter
        self._request = request
        self._failure = None
        return waiter

    def _send(self, request: Any) -> None:
        transport = self.transport
        if self._closed_error is not None or transport is None or transport.is_closing():
            raise self._error_for(request)
        transport.write(self.session.send_command(request.line))

    def _check_late_reply(self, request: Any) -> None:
        """Before waiting for (and dropping) the reply to a command whose wait was cancelled:
        AGI runs one command at a time, so the next one may only be sent after it."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            raise CommandInFlight(
                f"cannot send {_text(request)!r}: another command of this call is awaiting its "
                "reply (run one command at a time)"
            )
        deadline = self._call_timeout
        if deadline is not None and deadline.expired():
            raise TimeoutError(
                f"cannot send {_text(request)!r}: the call deadline passed while a command "
                "was still running"
            )
        if self._closed_error is not None or self.transport is None:
            raise self._error_for(request)
        log.debug("%s: waiting for a cancelled command's reply before %r", self._label(), request)

    def _reply(self, reply: Reply) -> None:
        """The reply to the command in flight: complete its future, or drop the reply when
        that wait was cancelled, or send the command that waited for it, or end a probe."""
        waiter = self._waiter
        if waiter is None:
            log.debug("%s: dropped a reply nobody waits for", self._label())
            return
        if waiter.done():  # cancelled by a per-command timeout: drop the late reply
            self._waiter = None
            return
        request = self._request
        if self._late:  # that was the cancelled command's reply: now send the next one
            self._late = False
            try:
                if self.session.hung_up:
                    refuse_when_dead(request, True)
                self._send(request)
            except Exception as error:
                self._waiter = None
                self._settle_error(waiter, request, error)
            return
        probed = self._failure
        if probed is not None:  # the NOOP's reply: any hangup has been notified by now
            self._failure = None
            self._waiter = None
            self._settle_failure(waiter, request, probed)
            return
        try:
            result = complete(request, reply, self.session.hung_up)
        except Exception as error:
            self._command_failed(waiter, error)
            return
        self._waiter = None
        waiter.set_result(result)

    def _command_failed(self, waiter: asyncio.Future[Any], error: Exception) -> None:
        """``complete`` raised ``error`` for the command in flight: probe for a hangup (a
        live-channel command's failure may be one), or fail the command."""
        request = self._request
        if isinstance(error, CommandFailed):
            if hangup_unknown(request, self.session.hung_up) and self._probe_hangup(waiter, error):
                return
            self._waiter = None
            self._settle_failure(waiter, request, error)
            return
        self._waiter = None
        waiter.set_exception(error)

    def _probe_hangup(self, waiter: asyncio.Future[Any], failure: CommandFailed) -> bool:
        """Send a NOOP to learn whether a failure was a hangup (see ``hangup_unknown``); True
        when it is on its way, False when the failure is decided without it."""
        try:
            self._send(_NOOP)
        except Exception as error:
            if self.session.hung_up and isinstance(error, (ConnectionClosed, Hangup)):
                return False
            self._waiter = None
            waiter.set_exception(error)
            return True
        self._failure = failure
        return True

    def _settle_failure(
        self, waiter: asyncio.Future[Any], request: Any, failure: CommandFailed
    ) -> None:
        outcome = failure_or_hangup(request, failure, self.session.hung_up)
        if outcome is not failure:
            outcome.__cause__ = failure
        waiter.set_exception(outcome)

    def _settle_error(
        self, waiter: asyncio.Future[Any], request: Any, error: BaseException
    ) -> None:
        if isinstance(error, ConnectionClosed) and self.session.hung_up:
            # With AGIEXITONHANGUP Asterisk closes right after notifying the hangup.
            hangup = self._error_for(request)
            hangup.__cause__ = error
            error = hangup
        waiter.set_exception(error)

    def _abandon(self, error: BaseException) -> None:
        """No reply will come for the command in flight (the stream ended or broke)."""
        waiter = self._waiter
        self._waiter = None
        if waiter is None or waiter.done():
            return
        failure = self._failure
        self._failure = None
        self._late = False
        if failure is None:
            self._settle_error(waiter, self._request, error)
        elif self.session.hung_up and isinstance(error, (ConnectionClosed, Hangup)):
            self._settle_failure(waiter, self._request, failure)
        else:
            waiter.set_exception(error)

    def _error_for(self, request: Any) -> BaseException:
        line = _text(request)
        if self.session.hung_up:
            return Hangup(
                "the channel hung up and the connection is closed", command=line, reply=None
            )
        if isinstance(self._closed_error, ConnectionClosed):
            return ConnectionClosed(f"{self._closed_error}; cannot send {line!r}")
        return ConnectionClosed(f"the FastAGI connection is closed; cannot send {line!r}")

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not asserted to be an asyncio.Transport: uvloop's transports are not subclasses.
        self.transport = transport  # type: ignore[assignment]
        server = self.server
        if server.transcripts is not None:
            recorder = getattr(self.session, "recorder", None)
            if recorder is not None:
                recorder.note(f"connection from {self.peer}")
        if server._admit(self):
            server._expect_environment(self)

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is not None:  # a command awaits its reply (so the handler has started)
            try:
                reply = self.session.receive_reply(data)
            except ProtocolError as exc:
                self._broken(exc)
                return
            if reply is not None:  # the usual case: one reply line, all of it
                if self._late or self._failure is not None:
                    self._reply(reply)
                    return
                try:
                    result = complete(self._request, reply, self.session.hung_up)
                except Exception as error:
                    if waiter.done():  # cancelled by a per-command timeout: drop the reply
                        self._waiter = None
                        return
                    self._command_failed(waiter, error)
                    return
                self._waiter = None
                # try/except costs nothing when nothing is raised, unlike contextlib.suppress
                # or asking waiter.done() first.
                try:  # noqa: SIM105
                    waiter.set_result(result)
                except asyncio.InvalidStateError:  # cancelled: the late reply is dropped
                    pass
                return
        elif self.task is None:
            if (
                self._received == 0
                and data.startswith(_FIRST_LINE)
                and len(data) <= self.server.max_environment
            ):  # the usual first read, the whole environment: what _environment_bytes checks
                self._head = _FIRST_LINE
                self._received = len(data)
            elif not self._environment_bytes(data):
                return
            if self._pending or not data.endswith(b"\n\n"):
                data = self._gather(data)
                if not data:
                    return
            if self.session.receive_environment(data) is not None:
                self._start_handler()
                return
        try:
            events = self.session.receive_data(data)
        except ProtocolError as exc:
            self._broken(exc)
            return
        for event in events:
            kind = type(event)
            if kind is ReplyReceived:
                self._reply(event.reply)  # type: ignore[union-attr]
            elif kind is EnvironmentReceived:
                self._start_handler()
            elif kind is HangupReceived:
                log.debug("%s: HANGUP from Asterisk", self._label())

    def eof_received(self) -> bool | None:
        self._end_of_stream()
        return None  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        if (
            self._returned
            and exc is None
            and self._waiter is None
            and type(self.session) is AgiSession
        ):
            # The usual end: the handler has returned and we closed the socket. Nobody can send
            # or wait any more, and no transcript records the end of the stream.
            self.transport = None
            self.server._discard(self)
            return
        self._end_of_stream(exc)
        if self.task is None:
            self.server._awaiting_environment.pop(self, None)
        self.transport = None
        self._release()

    # -- internals ----------------------------------------------------------------------------
    def _environment_bytes(self, data: bytes) -> bool:
        """Check what arrives before the environment is complete: it must start as Asterisk's
        does and stay within max_environment. False (and closed) when it does not."""
        head = self._head
        if len(head) < len(_FIRST_LINE):
            head = self._head = head + data[: len(_FIRST_LINE) - len(head)]
            if not _FIRST_LINE.startswith(head):
                self._broken(ProtocolError(f"not a FastAGI client: it began with {head!r}"))
                return False
        self._received += len(data)
        if self._received > self.server.max_environment:
            limit = self.server.max_environment
            self._broken(ProtocolError(f"no end of the AGI environment within {limit} bytes"))
            return False
        return True

    def _gather(self, data: bytes) -> bytes:
        """The environment's bytes so far once its end is among them, else ``b""`` (kept).

        Asterisk writes the block a line at a time, so it mostly arrives in two or more pieces;
        given whole, the session reads it on its fast path. Only the first _GATHER bytes are
        gathered: the session reads what follows as it comes, checking each line."""
        pending = self._pending
        if pending is None:
            return data
        ended = data.endswith(b"\n\n") or b"\n\n" in pending[-1:] + data
        pending += data
        if ended or len(pending) > _GATHER:
            self._pending = None
            return pending
        self._pending = pending
        return b""

    def _end_of_stream(self, exc: BaseException | None = None) -> None:
        if self._closed_error is not None:
            return
        state = self.session.state
        try:
            if state not in (State.CLOSED, State.ERROR):
                pending = self._pending
                self._pending = None
                if pending:  # what the session has not seen yet comes before the end
                    self.session.receive_data(pending)
                self.session.receive_data(b"")
            reason = "Asterisk closed the FastAGI connection"
            if exc is not None:
                reason = f"{reason} ({exc})"
            self._closed_error = ConnectionClosed(reason)
        except ProtocolError as error:  # EOF inside a line, a reply or the environment
            self._closed_error = error.with_traceback(None)
        self._abandon(self._closed_error)

    def _broken(self, exc: ProtocolError) -> None:
        # Without its traceback: kept on the connection, it would hold the frames (and the
        # connection itself) in a reference cycle.
        exc = exc.with_traceback(None)
        self.server.stats.protocol_errors += 1
        self.server._warn("%s: closing: %s", self._label(), exc)
        self._closed_error = exc
        self._abandon(exc)
        if self.transport is not None:
            self.transport.abort()

    def _environment_overdue(self) -> None:
        if self.task is None and self.transport is not None:
            self.server.stats.timed_out += 1
            self.server._warn(
                "%s: no AGI environment within %.1f s, closing",
                self._label(),
                self.server.environment_timeout,
            )
            self.transport.abort()

    def _start_handler(self) -> None:
        server = self.server
        server._awaiting_environment.pop(self, None)
        if server.max_calls is not None and server.stats.running >= server.max_calls:
            server.stats.rejected_busy += 1
            server._warn(
                "%s: refused, %d calls already (max_calls)", self._label(), server.max_calls
            )
            self._close(failure=True)
            return
        server.stats.calls += 1
        server.stats.running += 1
        # No done callback: _run_handler accounts for its own end (a callback would cost a
        # loop iteration per call). cut_off adds one for a task cancelled before it ran.
        self.task = self._loop.create_task(self._run_handler())

    def _handler_returned(self, task: object = None) -> None:
        if self._returned:
            return
        self._returned = True
        self.server.stats.running -= 1
        self._release()

    def _release(self) -> None:
        """Leave the server's connections once the socket is closed and the handler returned."""
        if self.transport is None and (self.task is None or self._returned):
            self.server._discard(self)
            recorder = getattr(self.session, "recorder", None)
            if recorder is not None:
                recorder.close("the connection is closed")

    async def _run_handler(self) -> None:
        server = self.server
        call = Call(self)
        call_environment.set(call.env)
        failed = False
        try:
            if server.call_timeout is None:
                await server.handler(call)
            else:
                async with asyncio.timeout(server.call_timeout) as self._call_timeout:
                    await server.handler(call)
        except Hangup:
            server.stats.hung_up += 1
            log.debug("%s: the call hung up", self._label())
        except ConnectionClosed as exc:
            if self.session.hung_up:
                server.stats.hung_up += 1
            elif self._cut_off:
                server.stats.cancelled += 1
            else:
                server.stats.failed += 1
                log.warning("%s: %s", self._label(), exc)
        except ProtocolError as exc:
            server.stats.failed += 1
            if self._closed_error is None:  # e.g. a reply code Asterisk never sends
                log.exception("%s: the handler raised", self._label())
                failed = True
            else:  # the peer broke the protocol: logged and closed already
                log.warning("%s: the call ended on a protocol error: %s", self._label(), exc)
        except asyncio.CancelledError:
            # Only the end of a shutdown cancels a handler (it is our task, no one else's).
            server.stats.cancelled += 1
            log.warning("%s: cut off by the server shutting down", self._label())
        except TimeoutError:
            deadline = self._call_timeout
            if deadline is not None and deadline.expired():
                server.stats.timed_out += 1
                log.warning(
                    "%s: the call deadline of %s s passed", self._label(), server.call_timeout
                )
            else:  # the handler's own timeout, not caught
                server.stats.failed += 1
                log.exception("%s: the handler raised", self._label())
            failed = True
        except RouteError as exc:
            server.stats.failed += 1
            log.error("%s: %s", self._label(), exc)
            failed = True
        except Exception:
            server.stats.failed += 1
            log.exception("%s: the handler raised", self._label())
            failed = True
        finally:
            # Closing our side is what ends the AGI for Asterisk; it then continues the dialplan.
            # A failed call first gets the failure line: AGISTATUS=FAILURE, as a process AGI's
            # non-zero exit gives.
            self._close(failure=failed)
            self._handler_returned()

    def _close(self, *, failure: bool) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if failure and self._closed_error is None and not self.session.hung_up:
            transport.write(_FAILURE_LINE)
            recorder = getattr(self.session, "recorder", None)
            if recorder is not None:  # protocol bytes: a replay expects the failure line
                recorder.sent(_FAILURE_LINE)
                recorder.note("the AGI sent the failure line: AGISTATUS=FAILURE")
        transport.close()

    def cut_off(self) -> None:
        """End the call now (a shutdown's grace period is over): cancel the handler, give
        Asterisk the failure line, close the socket. Commands the handler's clean-up code sends
        afterwards raise :class:`ConnectionClosed`."""
        self._cut_off = True
        if self.task is None:  # still sending its environment: not a call yet
            if self.transport is not None:
                self.transport.abort()
            return
        if not self.task.done():
            self.task.cancel()
            # A task cancelled before its first step never runs _run_handler's finally.
            self.task.add_done_callback(self._handler_returned)
        self._close(failure=True)
        if self._closed_error is None:
            self._closed_error = ConnectionClosed("the server shut down during the call")
        self._abandon(self._closed_error)

    @property
    def peer(self) -> str:
        """The peer's address (looked up when a message needs it, not for every call)."""
        transport = self.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)

    def _label(self) -> str:
        environment = self.session.environment
        if environment is None:
            return f"FastAGI {self.peer}"
        return f"FastAGI {environment.uniqueid} {environment.channel}"


def _text(request: Any) -> str:
    line: bytes = request.line
    return line.decode("utf-8", "surrogateescape")


def _parse_networks(allow: Iterable[str] | None) -> list[Any] | None:
    if allow is None:
        return None
    import ipaddress

    return [ipaddress.ip_network(network, strict=False) for network in allow]


class FastAGIServer:
    """A FastAGI server running ``handler(call)`` for every call Asterisk sends.

    ``host`` defaults to loopback: binding elsewhere must be explicit. ``allow`` limits clients
    to networks (``["10.0.0.0/8"]``). ``max_calls`` caps concurrent calls (handlers running): a
    call beyond it is refused with the ``failure`` line as soon as its environment has arrived,
    so ``AGISTATUS=FAILURE`` and the dialplan can fall back; connections still sending their
    environment do not count. ``environment_timeout`` bounds how long a connection may take to
    send the AGI environment, and ``max_environment`` its size in bytes; ``call_timeout``
    (default: none, a ``Dial`` may last an hour) bounds a call. ``max_line`` bounds each line
    Asterisk sends afterwards. ``record`` names a directory to write every call's transcript
    to (see :mod:`agikit.transcript`).
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
        max_environment: int = 64 * 1024,
        reuse_port: bool = False,
        backlog: int = 1024,
        record: str | os.PathLike[str] | None = None,
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.max_calls = max_calls
        self.allow = _parse_networks(allow)
        self.environment_timeout = environment_timeout
        self.call_timeout = call_timeout
        self.max_line = max_line
        self.max_environment = max_environment
        self.reuse_port = reuse_port
        self.backlog = backlog
        self.stats = ServerStats()
        #: Where transcripts go (``record``), or None.
        self.transcripts: TranscriptDirectory | None = None
        if record is not None:
            self.transcripts = TranscriptDirectory(record)
        #: Open connections, and handlers still running after their connection closed.
        self.connections: set[FastAGIConnection] = set()
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopped: asyncio.Event | None = None
        self._warned_at = 0.0
        self._warnings = 0
        self._suppressed = 0
        #: Connections still sending their environment, oldest first (so by deadline), and the
        #: one timer that closes the overdue ones: cheaper than a timer per connection.
        self._awaiting_environment: dict[FastAGIConnection, None] = {}
        self._sweep: asyncio.TimerHandle | None = None

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
                self._warn("FastAGI %s: not in the allowed networks, closing", connection.peer)
                transport.abort()
                return False
        self.connections.add(connection)
        self.stats.active = len(self.connections)
        if len(self.connections) == 1:  # _discard sets it when the last one leaves
            self._idle.clear()
        return True

    def _expect_environment(self, connection: FastAGIConnection) -> None:
        self._awaiting_environment[connection] = None
        if self._sweep is None:
            self._sweep = self.loop.call_later(self.environment_timeout, self._sweep_environments)

    def _sweep_environments(self) -> None:
        """Close the connections whose environment is overdue; come back at the next deadline."""
        self._sweep = None
        waiting = self._awaiting_environment
        timeout = self.environment_timeout
        now = time.monotonic()
        overdue = []
        for connection in waiting:
            if connection.started + timeout > now:
                self._sweep = self.loop.call_later(
                    connection.started + timeout - now, self._sweep_environments
                )
                break
            overdue.append(connection)
        for connection in overdue:
            del waiting[connection]
            connection._environment_overdue()

    def _discard(self, connection: FastAGIConnection) -> None:
        self.connections.discard(connection)
        self.stats.active = len(self.connections)
        if not self.connections:
            self._idle.set()

    def _warn(self, message: str, *args: object) -> None:
        """A warning about a misbehaving peer, at most _WARNINGS_PER_SECOND a second: a flood
        of bad connections must not become a flood of log lines."""
        now = time.monotonic()
        if now - self._warned_at >= 1.0:
            if self._suppressed:
                log.warning("%d more warnings about peers suppressed", self._suppressed)
            self._warned_at, self._warnings, self._suppressed = now, 0, 0
        self._warnings += 1
        if self._warnings <= _WARNINGS_PER_SECOND:
            log.warning(message, *args)
        else:
            self._suppressed += 1

    async def shutdown(self, grace: float = 30.0) -> None:
        """Stop accepting, let calls in progress finish for up to ``grace`` seconds, then cut
        off the rest (their handlers are cancelled, Asterisk gets ``AGISTATUS=FAILURE``) and
        run the app's shutdown hooks. Calling it again waits for the first call to finish."""
        if self._stopped is not None:
            await self._stopped.wait()
            return
        self._stopped = asyncio.Event()
        try:
            await self._drain(grace)
            stop = getattr(self.handler, "stop", None)  # an App's shutdown hooks
            if stop is not None:
                await stop()
        finally:
            self._stopped.set()

    async def _drain(self, grace: float) -> None:
        server = self._server
        if server is not None:
            server.close()  # new connections are refused from now on
        if self.connections:
            log.info("draining %d calls (up to %.0f s)", len(self.connections), grace)
            try:
                await asyncio.wait_for(self._idle.wait(), grace)
            except TimeoutError:
                self.cut_off(f"still running after {grace:.0f} s")
                try:
                    await asyncio.wait_for(self._idle.wait(), _CANCEL_WAIT)
                except TimeoutError:
                    log.error(
                        "%d handlers ignored their cancellation for %.0f s; abandoning them",
                        len(self.connections),
                        _CANCEL_WAIT,
                    )
        if server is not None:
            await server.wait_closed()
            self._server = None
        if self._sweep is not None and not self._awaiting_environment:
            self._sweep.cancel()
            self._sweep = None

    def cut_off(self, reason: str = "cut off") -> None:
        """End every call now (see :meth:`FastAGIConnection.cut_off`)."""
        remaining = list(self.connections)
        if remaining:
            log.warning("cutting off %d calls: %s", len(remaining), reason)
        for connection in remaining:
            connection.cut_off()


def serve(
    handler: Handler,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    grace: float = 30.0,
    **options: Any,
) -> None:
    """Run a FastAGI server until SIGTERM or SIGINT, then drain and return.

    A second SIGTERM or SIGINT during the drain cuts off the calls still running at once.
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
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, server.cut_off, "second signal")
        await server.shutdown(grace)

    try:
        uvloop: Any = importlib.import_module("uvloop")
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
