"""Process AGI and EAGI, the code of :mod:`agikit.transports.stdio` (see its documentation).

It lives outside the ``agikit.transports`` package so that a process-AGI script, which imports
it on every call, does not also pay for importing that package. Import the public names from
:mod:`agikit.transports.stdio` (or ``agikit.run``/``agikit.serve``): each one's ``__module__``
says it belongs there.
"""

import gc
import os
import sys

from ._outcomes import AGIError, CommandFailed, ConnectionClosed, Hangup, ProtocolError, publish
from ._protocol import (
    AgiSession,
    EnvironmentReceived,
    ReplyReceived,
    State,
    StreamClosed,
)
from .commands import NOOP, complete, failure_or_hangup, hangup_unknown, refuse_when_dead

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal
    from collections.abc import Awaitable, Callable
    from typing import Any, BinaryIO, NoReturn, TypeVar

    from ._runner import CommandRequest
    from .call import Call, SyncCall
    from .protocol.environment import Environment
    from .protocol.replies import Reply

    T = TypeVar("T")
    SyncHandler = Callable[[SyncCall], object]
    AsyncHandler = Callable[[Call], Awaitable[object]]
else:
    import _signal  # the C module: ``signal`` would import enum, at a cost on every call

_READ_SIZE = 65536
_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE, without importing inspect


def _stray(data: bytes) -> ProtocolError:
    return ProtocolError(
        f"Asterisk sent data while no command was waiting for a reply: {data[:80]!r}"
    )


class StdioRunner:
    """Runs commands over a pair of file descriptors, blocking. Implements the sync runner."""

    def __init__(self, read_fd: int, write_fd: int, session: "AgiSession | None" = None) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.session = session or AgiSession()
        self._environment: Environment | None = None
        self.asyncio_mode = False
        self._executor: Any = None  # the asyncio worker, once the session moved onto a loop
        #: EAGI: the caller's audio (an ``AudioStream``), while an async EAGI handler runs.
        self.audio: Any = None
        #: The event loop made ready when the handler imported asyncio (see ``drive``).
        self.prepared_loop: Any = None
        #: A reply no Asterisk sends, or stray data, broke the session: no more commands.
        self._broken: ProtocolError | None = None

    # -- the runner interface --------------------------------------------------------------
    @property
    def environment(self) -> "Environment":
        if self._environment is None:
            raise ProtocolError("the AGI environment has not been read yet")
        return self._environment

    @property
    def hung_up(self) -> bool:
        return self.session.hung_up

    def hangup_signalled(self, signum: object = None, frame: object = None) -> None:
        """SIGHUP: the channel hung up. (A signal handler: it only sets flags.)"""
        self.session.hangup_signalled()
        audio = self.audio
        if audio is not None:
            audio.hangup()  # EAGI: no audio flows after the hangup; end the stream

    def read_environment(self) -> "Environment":
        """Block until the environment block has arrived; returns it."""
        session = self.session
        while self._environment is None:
            chunk = self._read()
            for event in session.receive_data(chunk):
                if isinstance(event, EnvironmentReceived):
                    self._environment = event.environment
                    if chunk[-1:] != b"\n":  # part of a line after the environment
                        self._broken = _stray(chunk[chunk.rfind(b"\n") + 1 :])
        return self._environment

    def run(self, request: "CommandRequest[T]", probe: bool = True) -> "T":
        """Send one command and block until its reply; returns the typed result.

        ``probe=False``: a failure is raised as it is, without the hangup probe (the caller
        probes, with :meth:`probe_hangup`, from the thread that runs the SIGHUP handler).
        """
        session = self.session
        self._check_idle()
        refuse_when_dead(request, session.hung_up)
        if session.state is State.CLOSED:
            self._closed(request, None, sent=False)
        self._send(request)
        reply = self._await_reply(request)
        try:
            return complete(request, reply, session.hung_up)
        except ProtocolError as error:  # a reply no Asterisk sends: trust nothing after it
            self._broken = error
            raise
        except CommandFailed as failure:
            if not probe:
                raise
            if hangup_unknown(request, session.hung_up):
                self.probe_hangup()
            outcome = failure_or_hangup(request, failure, session.hung_up)
            if outcome is failure:
                raise
            raise outcome from failure

    def _await_reply(self, request: "CommandRequest[Any]") -> "Reply":
        session = self.session
        while True:
            chunk = self._read()
            try:
                # Usually the chunk is the reply line, whole: the session's fast path reads it.
                reply = session.receive_reply(chunk)
                if reply is not None:
                    return reply
                events = session.receive_data(chunk)
            except ProtocolError as exc:
                # Say which command was waiting: the session's message only shows the bytes.
                line = request.line.decode("utf-8", "surrogateescape")
                raise type(exc)(f"{exc} (awaiting the reply to {line!r})") from None
            for event in events:
                if type(event) is ReplyReceived:
                    if chunk[-1:] != b"\n":  # part of a line came after the reply: stray data
                        self._broken = _stray(chunk[chunk.rfind(b"\n") + 1 :])
                    return event.reply
                if type(event) is StreamClosed:
                    self._closed(request, None)

    def _check_idle(self) -> None:
        """Before a command: read whatever Asterisk sent while no command was waiting.

        Asterisk sends nothing unasked over process AGI, so data here is a stray line (an extra
        reply, e.g. the 520 block ``EXEC`` sends after the reply of an application returning 1)
        or the end of the stream. Taken as the next command's reply it would put every later
        reply out of step; read now, the session raises :class:`ProtocolError` instead (or
        notes the end of the stream).
        """
        if self._broken is not None:
            raise ProtocolError(f"the session is broken by an earlier error: {self._broken}")
        if self.session.state is not State.IDLE:
            return
        fd = self.read_fd
        os.set_blocking(fd, False)
        try:
            data = os.read(fd, _READ_SIZE)
        except BlockingIOError:
            return
        except ConnectionResetError:
            data = b""
        finally:
            os.set_blocking(fd, True)
        self.session.receive_data(data)  # a complete stray line raises; EOF closes the session
        if data and data[-1:] != b"\n":  # a partial line: it would be glued to the next reply
            self._broken = _stray(data)
            raise self._broken

    def probe_hangup(self) -> None:
        """Send the ``NOOP`` that tells whether a failed command failed by a hangup: Asterisk
        notifies a hangup it detected before it reads the next command."""
        probe = NOOP.request()
        try:
            self._check_idle()
            self._send(probe)
            self._await_reply(probe)
        except (ConnectionClosed, Hangup):
            if not self.session.hung_up:
                raise

    def _send(self, request: "CommandRequest[Any]") -> None:
        data = self.session.send_command(request.line)
        try:
            self._write(data)
        except OSError as exc:
            # Asterisk closed its end (AGIEXITONHANGUP, or the session is over): no reply will
            # come, so the session is over here too, not left awaiting one.
            try:  # noqa: SIM105 - contextlib is an import process AGI need not pay for
                self.session.receive_data(b"")
            except ProtocolError:
                pass
            self._closed(request, exc)

    def _closed(
        self, request: "CommandRequest[Any]", cause: OSError | None, sent: bool = True
    ) -> "NoReturn":
        line = request.line.decode("utf-8", "surrogateescape")
        if self.session.hung_up:
            raise Hangup(
                "the channel hung up and Asterisk ended the session", command=line, reply=None
            ) from cause
        if not sent:
            raise ConnectionClosed(f"Asterisk has closed the AGI stream: {line!r} not sent")
        raise ConnectionClosed(f"Asterisk closed the AGI stream while {line!r} ran") from cause

    def _read(self) -> bytes:
        try:
            return os.read(self.read_fd, _READ_SIZE)
        except ConnectionResetError:
            return b""

    def _write(self, data: bytes) -> None:
        written = os.write(self.write_fd, data)
        if written < len(data):  # a pipe takes a command line whole; a short write is rare
            view = memoryview(data)[written:]
            while view:
                written = os.write(self.write_fd, view)
                view = view[written:]

    # -- async handlers (the loop-free driver is in ``_loop_free``) ----------------------------
    def run_async(self, request: "CommandRequest[T]") -> "Awaitable[T]":
        """The async runner interface: a loop-free awaitable, or an asyncio future."""
        from .transports._loop_free import run_async

        return run_async(self, request)

    def drive(self, coroutine: "Any") -> None:
        """Run an ``async def`` handler's coroutine to completion, without asyncio if it can
        (see :func:`agikit.transports._loop_free.drive`)."""
        from .transports._loop_free import drive

        drive(self, coroutine)


def is_async_handler(handler: object) -> bool:
    """True for ``async def`` functions (and objects whose ``__call__`` is one, and partials)."""
    code = getattr(handler, "__code__", None)
    if code is None:
        code = getattr(getattr(handler, "__call__", None), "__code__", None)  # noqa: B004
    if code is None and type(handler).__name__ == "partial":  # functools.partial
        return is_async_handler(getattr(handler, "func", None))
    return code is not None and bool(code.co_flags & _CO_COROUTINE)


def _asyncio_loaded() -> bool:
    return "asyncio" in sys.modules


def _protect_stdio() -> tuple[int, int]:
    """Move the protocol off fds 0/1; point fd 1 at stderr and fd 0 at /dev/null."""
    read_fd = os.dup(0)  # dup'd descriptors are not inherited by child processes
    write_fd = os.dup(1)
    os.dup2(2, 1)
    # Whatever a print() left in sys.stdout's buffer now goes to stderr too, not to Asterisk.
    stdout = sys.stdout
    if stdout is not None:
        try:  # noqa: SIM105 - contextlib is an import process AGI need not pay for
            stdout.flush()
        except (OSError, ValueError):
            pass
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return read_fd, write_fd


def _fileno(stream: "int | BinaryIO") -> int:
    return stream if isinstance(stream, int) else stream.fileno()


def serve(
    handler: "SyncHandler | AsyncHandler",
    *,
    stdin: "int | BinaryIO | None" = None,
    stdout: "int | BinaryIO | None" = None,
    audio_fd: "int | BinaryIO | None" = None,
    handle_sighup: bool | None = None,
    record: "str | os.PathLike[str] | None" = None,
) -> int:
    """Run ``handler`` for one AGI session; returns the exit status for the script.

    With no streams given this is a real process AGI: the protocol is taken from fds 0 and 1
    (which are then protected from stray output), EAGI audio from fd 3, and SIGHUP marks the
    call hung up. Given ``stdin``/``stdout`` (binary streams or fds, e.g. from the fake
    Asterisk), it runs on those and leaves the process's own stdio alone, and SIGHUP too unless
    ``handle_sighup`` is True (for a fake Asterisk that signals this process; the previous
    SIGHUP handler is restored on return); EAGI audio then comes from ``audio_fd`` if given (a
    binary stream or fd, e.g. the fake's ``audio``; it is not closed). The handler gets a
    ``SyncCall``, or a ``Call`` if it is ``async def``. Returns 0 when the handler returned or
    the call hung up, 1 when it raised (the traceback goes to stderr): Asterisk sets
    ``AGISTATUS=FAILURE`` then.

    ``record`` names a directory to write the session's transcript to (see
    :mod:`agikit.transcript`); a real process AGI also records when ``AGIKIT_RECORD`` is set
    in its environment.
    """
    real_stdio = stdin is None and stdout is None
    own_audio = None
    audio: int | None
    if real_stdio:
        read_fd, write_fd = _protect_stdio()
        audio = 3 if audio_fd is None else _fileno(audio_fd)
    else:
        read_fd = _fileno(stdin if stdin is not None else 0)
        write_fd = _fileno(stdout if stdout is not None else 1)
        # Our own copy of the caller's audio descriptor, which the audio stream closes.
        audio = own_audio = None if audio_fd is None else os.dup(_fileno(audio_fd))
    if record is None and real_stdio:
        record = os.environ.get("AGIKIT_RECORD") or None
    session = None
    if record is not None:
        from .transcript import TranscriptDirectory

        title = f"process AGI {os.path.basename(sys.argv[0])}" if real_stdio else "in-process AGI"
        session = TranscriptDirectory(record).session(title)
    runner = StdioRunner(read_fd, write_fd, session)
    status = 1
    sighup = real_stdio if handle_sighup is None else handle_sighup
    if sighup:
        # SIGHUP means "the channel hung up" (unless AGISIGHUP=no), not "die".
        previous = _signal.signal(_signal.SIGHUP, runner.hangup_signalled)
    try:
        status = _serve(handler, runner, audio)
        return status
    finally:
        if session is not None:
            session.recorder.close(f"agikit: the script ends with exit status {status}")
        if real_stdio:
            # Closing our copy of the write end is what tells Asterisk the script is done, and
            # Asterisk may send SIGHUP from then on, until the process has exited. It is
            # ignored from here: while Python shuts down it puts back SIGHUP's default action
            # (die) in place of a Python handler, and a script killed in that moment would
            # end with a signal instead of its exit status.
            if sighup:
                _signal.signal(_signal.SIGHUP, _signal.SIG_IGN)
            os.close(write_fd)
            os.close(read_fd)
        else:
            if sighup:
                _signal.signal(_signal.SIGHUP, _signal.SIG_DFL if previous is None else previous)
            if own_audio is not None and runner.audio is None:  # else the stream closed it
                os.close(own_audio)


def _serve(handler: "SyncHandler | AsyncHandler", runner: StdioRunner, audio_fd: int | None) -> int:
    try:
        runner.read_environment()
        enhanced = runner.environment.enhanced
        if is_async_handler(handler):
            from ._async_call import Call
            from .transports._loop_free import AsyncRunnerView

            call = Call(AsyncRunnerView(runner))
            coroutine = handler(call)  # type: ignore[arg-type]
            if enhanced and audio_fd is not None:
                from .transports._adopt import run_with_audio

                run_with_audio(runner, coroutine, audio_fd)
            elif _asyncio_loaded():  # already paid for: run on a loop from the start
                from .transports._adopt import START, run_adopted

                run_adopted(runner, coroutine, START)
            else:
                runner.drive(coroutine)
        else:
            returned = handler(_sync_call(runner, enhanced))  # type: ignore[arg-type]
            if hasattr(returned, "__await__"):
                close = getattr(returned, "close", None)
                if close is not None:
                    close()  # no "never awaited" warning on top of the error
                raise TypeError(
                    f"the handler returned {type(returned).__name__!r}, an awaitable: "
                    "agikit runs it only if the handler is an async def function"
                )
    except Hangup:
        return 0
    except ConnectionClosed:
        if runner.session.hung_up:
            return 0
        _report()
        return 1
    except Exception:
        _report()
        return 1
    return 0


def _sync_call(runner: StdioRunner, enhanced: bool) -> "SyncCall":
    from ._sync_call import SyncCall

    if not enhanced:
        return SyncCall(runner)

    class EagiSyncCall(SyncCall):
        """A blocking handler under EAGI: the audio needs an async handler."""

        __slots__ = ()

        @property
        def audio(self) -> "NoReturn":
            raise AGIError(
                "call.audio needs an async handler: the EAGI audio is an async stream, read "
                "while commands run. Write the handler as `async def main(call: agikit.Call)`."
            )

    return EagiSyncCall(runner)


def _report() -> None:
    import traceback

    traceback.print_exc(file=sys.stderr)
    sys.stderr.flush()


def run(
    handler: "SyncHandler | AsyncHandler", *, record: "str | os.PathLike[str] | None" = None
) -> "NoReturn":
    """Run ``handler`` as this process's AGI script and exit with its status.

    ``record``: a directory to write the call's transcript to (or set ``AGIKIT_RECORD``).

    ::

        import agikit

        def main(call: agikit.SyncCall) -> None:
            call.answer()
            call.stream_file("hello-world")

        agikit.run(main)
    """
    # Everything alive now (the imports, the handler's module) lives as long as the process:
    # keep the garbage collector from scanning it again and again, and at exit (interpreter
    # shutdown runs several full collections, a measurable part of every call's cost).
    gc.freeze()
    sys.exit(serve(handler, record=record))


publish(globals(), {"agikit.transports.stdio": ("StdioRunner", "is_async_handler", "run", "serve")})
