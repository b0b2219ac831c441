"""Async AGI: ``AGI(agi:async)`` hands the channel to an AMI client. Asterisk announces it with
``AsyncAGIStart`` (the environment, URL-encoded), runs commands queued with the ``AGI`` action,
and returns their replies in ``AsyncAGIExec`` events (``Result``, URL-encoded, with the
``CommandId`` we chose); ``AsyncAGIEnd`` ends it.

The bytes of ``Env`` and of every ``Result`` go through the same sans-IO session as FastAGI's
socket, because Asterisk cuts them at 1024 bytes per event: a long environment spills into the
first reply, a long reply into the next ones, and those come only when another command runs.
So when a reply (or the environment) is incomplete, a ``NOOP`` is queued to flush the rest; its
own reply is recognised and dropped. A ``Result`` that hit Asterisk's 2045-character encoding cap
lost its end for good: that command fails with a ``ProtocolError`` and the stream is resynced.

Channels are addressed by their unique ID, which survives renames. Hangups are learnt from the
channel's ``HangupRequest``/``SoftHangupRequest``/``Hangup`` events, which Asterisk sends before
the failed command's ``AsyncAGIExec``. A failed command ends the Async AGI session (Asterisk
continues the dialplan), so there is no hangup probe here. A handler that returns while the
channel is still in Async AGI sends ``ASYNCAGI BREAK``, so the dialplan continues.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from .._execute import complete, refuse_when_dead
from ..ami.client import ActionError, AmiClient
from ..ami.codec import Message
from ..app import RouteError, call_context
from ..call import Call
from ..errors import AGIError, ConnectionClosed, Hangup, ProtocolError
from ..protocol.environment import Environment
from ..protocol.replies import Reply
from ..protocol.session import AgiSession, EnvironmentReceived, ReplyReceived, State

log = logging.getLogger("agikit.asyncagi")

Handler = Callable[[Call], Awaitable[object]]

#: Asterisk URL-encodes each Result into a 2048-byte buffer; a longer encoding is cut here and
#: the rest of that reply is lost (seen on 22.10.1).
_ENCODED_CAP = 2045
_NOOP = b"NOOP"
#: A command travels in the AGI action's ``Command:`` header, and AMI reads lines of at most 1024
#: bytes including the header name and CRLF.
MAX_COMMAND_BYTES = 1024 - len("Command: ") - 2
_HANGUP_EVENTS = frozenset(("hanguprequest", "softhanguprequest", "hangup"))


def _decode(value: str | None) -> bytes:
    return urllib.parse.unquote_to_bytes(value or "")


class AsyncAGIChannel:
    """One channel in Async AGI: its session and the runner its ``Call`` uses."""

    def __init__(self, server: AsyncAGIServer, uniqueid: str, channel: str) -> None:
        self.server = server
        self.uniqueid = uniqueid
        self.channel = channel
        self.session = AgiSession()
        self.task: asyncio.Task[None] | None = None
        self.ended = False
        self._waiter: asyncio.Future[Reply] | None = None
        self._expected: list[str] = []  # "command" or "flush", in the order they were queued
        self._in_transit: set[str] = set()  # CommandIDs queued whose AsyncAGIExec is still due

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
        session = self.session
        refuse_when_dead(request, session.hung_up)
        if self.ended:
            raise self._ended_error(request)
        line = session.send_command(request.line)[:-1]
        waiter: asyncio.Future[Reply] = self.server.loop.create_future()
        self._waiter = waiter
        self._expected.append("command")
        try:
            await self._queue(line)
        except BaseException:
            self._waiter = None
            raise
        try:
            reply = await waiter
        except ConnectionClosed as closed:
            if session.hung_up:
                raise self._ended_error(request) from closed
            raise
        return complete(request, reply, session.hung_up)

    async def _queue(self, line: bytes) -> None:
        command_id = self.server._next_command_id()
        self._in_transit.add(command_id)
        try:
            await self.server.ami.action(
                "AGI",
                {
                    "Channel": self.uniqueid,
                    "Command": line.decode("utf-8", "surrogateescape"),
                    "CommandID": command_id,
                },
            )
        except ActionError as exc:
            # "Channel ... does not exist." or "Failed to add AGI command ..." : it is gone.
            self._in_transit.discard(command_id)
            self._end(ConnectionClosed(f"Asterisk refused the command: {exc}"))
            raise self._closed_error() from exc

    def _ended_error(self, request: Any) -> AGIError:
        line = request.line.decode("utf-8", "surrogateescape")
        if self.session.hung_up:
            return Hangup("the channel hung up and its Async AGI ended", command=line, reply=None)
        return ConnectionClosed(f"the Async AGI session has ended; cannot send {line!r}")

    def _closed_error(self) -> AGIError:
        return ConnectionClosed("the Async AGI session has ended")

    # -- events -----------------------------------------------------------------------------
    def start(self, event: Message) -> None:
        """``AsyncAGIStart``: feed the environment; start the handler once it is whole."""
        encoded = event.get("Env") or ""
        data = _decode(encoded)
        events = self.session.receive_data(data)
        if any(type(e) is EnvironmentReceived for e in events):
            self._start_handler()
            return
        # The environment was cut at 1024 bytes: the rest comes with the next command's result.
        self._request_flush()

    def _request_flush(self) -> None:
        self._expected.append("flush")
        self.server.spawn(self._flush())

    async def _flush(self) -> None:
        try:
            await self._queue(_NOOP)
        except AGIError as exc:
            log.debug("%s: flush not queued: %s", self.channel, exc)

    def exec(self, event: Message) -> None:
        """``AsyncAGIExec``: the bytes of a reply (or of several, or part of one)."""
        self._in_transit.discard(event.get("CommandId") or "")
        encoded = event.get("Result") or ""
        data = _decode(encoded)
        if len(encoded) >= _ENCODED_CAP and not encoded.endswith("%0A"):
            self._truncated(encoded)
            return
        # Line by line, so that replies to flushes can be accounted for between replies.
        start = 0
        while start < len(data):
            end = data.find(b"\n", start)
            end = len(data) if end < 0 else end + 1
            try:
                self._feed(data[start:end])
            except ProtocolError as exc:
                self._fail_waiter(exc)
                self._resync()
                return
            start = end
        if not self._in_transit and self.session.state in (State.ENVIRONMENT, State.AWAITING_REPLY):
            # Bytes are missing (a reply or environment over 1024 bytes) and no queued command
            # will bring them: Asterisk sends the rest with the next command's result.
            self._request_flush()

    def _feed(self, chunk: bytes) -> None:
        session = self.session
        for item in session.receive_data(chunk):
            kind = type(item)
            if kind is EnvironmentReceived:
                if self._expected and self._expected[0] == "flush":
                    session.send_command(_NOOP)  # its reply follows the environment's rest
                self._start_handler()
            elif kind is ReplyReceived:
                expected = self._expected.pop(0) if self._expected else "command"
                if expected == "command":
                    waiter = self._waiter
                    self._waiter = None
                    if waiter is not None and not waiter.done():
                        waiter.set_result(item.reply)  # type: ignore[union-attr]
                if self._expected and self._expected[0] == "flush" and session.state == State.IDLE:
                    session.send_command(_NOOP)

    def _limit_line(self) -> None:
        session = self.session
        session.max_command_bytes = min(session.max_command_bytes, MAX_COMMAND_BYTES)

    def _truncated(self, encoded: str) -> None:
        log.warning(
            "%s: Asterisk cut an Async AGI result at %d encoded bytes; its end is lost",
            self.channel,
            len(encoded),
        )
        self._fail_waiter(
            ProtocolError(
                "Asterisk truncated this command's result (Async AGI results are cut at "
                f"{_ENCODED_CAP} URL-encoded bytes); use FastAGI for replies this long"
            )
        )
        self._resync()

    def _resync(self) -> None:
        # A fresh session primed with the environment: the partial reply is gone for good.
        old = self.session
        self.session = AgiSession()
        if old.environment is not None:
            self.session.receive_data(old.environment.to_bytes())
        hung_up = old.hung_up
        if hung_up:
            self.session.hangup_signalled()
        self._limit_line()
        self._expected.clear()
        self._in_transit.clear()

    def _fail_waiter(self, error: BaseException) -> None:
        waiter = self._waiter
        self._waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def hangup(self) -> None:
        self.session.hangup_signalled()

    def end(self) -> None:
        """``AsyncAGIEnd``: Asterisk left Async AGI for this channel."""
        self._end(ConnectionClosed("the Async AGI session ended"))

    def _end(self, error: AGIError) -> None:
        self.ended = True
        self._fail_waiter(error)

    def _start_handler(self) -> None:
        self._limit_line()
        if self.task is None:
            self.task = self.server.loop.create_task(self._run_handler())

    async def _run_handler(self) -> None:
        server = self.server
        call = Call(self)
        call_context.set({"uniqueid": self.uniqueid, "channel": self.channel})
        try:
            await server.handler(call)
        except Hangup:
            log.debug("%s: the call hung up", self.channel)
        except ConnectionClosed as exc:
            if not self.session.hung_up:
                log.warning("%s: %s", self.channel, exc)
        except RouteError as exc:
            log.error("%s: %s", self.channel, exc)
        except Exception:
            log.exception("%s: the handler raised", self.channel)
        finally:
            if not self.ended and not self.session.hung_up:
                # Hand the channel back to the dialplan.
                try:
                    await self.run(_break_request())
                except AGIError as exc:
                    log.debug("%s: ASYNCAGI BREAK: %s", self.channel, exc)
            server._forget(self)


def _break_request() -> Any:
    from ..commands import ASYNCAGI_BREAK

    return ASYNCAGI_BREAK.request()


class AsyncAGIServer:
    """Runs ``handler(call)`` for every channel that enters ``AGI(agi:async)``, over one AMI
    connection (its user needs the ``agi`` read and write classes; events must include ``agi``
    and ``call``). Hundreds of channels share the connection."""

    def __init__(self, handler: Handler, ami: AmiClient) -> None:
        self.handler = handler
        self.ami = ami
        self.channels: dict[str, AsyncAGIChannel] = {}
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the Async AGI server is not started")
        return self._loop

    def _next_command_id(self) -> str:
        return f"agikit-{next(self._ids)}"

    def spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        start = getattr(self.handler, "start", None)
        if start is not None:
            await start()
        self.ami.on(
            "AsyncAGIStart", "AsyncAGIExec", "AsyncAGIEnd", "HangupRequest",
            "SoftHangupRequest", "Hangup", "AgikitDisconnected",
        )(self._on_event)  # fmt: skip

    async def stop(self, grace: float = 30.0) -> None:
        """Stop taking new channels; let running handlers finish up to ``grace`` seconds."""
        self.ami.remove_callback(self._on_event)
        if self.channels:
            try:
                await asyncio.wait_for(self._idle.wait(), grace)
            except TimeoutError:
                for channel in list(self.channels.values()):
                    if channel.task is not None:
                        channel.task.cancel()
        stop = getattr(self.handler, "stop", None)
        if stop is not None:
            await stop()

    def _on_event(self, event: Message) -> None:
        name = (event.event or "").lower()
        if name == "agikitdisconnected":
            # Replies sent while the connection was down are lost: fail what waits for them.
            for channel in list(self.channels.values()):
                channel._end(ConnectionClosed("the AMI connection was lost"))
            return
        uniqueid = event.get("Uniqueid") or ""
        if name == "asyncagistart":
            if uniqueid in self.channels:
                log.warning("%s: AsyncAGIStart for a channel already in Async AGI", uniqueid)
            channel = AsyncAGIChannel(self, uniqueid, event.get("Channel") or uniqueid)
            self.channels[uniqueid] = channel
            self._idle.clear()
            try:
                channel.start(event)
            except ProtocolError as exc:
                log.error("%s: bad Async AGI environment: %s", channel.channel, exc)
                self._forget(channel)
            return
        known = self.channels.get(uniqueid)
        if known is None:
            return
        channel = known
        if name == "asyncagiexec":
            channel.exec(event)
        elif name == "asyncagiend":
            channel.end()
        elif name in _HANGUP_EVENTS:
            channel.hangup()

    def _forget(self, channel: AsyncAGIChannel) -> None:
        if self.channels.get(channel.uniqueid) is channel:
            del self.channels[channel.uniqueid]
        if not self.channels:
            self._idle.set()


async def serve(
    handler: Handler,
    ami: AmiClient,
) -> None:
    """Run Async AGI for ``handler`` on a connected ``ami`` client until cancelled."""
    server = AsyncAGIServer(handler, ami)
    await server.start()
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


__all__ = ["AsyncAGIChannel", "AsyncAGIServer", "serve"]
