"""Async AGI: ``AGI(agi:async)`` hands the channel to an AMI client. Asterisk announces it with
``AsyncAGIStart`` (the environment, URL-encoded), runs commands queued with the ``AGI`` action,
and returns their replies in ``AsyncAGIExec`` events (``Result``, URL-encoded, with the
``CommandId`` we chose); ``AsyncAGIEnd`` ends it.

The bytes of ``Env`` and of every ``Result`` go through the same sans-IO session as FastAGI's
socket, because Asterisk cuts them at 1024 bytes per event: a long environment spills into the
first reply, a long reply into the next ones, and those come only when another command runs.
So when a reply (or the environment) is incomplete, a ``NOOP`` is queued to flush the rest; its
own reply is recognised and dropped. The handler's next command waits until the flush is done.

A ``Result`` (or ``Env``) that hit Asterisk's 2047-character encoding cap lost its end for good,
and what Asterisk still holds of that reply would be read as the start of the next one. So the
command fails with a :class:`~agikit.errors.ProtocolError` (a cut environment is only logged)
and the stream is resynchronised: ``GET FULL VARIABLE <token>`` is queued, and everything up to
its reply, ``200 result=1 (<token>)``, is dropped. The next command works again.

Channels are addressed by their unique ID, which survives renames. Only ``AsyncAGIExec`` events
carrying a ``CommandId`` this server queued for the channel are read (a command queued before an
AMI ``Redirect`` runs in the next session and is not that session's). Hangups are learnt from
the channel's ``HangupRequest``/``SoftHangupRequest``/``Hangup`` events, which Asterisk sends
before the failed command's ``AsyncAGIExec``. A command that fails (``AGIExecEnd`` with
``ResultCode: -1``, sent before its ``AsyncAGIExec``) ends the Async AGI session, and the
dialplan continues: the handler gets that command's result (:class:`CommandFailed`, or
:class:`Hangup`), then :class:`ConnectionClosed` for any later command, which is not sent (it
would wait in the channel's queue and run if the channel ever re-entered Async AGI). A channel
that no longer exists (``Response: Error``, ``... does not exist.``) counts as hung up.

A handler that returns while the channel is still in Async AGI sends ``ASYNCAGI BREAK``, so the
dialplan continues. If the AMI connection drops, the running handlers get
:class:`ConnectionClosed` (replies sent meanwhile are lost); once it is back, each of their
channels still in Async AGI is sent ``ASYNCAGI BREAK`` so that it does not wait forever.
A masquerade (e.g. AMI ``Bridge``) ends the session with no event at all; put a deadline on
handlers that must survive one.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import os
import random
import urllib.parse
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from .._async_call import Call
from ..ami.client import AmiClient, AmiError
from ..ami.codec import Message
from ..app import RouteError, call_environment
from ..commands import ASYNCAGI_BREAK, complete, refuse_when_dead
from ..errors import AGIError, CommandInFlight, ConnectionClosed, Hangup, ProtocolError
from ..protocol.environment import Environment
from ..protocol.replies import Reply
from ..protocol.session import AgiSession, EnvironmentReceived, ReplyReceived, State
from ..transcript import TranscriptDirectory

log = logging.getLogger("agikit.asyncagi")

Handler = Callable[[Call], Awaitable[object]]

#: Asterisk URL-encodes each ``Env`` and ``Result`` into a 2048-byte buffer, stopping before a
#: ``%XX`` that does not fit: an encoding of 2045 characters or more may have lost its end.
_ENCODED_CAP = 2045
#: Asterisk reads the environment, and each command's output, 1024 bytes at a time.
_READ_SIZE = 1024
#: A command travels in the AGI action's ``Command:`` header, and AMI reads lines of at most 1024
#: bytes including the header name and CRLF.
MAX_COMMAND_BYTES = 1024 - len("Command: ") - 2
#: The longest reply line put together from ``Result`` pieces.
_MAX_LINE = 1 << 20
_HANGUP_EVENTS = frozenset(("hanguprequest", "softhanguprequest", "hangup"))
_NOOP = b"NOOP"

# What each queued command's reply is, in the order the replies come out of Asterisk's pipe.
_COMMAND = "command"  # the handler's command
_FLUSH = "flush"  # a NOOP bringing the rest of an incomplete reply or environment
_SYNC = "sync"  # GET FULL VARIABLE <token>: bytes up to its reply are dropped


def _decode(value: str | None) -> bytes:
    return urllib.parse.unquote_to_bytes(value or "")


def _cut(encoded: str, data: bytes, end: bytes) -> bool:
    """Whether Asterisk's encoding cap cut this ``Result``/``Env``: it is at the cap, holds less
    than a whole 1024-byte read, and does not end as a complete one does (``end``)."""
    return len(encoded) >= _ENCODED_CAP and len(data) < _READ_SIZE and not data.endswith(end)


def _is_break(line: bytes) -> bool:
    """``ASYNCAGI BREAK`` (command words are case-insensitive): Async AGI ends after it."""
    return line[:8].upper() == b"ASYNCAGI" and line.upper().split()[:2] == [b"ASYNCAGI", b"BREAK"]


class AsyncAGIChannel:
    """One channel in Async AGI: its session and the runner its ``Call`` uses."""

    def __init__(self, server: AsyncAGIServer, uniqueid: str, channel: str) -> None:
        self.server = server
        self.uniqueid = uniqueid
        self.channel = channel
        self.session = AgiSession()
        self.task: asyncio.Task[None] | None = None
        #: Asterisk has left (or is leaving) Async AGI on this channel: nothing more is sent.
        self.ended = False
        self._waiter: asyncio.Future[Reply] | None = None
        self._expected: deque[str] = deque()
        self._in_transit: set[str] = set()  # CommandIDs queued whose AsyncAGIExec is still due
        self._partial = bytearray()  # the start of a line whose end is in a later Result
        self._sync_reply = b""
        self._breaking = False  # the command in flight is ASYNCAGI BREAK
        self._failing = False  # AGIExecEnd said the running command failed: the session ends
        self._changed: asyncio.Future[None] | None = None
        transcripts = server.transcripts
        #: The call's transcript: the handler's commands and their replies (not the server's
        #: own flushes and resynchronisations, which a replay has no use for).
        self.recorder = (
            None if transcripts is None else transcripts.recorder(f"Async AGI {channel}")
        )

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
        """Queue one command and wait for its reply (the async runner of :class:`Call`)."""
        refuse_when_dead(request, self.session.hung_up)
        # The rest of an earlier reply is still being flushed out of Asterisk: it comes first.
        while True:
            if self.ended:
                raise self._ended_error(request)
            if self._waiter is not None:
                raise CommandInFlight(
                    f"cannot send {request.line[:60]!r}: the previous command is still awaiting "
                    "its reply"
                )
            if not self._expected:
                break
            await self._settle()
        session = self.session
        line = session.send_command(request.line)[:-1]
        if self.recorder is not None:
            self.recorder.sent(line + b"\n")
        loop = self.server.loop
        waiter: asyncio.Future[Reply] = loop.create_future()
        self._waiter = waiter
        self._breaking = _is_break(line)
        self._expected.append(_COMMAND)
        self._send(line)
        try:
            reply = await waiter
        except ConnectionClosed as closed:
            if self.session.hung_up:
                raise self._ended_error(request) from closed
            raise
        except asyncio.CancelledError:
            # The command may still run; the next one waits for its reply (and drops it).
            if self._waiter is waiter:
                self._waiter = None
            raise
        return complete(request, reply, self.session.hung_up)

    def _send(self, line: bytes) -> None:
        """Queue ``line`` with the AGI action, without waiting for the response (the reply's
        event comes after it anyway). A failure ends the channel (and fails the waiter):
        the command cannot run, or whether Asterisk queued it is unknown."""
        command_id = self.server._next_command_id()
        self._in_transit.add(command_id)
        headers = {
            "Channel": self.uniqueid,
            "Command": line.decode("utf-8", "surrogateescape"),
            "CommandID": command_id,
        }
        try:
            response = self.server.ami.send_action("AGI", headers)
        except AGIError as exc:  # not connected (AmiDisconnected), or cannot be encoded
            self._in_transit.discard(command_id)
            self._end(ConnectionClosed(f"cannot queue {line[:60]!r}: {exc}"))
            return
        response.add_done_callback(functools.partial(self._queued, command_id, line))

    def _queued(self, command_id: str, line: bytes, response: asyncio.Future[Message]) -> None:
        if response.cancelled():
            return
        error = response.exception()
        if error is not None:
            self._end(ConnectionClosed(f"the AMI connection failed while queueing: {error}"))
            return
        if response.result().response == "Error":
            # "Channel ... does not exist." or "Failed to add AGI command to channel ... queue".
            self._in_transit.discard(command_id)
            message = response.result().get("Message") or ""
            if message.endswith("does not exist."):
                self.session.hangup_signalled()
            self._end(ConnectionClosed(f"Asterisk refused the command {line[:60]!r}: {message}"))

    def _request(self, kind: str, line: bytes) -> None:
        """Queue an internal command (a flush or a resynchronisation)."""
        self._expected.append(kind)
        self._send(line)

    async def _settle(self) -> None:
        changed = self._changed
        if changed is None or changed.done():
            changed = self._changed = self.server.loop.create_future()
        await changed

    def _wake(self) -> None:
        changed = self._changed
        if changed is not None and not changed.done():
            changed.set_result(None)

    def _ended_error(self, request: Any) -> AGIError:
        line = request.line.decode("utf-8", "surrogateescape")
        if self.session.hung_up:
            return Hangup("the channel hung up and its Async AGI ended", command=line, reply=None)
        return ConnectionClosed(f"the Async AGI session has ended; cannot send {line!r}")

    # -- events -----------------------------------------------------------------------------
    def start(self, event: Message) -> None:
        """``AsyncAGIStart``: feed the environment; start the handler once it is whole."""
        encoded = event.get("Env") or ""
        data = _decode(encoded)
        if _cut(encoded, data, b"\n\n"):
            log.warning(
                "%s: Asterisk cut the Async AGI environment at %d encoded bytes; the values "
                "around byte %d are lost (keep caller names and AGI() arguments short)",
                self.channel,
                len(encoded),
                len(data),
            )
            self._receive(data)
            self._resync()
        else:
            self._receive(data)
            if self.session.state is State.ENVIRONMENT:
                # Over 1024 bytes: the rest comes with the next command's result.
                self._request(_FLUSH, _NOOP)

    def exec(self, event: Message) -> None:
        """``AsyncAGIExec``: the bytes of a reply (or of several, or part of one)."""
        command_id = event.get("CommandId") or ""
        if command_id in self._in_transit:
            self._in_transit.discard(command_id)
            encoded = event.get("Result") or ""
            data = _decode(encoded)
            if _cut(encoded, data, b"\n"):
                self._truncated(encoded, data)
            else:
                self._receive(data)
        else:
            log.debug("%s: AsyncAGIExec of a command not ours (%r)", self.channel, command_id)
        if self._failing:
            self._failing = False
            self._end(ConnectionClosed("Asterisk ended the Async AGI session: a command failed"))
        elif not self.ended and not self._in_transit and self._incomplete():
            # Bytes are missing (a reply or environment over 1024 bytes) and no queued command
            # will bring them: Asterisk sends the rest with the next command's result.
            self._request(_FLUSH, _NOOP)
        self._wake()

    def exec_end(self, event: Message) -> None:
        """``AGIExecEnd`` with ``ResultCode: -1``: the session ends after this command."""
        self._failing = True

    def hangup(self) -> None:
        if self.recorder is not None and not self.session.hung_up:
            self.recorder.note("hangup: the channel hung up")
        self.session.hangup_signalled()

    def end(self) -> None:
        """``AsyncAGIEnd``: Asterisk left Async AGI for this channel."""
        self._end(ConnectionClosed("the Async AGI session ended"))

    def _incomplete(self) -> bool:
        return bool(self._expected or self._partial) or self.session.state is State.ENVIRONMENT

    # -- bytes ------------------------------------------------------------------------------
    def _receive(self, data: bytes) -> None:
        """Split into lines (a line may span Results) and hand each to :meth:`_line`."""
        partial = self._partial
        start = 0
        end = data.find(b"\n")
        while end >= 0:
            if partial:
                partial += data[start:end]
                line = bytes(partial)
                partial.clear()
            else:
                line = data[start:end]
            self._line(line)
            start = end + 1
            end = data.find(b"\n", start)
        if start < len(data):
            partial += data[start:]
            if len(partial) > _MAX_LINE:
                partial.clear()
                self._lost(ProtocolError(f"a reply line longer than {_MAX_LINE} bytes"))

    def _line(self, line: bytes) -> None:
        expected = self._expected
        session = self.session
        if expected and expected[0] is _SYNC:
            if line.endswith(self._sync_reply):
                # Before it: the cut environment's last line, if that was the cut (no spill).
                rest = line[: -len(self._sync_reply)]
                if session.state is State.ENVIRONMENT:
                    if rest:
                        self._feed(rest)
                    self._feed(b"")  # no more environment will come
                expected.popleft()
                self._arm()
            elif session.state is State.ENVIRONMENT:
                self._feed(line)  # the spilt rest of an environment that lost bytes
            return
        self._feed(line)

    def _feed(self, line: bytes) -> None:
        try:
            events = self.session.receive_data(line + b"\n")
        except ProtocolError as exc:
            self._lost(exc)
            return
        for item in events:
            if type(item) is ReplyReceived:
                kind = self._expected.popleft() if self._expected else _FLUSH
                if kind is _COMMAND:
                    if self.recorder is not None:
                        self.recorder.received(b"".join(x + b"\n" for x in item.reply.lines))
                    if self._breaking:
                        self.ended = True  # Asterisk leaves Async AGI now
                    waiter = self._waiter
                    self._waiter = None
                    if waiter is not None and not waiter.done():
                        waiter.set_result(item.reply)
                self._arm()
            elif type(item) is EnvironmentReceived:
                if self.recorder is not None:
                    environment = item.environment
                    self.recorder.received(environment.to_bytes())
                    self.recorder.environment_complete(environment)
                self._start_handler()
                self._arm()

    def _arm(self) -> None:
        """Make the session await the next flush's reply (a handler's command arms it itself)."""
        expected = self._expected
        if expected and expected[0] is _FLUSH and self.session.state is State.IDLE:
            self.session.send_command(_NOOP)

    def _truncated(self, encoded: str, data: bytes) -> None:
        log.warning(
            "%s: Asterisk cut an Async AGI result at %d encoded bytes; its end is lost",
            self.channel,
            len(encoded),
        )
        # What precedes the cut is intact: whole replies in it still count.
        self._receive(data[: data.rfind(b"\n") + 1])
        self._lost(
            ProtocolError(
                "Asterisk truncated this command's result (Async AGI results are cut at "
                f"{_ENCODED_CAP} URL-encoded bytes); use FastAGI for replies this long"
            )
        )

    def _lost(self, error: ProtocolError) -> None:
        """Bytes of the stream are lost or garbled: fail the command, drop the rest."""
        if self.recorder is not None:  # no reply line to record: say why
            self.recorder.note(f"the reply is lost: {error}")
        self._fail_waiter(error)
        self._partial.clear()
        old = self.session
        if old.environment is None:
            if old.state is State.ERROR:
                log.error("%s: bad Async AGI environment: %s", self.channel, error)
                self._end(ConnectionClosed(f"bad Async AGI environment: {error}"))
                return
        else:
            # A fresh session primed with the environment: the partial reply is gone for good.
            self.session = AgiSession()
            self.session.receive_data(old.environment.to_bytes())
            if old.hung_up:
                self.session.hangup_signalled()
            self._limit_line()
        self._resync()

    def _resync(self) -> None:
        """Drop every byte up to the reply of a ``GET FULL VARIABLE`` with a fresh token."""
        self._expected.clear()
        self._breaking = False
        token = self.server._next_sync_token()
        self._sync_reply = b"200 result=1 (" + token + b")"
        self._request(_SYNC, b"GET FULL VARIABLE " + token)

    def _limit_line(self) -> None:
        session = self.session
        session.max_command_bytes = min(session.max_command_bytes, MAX_COMMAND_BYTES)

    def _fail_waiter(self, error: BaseException) -> None:
        waiter = self._waiter
        self._waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def _end(self, error: AGIError) -> None:
        self.ended = True
        self._fail_waiter(error)
        self._wake()
        if self.task is None:
            self.server._forget(self)  # the environment never completed: no handler to wait for

    def _start_handler(self) -> None:
        self._limit_line()
        if self.task is None and not self.ended:
            self.task = self.server.loop.create_task(self._run_handler())

    async def _run_handler(self) -> None:
        server = self.server
        call = Call(self)
        call_environment.set(call.env)
        try:
            await server.handler(call)
        except Hangup:
            log.debug("%s: the call hung up", self.channel)
        except ConnectionClosed as exc:
            if not self.session.hung_up:
                log.warning("%s: %s", self.channel, exc)
        except RouteError as exc:
            log.error("%s: %s", self.channel, exc)
        except asyncio.CancelledError:
            log.info("%s: handler cancelled (server shutting down)", self.channel)
            raise
        except Exception:
            log.exception("%s: the handler raised", self.channel)
        finally:
            recorder, self.recorder = self.recorder, None
            if recorder is not None:  # the handler is done: what follows is the server's
                recorder.note("the handler is done")
            if not self.ended and not self.session.hung_up:
                # Hand the channel back to the dialplan.
                try:
                    await self.run(ASYNCAGI_BREAK.request())
                except AGIError as exc:
                    log.debug("%s: ASYNCAGI BREAK: %s", self.channel, exc)
            server._forget(self)


class AsyncAGIServer:
    """Runs ``handler(call)`` for every channel that enters ``AGI(agi:async)``, over one AMI
    connection (its user needs the ``agi`` read and write classes; events must include ``agi``
    and ``call``). Hundreds of channels share the connection."""

    def __init__(
        self, handler: Handler, ami: AmiClient, *, record: str | os.PathLike[str] | None = None
    ) -> None:
        self.handler = handler
        self.ami = ami
        #: Where transcripts go (``record``: a directory, see :mod:`agikit.transcript`), or None.
        self.transcripts = None if record is None else TranscriptDirectory(record)
        self.channels: dict[str, AsyncAGIChannel] = {}
        self._ids = itertools.count(1)
        self._token = f"agikit-sync-{random.getrandbits(32):08x}-"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        #: Channels whose handler the loss of the AMI connection ended: sent ASYNCAGI BREAK
        #: once it is back.
        self._orphans: set[str] = set()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the Async AGI server is not started")
        return self._loop

    def _next_command_id(self) -> str:
        return f"agikit-{next(self._ids)}"

    def _next_sync_token(self) -> bytes:
        return f"{self._token}{next(self._ids)}".encode()

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
            "AsyncAGIStart", "AsyncAGIExec", "AGIExecEnd", "AsyncAGIEnd", "HangupRequest",
            "SoftHangupRequest", "Hangup", "AgikitDisconnected", "AgikitReconnected",
        )(self._on_event)  # fmt: skip

    async def stop(self, grace: float = 30.0) -> None:
        """Stop taking new channels; let running handlers finish up to ``grace`` seconds, then
        cancel them (each still in Async AGI is sent ``ASYNCAGI BREAK``)."""
        self._stopping = True
        if self.channels:
            try:
                await asyncio.wait_for(self._idle.wait(), grace)
            except TimeoutError:
                tasks = [c.task for c in self.channels.values() if c.task is not None]
                for task in tasks:
                    task.cancel()
                if tasks:
                    await asyncio.wait(tasks, timeout=5.0)
        self.ami.remove_callback(self._on_event)
        stop = getattr(self.handler, "stop", None)
        if stop is not None:
            await stop()

    def _on_event(self, event: Message) -> None:
        name = (event.event or "").lower()
        if name == "agiexecend" and event.get("ResultCode") != "-1":
            return  # the common case, settled without looking further into the event
        channel = self.channels.get(event.get("Uniqueid") or "")
        if channel is not None:
            if name == "asyncagiexec":
                channel.exec(event)
                return
            if name == "agiexecend":
                channel.exec_end(event)
                return
            if name in _HANGUP_EVENTS:
                channel.hangup()
                return
            if name == "asyncagiend":
                channel.end()
                return
        if name == "asyncagistart":
            self._start(event, channel)
        elif name == "agikitdisconnected":
            # Replies sent while the connection was down are lost: fail what waits for them.
            for known in list(self.channels.values()):
                if not known.ended and not known.hung_up:
                    self._orphans.add(known.uniqueid)
                known._end(ConnectionClosed("the AMI connection was lost"))
        elif name == "agikitreconnected":
            orphans, self._orphans = self._orphans, set()
            for uniqueid in orphans:
                self.spawn(self._release(uniqueid))

    def _start(self, event: Message, previous: AsyncAGIChannel | None) -> None:
        uniqueid = event.get("Uniqueid") or ""
        name = event.get("Channel") or uniqueid
        if self._stopping:
            log.info("%s: entered Async AGI while the server stops: left alone", name)
            return
        if "Env" not in event or not uniqueid:
            log.error("%s: AsyncAGIStart without Env or Uniqueid: %r", name, event)
            return
        if previous is not None:
            # The earlier session's AsyncAGIEnd was missed (or is still due): it is over.
            previous._end(ConnectionClosed("Asterisk started a new Async AGI session"))
        channel = AsyncAGIChannel(self, uniqueid, name)
        self.channels[uniqueid] = channel
        self._idle.clear()
        channel.start(event)

    async def _release(self, uniqueid: str) -> None:
        try:
            await self.ami.action(
                "AGI",
                {
                    "Channel": uniqueid,
                    "Command": "ASYNCAGI BREAK",
                    "CommandID": self._next_command_id(),
                },
            )
        except (AmiError, TimeoutError) as exc:
            log.debug("%s: ASYNCAGI BREAK after reconnecting: %s", uniqueid, exc)
        else:
            log.info("%s: sent ASYNCAGI BREAK after the AMI connection came back", uniqueid)

    def _forget(self, channel: AsyncAGIChannel) -> None:
        recorder, channel.recorder = channel.recorder, None
        if recorder is not None:
            recorder.close()
        if self.channels.get(channel.uniqueid) is channel:
            del self.channels[channel.uniqueid]
        if not self.channels:
            self._idle.set()


async def serve(
    handler: Handler, ami: AmiClient, *, record: str | os.PathLike[str] | None = None
) -> None:
    """Run Async AGI for ``handler`` on a connected ``ami`` client until cancelled
    (``record``: a directory for the calls' transcripts)."""
    server = AsyncAGIServer(handler, ami, record=record)
    await server.start()
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


__all__ = ["MAX_COMMAND_BYTES", "AsyncAGIChannel", "AsyncAGIServer", "serve"]
