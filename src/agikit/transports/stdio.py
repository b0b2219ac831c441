"""Process AGI and EAGI: Asterisk runs the script per call and talks over stdin/stdout (fd 3 audio).

The blocking path imports nothing heavy (no asyncio, typing, signal module): each call pays for
Python's start-up plus this module. An ``async def`` handler is driven without an event loop by
sending each reply into its coroutine, since process AGI is strictly one command at a time; only
when the handler awaits something else (or under EAGI, where audio flows beside the commands) does
the session move onto asyncio, with the commands then running on one worker thread.

Protocol hygiene: the protocol descriptors are moved off fds 0 and 1 at start, fd 1 is pointed at
stderr and fd 0 at /dev/null, so a stray ``print()`` or ``input()`` (or a child process) cannot
corrupt or steal the command stream. SIGHUP (Asterisk's hangup signal) marks the call hung up
instead of killing the script, so ``finally`` blocks run and dead-channel commands still work.
"""

import os
import sys

from .._execute import complete, refuse_when_dead
from ..errors import CommandFailed, ConnectionClosed, Hangup, ProtocolError
from ..protocol.session import (
    AgiSession,
    EnvironmentReceived,
    ReplyReceived,
    State,
    StreamClosed,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal
    from collections.abc import Awaitable, Callable, Generator
    from typing import Any, BinaryIO, NoReturn, TypeVar

    from .._runner import CommandRequest
    from ..call import Call, SyncCall
    from ..protocol.environment import Environment
    from ..protocol.replies import Reply

    T = TypeVar("T")
    SyncHandler = Callable[[SyncCall], object]
    AsyncHandler = Callable[[Call], Awaitable[object]]
else:
    import _signal  # the C module: ``signal`` would import enum, at a cost on every call

_READ_SIZE = 65536
_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE, without importing inspect


class _Pending:
    """What an ``async`` Call method awaits in the loop-free mode: the driver runs it."""

    __slots__ = ("request",)

    def __init__(self, request: "CommandRequest[Any]") -> None:
        self.request = request

    def __await__(self) -> "Generator[Any, Any, Any]":
        return (yield self)


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

    # -- the runner interface --------------------------------------------------------------
    @property
    def environment(self) -> "Environment":
        if self._environment is None:
            raise ProtocolError("the AGI environment has not been read yet")
        return self._environment

    @property
    def hung_up(self) -> bool:
        return self.session.hung_up

    def read_environment(self) -> "Environment":
        """Block until the environment block has arrived; returns it."""
        session = self.session
        while self._environment is None:
            for event in session.receive_data(self._read()):
                if isinstance(event, EnvironmentReceived):
                    self._environment = event.environment
        return self._environment

    def run(self, request: "CommandRequest[T]") -> "T":
        """Send one command and block until its reply; returns the typed result."""
        session = self.session
        refuse_when_dead(request, session.hung_up)
        if session.state is State.CLOSED:
            self._closed(request, None)
        data = session.send_command(request.line)
        try:
            self._write(data)
        except OSError as exc:
            # Asterisk closed its end: AGIEXITONHANGUP, or the session is over.
            self._closed(request, exc)
        reply = self._await_reply(request)
        try:
            return complete(request, reply, session.hung_up)
        except CommandFailed as failure:
            if request.dead_ok or session.hung_up:
                raise
            # A command that needs a live channel failed: find out whether the channel hung up.
            # Asterisk notifies a detected hangup (SIGHUP, or the HANGUP line) before it reads
            # the next command, so after a NOOP's reply the session knows.
            self._probe_hangup(request)
            if session.hung_up:
                raise Hangup(
                    "the channel hung up while the command ran",
                    command=failure.command,
                    reply=failure.reply,
                ) from failure
            raise

    def _await_reply(self, request: "CommandRequest[Any]") -> "Reply":
        session = self.session
        while True:
            chunk = self._read()
            for event in session.receive_data(chunk):
                if type(event) is ReplyReceived:
                    return event.reply
                if type(event) is StreamClosed:
                    self._closed(request, None)

    def _probe_hangup(self, failed: "CommandRequest[Any]") -> None:
        from ..commands import NOOP

        probe = NOOP.request()
        try:
            self._write(self.session.send_command(probe.line))
            self._await_reply(probe)
        except (OSError, ConnectionClosed, Hangup):
            if not self.session.hung_up:
                raise

    def _closed(self, request: "CommandRequest[Any]", cause: OSError | None) -> "NoReturn":
        line = request.line.decode("utf-8", "surrogateescape")
        if self.session.hung_up:
            raise Hangup(
                "the channel hung up and Asterisk ended the session", command=line, reply=None
            ) from cause
        raise ConnectionClosed(f"Asterisk closed the AGI stream while {line!r} ran") from cause

    def _read(self) -> bytes:
        try:
            return os.read(self.read_fd, _READ_SIZE)
        except ConnectionResetError:
            return b""

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.write_fd, view)
            view = view[written:]

    # -- async handlers ---------------------------------------------------------------------
    def run_async(self, request: "CommandRequest[T]") -> "Awaitable[T]":
        """The async runner interface: a loop-free awaitable, or an asyncio future."""
        if not self.asyncio_mode:
            return _Pending(request)
        worker = self._executor
        future: Awaitable[T] = worker.submit(lambda: self.run(request))
        return future

    def drive(self, coroutine: "Any") -> None:
        """Run an ``async def`` handler's coroutine to completion, without asyncio if it can.

        asyncio's own awaitables need a running loop as soon as they are created (before they
        yield anything), so the loop cannot be started after the fact: while the handler runs,
        an import hook waits for ``asyncio`` to be imported and then prepares a loop, marked as
        running, for it to find. The first time the handler awaits something other than an
        agikit command, the rest of it runs on that loop.
        """
        watcher = _AsyncioWatcher(self)
        sys.meta_path.insert(0, watcher)
        try:
            send_value: Any = None
            error: BaseException | None = None
            while True:
                try:
                    if error is not None:
                        yielded = coroutine.throw(error)
                    else:
                        yielded = coroutine.send(send_value)
                except StopIteration:
                    return
                if type(yielded) is not _Pending:
                    from ._adopt import run_adopted

                    run_adopted(self, coroutine, yielded, self.prepared_loop)
                    return
                try:
                    send_value, error = self.run(yielded.request), None
                except Exception as exc:  # delivered into the handler, where it belongs
                    send_value, error = None, exc
        finally:
            watcher.remove()
            if self.prepared_loop is not None and not self.prepared_loop.is_closed():
                from ._adopt import discard_prepared_loop

                discard_prepared_loop(self.prepared_loop)


class _AsyncioWatcher:
    """A meta-path finder that notices the handler importing asyncio, and nothing else."""

    def __init__(self, runner: StdioRunner) -> None:
        self._runner = runner

    def remove(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)

    def find_spec(self, name: str, path: "Any" = None, target: "Any" = None) -> "Any":
        if name != "asyncio":
            return None
        self.remove()
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find is not None else None
            if spec is not None and spec.loader is not None:
                break
        else:
            return None
        loader = spec.loader
        execute = loader.exec_module
        runner = self._runner

        def exec_module(module: "Any") -> None:
            execute(module)
            from ._adopt import prepare_loop

            runner.prepared_loop = prepare_loop()

        loader.exec_module = exec_module
        return spec


class _AsyncRunnerView:
    """The async runner interface over a :class:`StdioRunner` (what ``Call`` holds)."""

    __slots__ = ("_runner",)

    def __init__(self, runner: StdioRunner) -> None:
        self._runner = runner

    @property
    def environment(self) -> "Environment":
        return self._runner.environment

    @property
    def hung_up(self) -> bool:
        return self._runner.hung_up

    @property
    def audio(self) -> "Any":
        return self._runner.audio

    def run(self, request: "CommandRequest[T]") -> "Awaitable[T]":
        return self._runner.run_async(request)


def is_async_handler(handler: object) -> bool:
    """True for ``async def`` functions (and objects whose ``__call__`` is one)."""
    code = getattr(handler, "__code__", None)
    if code is None:
        code = getattr(getattr(handler, "__call__", None), "__code__", None)  # noqa: B004
    return code is not None and bool(code.co_flags & _CO_COROUTINE)


def _protect_stdio() -> tuple[int, int]:
    """Move the protocol off fds 0/1; point fd 1 at stderr and fd 0 at /dev/null."""
    sys.stdout.flush()
    read_fd = os.dup(0)  # dup'd descriptors are not inherited by child processes
    write_fd = os.dup(1)
    os.dup2(2, 1)
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
    audio_fd: int | None = 3,
    handle_sighup: bool | None = None,
) -> int:
    """Run ``handler`` for one AGI session; returns the exit status for the script.

    With no streams given this is a real process AGI: the protocol is taken from fds 0 and 1
    (which are then protected from stray output) and SIGHUP marks the call hung up. Given
    ``stdin``/``stdout`` (binary streams or fds, e.g. from the fake Asterisk), it runs on those
    and leaves the process's own stdio alone, and SIGHUP too unless ``handle_sighup`` is True
    (for a fake Asterisk that signals this process). The handler gets a ``SyncCall``, or a
    ``Call`` if it is ``async def``. Returns 0 when the handler returned or the call hung up,
    1 when it raised (the traceback goes to stderr): Asterisk sets ``AGISTATUS=FAILURE`` then.
    """
    real_stdio = stdin is None and stdout is None
    if real_stdio:
        read_fd, write_fd = _protect_stdio()
    else:
        read_fd = _fileno(stdin if stdin is not None else 0)
        write_fd = _fileno(stdout if stdout is not None else 1)
    runner = StdioRunner(read_fd, write_fd)
    if real_stdio if handle_sighup is None else handle_sighup:
        # SIGHUP means "the channel hung up" (unless AGISIGHUP=no), not "die".
        _signal.signal(_signal.SIGHUP, lambda signum, frame: runner.session.hangup_signalled())
    try:
        return _serve(handler, runner, audio_fd if real_stdio else None)
    finally:
        if real_stdio:
            # Closing our copy of the write end is what tells Asterisk the script is done.
            os.close(write_fd)
            os.close(read_fd)


def _serve(handler: "SyncHandler | AsyncHandler", runner: StdioRunner, audio_fd: int | None) -> int:
    try:
        runner.read_environment()
        if is_async_handler(handler):
            from ..call import Call

            call = Call(_AsyncRunnerView(runner))
            coroutine = handler(call)  # type: ignore[arg-type]
            if runner.environment.enhanced and audio_fd is not None:
                from ._adopt import run_with_audio

                run_with_audio(runner, coroutine, audio_fd)
            elif "asyncio" in sys.modules:  # already paid for: run on a loop from the start
                from ._adopt import START, run_adopted

                run_adopted(runner, coroutine, START)
            else:
                runner.drive(coroutine)
        else:
            from ..call import SyncCall

            handler(SyncCall(runner))  # type: ignore[arg-type]
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


def _report() -> None:
    import traceback

    traceback.print_exc(file=sys.stderr)
    sys.stderr.flush()


def run(handler: "SyncHandler | AsyncHandler") -> "NoReturn":
    """Run ``handler`` as this process's AGI script and exit with its status.

    ::

        import agikit

        def main(call: agikit.SyncCall) -> None:
            call.answer()
            call.stream_file("hello-world")

        agikit.run(main)
    """
    sys.exit(serve(handler))
