"""The fake Asterisk's engine: plays a script over any byte stream, in a thread of its own.

The engine knows Asterisk's side of the protocol (the environment block, one command at a time,
default and dead-channel replies, the hangup notification, the end of the session) and nothing
about how the stream was opened: a :class:`Transport` connects, spawns or makes pipes, and tells
the engine how to notify a hangup (a ``HANGUP`` line or a signal).

Every wait has a deadline, and :meth:`Engine.abort` wakes any wait at once, so a broken AGI
fails a test instead of hanging it.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..protocol.quoting import max_line_bytes, split_command_line
from ..transcript import Direction, TranscriptEntry, show
from ._fake_result import Failure, Result
from ._fake_script import (
    CloseStream,
    EndSession,
    Expect,
    ExpectRest,
    Hangup,
    Pause,
    Raw,
    Responder,
    SendRaw,
    Step,
    default_reply,
    is_failure_line,
    reply_chunks,
)

_READ_SIZE = 65536


class LaunchFailed(Exception):
    """The AGI could not be started (connect or spawn failed); ``status`` is the AGISTATUS."""

    def __init__(self, message: str, status: str = "FAILURE") -> None:
        super().__init__(message)
        self.status = status


class _Aborted(Exception):
    pass


class _Timeout(Exception):
    pass


class _Eof(Exception):
    def __init__(self, partial: bytes, reset: bool = False) -> None:
        super().__init__(partial)
        self.partial = partial
        self.reset = reset


class _PeerGone(Exception):
    pass


class _Stop(Exception):
    """The session cannot go on; the failure is already recorded."""


class _SessionOver(Exception):
    """Asterisk ended the session (failure line, AGIEXITONHANGUP, a closing step)."""


@dataclass(frozen=True, slots=True)
class Options:
    """How this Asterisk behaves (the dialplan variables and call state that matter)."""

    agisighup: bool = True
    exit_on_hangup: bool = False
    dead_at_start: bool = False
    timeout: float = 5.0


class Wire:
    """Asterisk's end of the stream: a socket or two pipe ends, set non-blocking here."""

    def __init__(
        self, read_fd: int, write_fd: int, *, network: bool, sock: socket.socket | None = None
    ) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.network = network
        self.sock = sock
        self.closed = False
        os.set_blocking(read_fd, False)
        if write_fd != read_fd:
            os.set_blocking(write_fd, False)

    def close(self, *, reset: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        if self.sock is not None:
            if reset:
                # SO_LINGER on, 0 s: close() sends a TCP reset instead of a FIN.
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                with contextlib.suppress(OSError):
                    self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()
            return
        for fd in {self.read_fd, self.write_fd}:
            with contextlib.suppress(OSError):
                os.close(fd)


class Transport:
    """How a session's stream is opened, notified of a hangup and finished."""

    label = "AGI"
    #: FastAGI: hangup notices are ``HANGUP`` lines; otherwise SIGHUP (:meth:`signal_hangup`).
    network = False

    def open(self, engine: Engine) -> Wire:
        """Connect, spawn or create the stream (in the engine's thread)."""
        raise NotImplementedError

    def signal_hangup(self) -> str:
        """Deliver SIGHUP (process AGI); returns the transcript note saying what happened."""
        return "SIGHUP not delivered"

    def stop_audio(self) -> None:
        """The channel is dead: EAGI audio stops (the fd stays open until the end)."""

    def finish(self, engine: Engine) -> None:
        """After the stream is closed: stop audio, reap the process, fill the result."""

    def abort(self) -> None:
        """Called from another thread when the session is aborted."""


class Engine:
    """Plays one session of a script: call :meth:`run` in a thread, then read :attr:`result`."""

    def __init__(
        self,
        steps: Sequence[Step],
        transport: Transport,
        options: Options,
        result: Result,
        responder: Responder | None = None,
    ) -> None:
        self.steps = list(steps)
        #: Answers what the script leaves open (a scenario's digits, variables, hangup).
        self.responder = responder
        self.transport = transport
        self.options = options
        self.result = result
        self.result.steps_total = len(self.steps)
        self.wire: Wire | None = None
        self.dead = options.dead_at_start
        self.failure_line = False
        self.step: int | None = None
        self._buffer = bytearray()
        #: A command an optional step passed over: the next step's to read.
        self._pushed_back: bytes | None = None
        self._eof = False
        self._eof_noted = False
        self._reset = False
        self._launched = False
        self._start = time.monotonic()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self._aborted: str | None = None
        env = result.environment
        self._max_line = max_line_bytes(env.version if env is not None else "")

    # ------------------------------------------------------------------ public

    def abort(self, reason: str) -> None:
        """Stop the session as soon as possible (thread-safe): every wait wakes up."""
        if self._aborted is None:
            self._aborted = reason
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"!")
        self.transport.abort()

    def elapsed(self) -> float:
        return time.monotonic() - self._start

    def note(self, text: str) -> None:
        self._record(Direction.NOTE, text.encode("utf-8", "surrogateescape"))

    def fail(
        self,
        message: str,
        *,
        step: int | None = -1,
        expected: str | None = None,
        received: bytes | None = None,
        detail: str = "",
    ) -> None:
        """Record a failure, for the current step unless ``step`` says otherwise."""
        number = self.step if step == -1 else step
        self.result.failures.append(Failure(number, message, expected, received, detail))

    def sleep(self, seconds: float) -> None:
        """Sleep, but wake up at once if the session is aborted."""
        if seconds > 0 and self._poll_wake(seconds):
            raise _Aborted

    def run(self) -> None:
        result = self.result
        try:
            try:
                self.wire = self.transport.open(self)
                self._launched = True
            except LaunchFailed as error:
                self.fail(str(error), step=None)
                result.agi_status = error.status
                return
            self._session()
        except _Aborted:
            self.fail(f"aborted: {self._aborted}", step=None)
        except Exception as error:  # a bug here must not hang the test: report it
            self.fail(f"the fake Asterisk failed: {error!r}", step=None)
        finally:
            self._close()
            try:
                self.transport.finish(self)
            except _Aborted:
                self.fail(f"aborted: {self._aborted}", step=None)
            finally:
                self._status()
                result.duration = self.elapsed()
                for fd in (self._wake_read, self._wake_write):
                    with contextlib.suppress(OSError):
                        os.close(fd)

    # ------------------------------------------------------------------ the session

    def _session(self) -> None:
        environment = self.result.environment
        assert environment is not None
        try:
            for line in environment.to_bytes().splitlines(keepends=True):
                self._write(line)
            if self.dead:
                self.note("the channel is dead from the start: no notification is sent")
            for number, step in enumerate(self.steps, 1):
                self.step = number
                try:
                    self._run_step(step)
                except _SessionOver:
                    self.result.steps_run = number
                    raise
                self.result.steps_run = number
            self.step = None
            if not (self.wire is not None and self.wire.closed):
                self._await_close()
        except (_SessionOver, _Stop):
            pass
        except _Aborted:
            self.fail(f"aborted: {self._aborted}")
        except _PeerGone as error:
            self.fail(f"could not write to the AGI: {error}")
        finally:
            self._report_unrun()

    def _run_step(self, step: Step) -> None:
        if isinstance(step, Expect):
            self._expect(step)
        elif isinstance(step, ExpectRest):
            self._expect_rest(step)
        elif isinstance(step, Hangup):
            self.sleep(step.delay)
            self._hangup()
        elif isinstance(step, SendRaw):
            self._write(step.data)
        elif isinstance(step, Pause):
            self.sleep(step.seconds)
        elif isinstance(step, CloseStream):
            self.note("Asterisk closes the stream" + (" with a reset" if step.reset else ""))
            self._close(reset=step.reset)
            raise _SessionOver
        elif isinstance(step, EndSession):
            self.note("Asterisk ends the session")
            self._end_session()
            raise _SessionOver
        else:  # pragma: no cover - check_script refuses other objects
            raise TypeError(f"unknown step {step!r}")

    def _expect(self, step: Expect) -> None:
        expected = None if step.command is None else show(step.command)
        if step.optional:
            try:
                line = self._read_line(
                    self.options.timeout if step.timeout is None else step.timeout
                )
            except (_Eof, _Timeout):
                return  # left out; the next step meets the same end of the stream (or silence)
            if step.mismatch(line) is not None:
                self._pushed_back = line
                return
        else:
            line = self._read_command(step.timeout, expected, step.describe())
        failure_line = is_failure_line(line)
        difference = step.mismatch(line)
        if difference is not None:
            self.fail(
                "the AGI sent a different command"
                if not failure_line
                else "the AGI sent a 'failure' line, which ends the session",
                expected=expected,
                received=line,
                detail=difference,
            )
            if failure_line:
                self._failure_line()
            raise _Stop
        if failure_line:
            self._failure_line()
            raise _SessionOver
        if step.hangup_before_reply:
            self._hangup()
        self.sleep(step.delay)
        self._answer(split_command_line(line), step.reply)

    def _expect_rest(self, step: ExpectRest) -> None:
        timeout = self.options.timeout if step.timeout is None else step.timeout
        while True:
            try:
                line = self._read_line(timeout)
            except _Eof as eof:
                self._eof_note(eof)
                return
            except _Timeout:
                self.fail(f"the AGI did not close the stream within {timeout:g} s")
                raise _Stop from None
            if is_failure_line(line):
                self._failure_line()
                raise _SessionOver
            self._answer(split_command_line(line), None)

    def _await_close(self) -> None:
        """The script is done: wait for the AGI to close its end, reporting extra commands."""
        timeout = self.options.timeout
        extra: list[bytes] = []
        try:
            while True:
                try:
                    line = self._read_line(timeout)
                except _Eof as eof:
                    self._eof_note(eof)
                    if eof.partial:
                        extra.append(eof.partial)
                    break
                except _Timeout:
                    self.fail(
                        f"the AGI did not close the stream within {timeout:g} s after the "
                        "script ended",
                        step=None,
                    )
                    # Asterisk would wait forever; end as it does, so the AGI can finish.
                    self._end_session()
                    return
                extra.append(line)
                if is_failure_line(line):
                    self._failure_line()
                    return
                self._answer(split_command_line(line), None)
        finally:
            if extra:
                listed = "\n".join(f"{show(line)}" for line in extra[:10])
                more = f"\n... and {len(extra) - 10} more" if len(extra) > 10 else ""
                self.fail(
                    f"the AGI sent {len(extra)} command line(s) after the script ended",
                    step=None,
                    received=extra[0],
                    detail="unexpected:\n" + listed + more,
                )
        # The AGI closed its end: Asterisk sends the final HANGUP (FastAGI) and closes.
        if self.transport.network and self.options.agisighup:
            with contextlib.suppress(_PeerGone):
                self._write(b"HANGUP\n")
        self._close()

    def _answer(self, words: list[bytes], scripted: tuple[bytes, ...] | Raw | None) -> None:
        """Reply to a command: the script's reply, else the responder's, else the default.

        The responder sees every command (it keeps the call's state) and may hang up the
        call during it or after it. Over FastAGI the ``HANGUP`` line follows the reply, as
        Asterisk sends it; a process AGI gets its SIGHUP before the reply, so that it knows
        of the hangup before it sends its next command (the signal is not ordered with the
        stream: sent after the reply, it would race with that command).
        """
        response = None
        if self.responder is not None:
            response = self.responder.respond(words, dead=self.dead)
        when = response.hangup if response is not None else None
        if when is not None and not self.transport.network and not self.dead:
            self._hangup_note(when)
            self._hangup()
            when = None
        lines = scripted
        if lines is None and response is not None:
            lines = response.lines
        if lines is None:
            lines = default_reply(words, dead=self.dead)
        self._reply(lines)
        self._after_reply(words, lines)
        if when is not None and not self.dead:
            self._hangup_note(when)
            self._hangup()

    def _hangup_note(self, when: str) -> None:
        self.note(
            "the caller hangs up while the command runs"
            if when == "during"
            else "the caller hangs up after this command"
        )

    def _after_reply(self, words: list[bytes], lines: tuple[bytes, ...] | Raw) -> None:
        """Asterisk notices the hangup its own ``HANGUP`` command caused, right after the reply."""
        if self.dead or not words or words[0].upper() != b"HANGUP" or isinstance(lines, Raw):
            return
        env = self.result.environment
        own = {env.channel.encode(), env.uniqueid.encode()} if env is not None else set()
        if len(words) > 1 and words[1] not in own:
            return
        if lines and lines[-1].startswith(b"200 result=1"):
            self.note("the AGI hung up its own channel: Asterisk notices the hangup")
            self._hangup()

    # ------------------------------------------------------------------ hangups and endings

    def _hangup(self) -> None:
        if self.dead:
            self.note("hangup: the channel is already hung up, no new notification")
            return
        self.dead = True
        self.result.hung_up = True
        self.transport.stop_audio()
        self._notify()
        if self.options.exit_on_hangup:
            self.note("AGIEXITONHANGUP: Asterisk ends the session")
            self._end_session()
            raise _SessionOver

    def _notify(self) -> None:
        if not self.options.agisighup:
            self.note("hangup noticed; AGISIGHUP=no: no notification")
        elif self.transport.network:
            self._write(b"HANGUP\n")
        else:
            self.note(self.transport.signal_hangup())

    def _end_session(self) -> None:
        """The end-of-session notification (HANGUP line or SIGHUP), then close the stream."""
        if self.options.agisighup:
            if self.transport.network:
                with contextlib.suppress(_PeerGone):
                    self._write(b"HANGUP\n")
            else:
                self.note(self.transport.signal_hangup())
        self._close()

    def _failure_line(self) -> None:
        self.failure_line = True
        self.note("a 'failure' line: Asterisk ends the session (AGISTATUS=FAILURE)")
        self._end_session()

    def _close(self, *, reset: bool = False) -> None:
        if self.wire is not None and not self.wire.closed:
            self.wire.close(reset=reset and self.wire.sock is not None)

    def _status(self) -> None:
        result = self.result
        if not self._launched:
            return
        if result.hung_up:
            result.agi_status = "HANGUP"
        elif self.failure_line or (result.exit_status not in (None, 0)):
            result.agi_status = "FAILURE"

    def _report_unrun(self) -> None:
        start = self.result.steps_run
        if self.step == start + 1 and any(f.step == self.step for f in self.result.failures):
            start += 1  # the step that failed says so itself
        unrun = list(enumerate(self.steps, 1))[start:]
        pending = [(n, s) for n, s in unrun if not isinstance(s, ExpectRest)]
        if not pending:
            return
        listed = ", ".join(f"{n} ({s.describe()})" for n, s in pending[:5])
        more = f" and {len(pending) - 5} more" if len(pending) > 5 else ""
        self.fail(
            f"{len(pending)} step(s) did not run: {listed}{more}",
            step=None,
        )

    # ------------------------------------------------------------------ reading

    def _read_command(self, timeout: float | None, expected: str | None, what: str) -> bytes:
        seconds = self.options.timeout if timeout is None else timeout
        try:
            return self._read_line(seconds)
        except _Timeout:
            self.fail(
                f"nothing received within {seconds:g} s ({what})",
                expected=expected or "any command",
            )
            raise _Stop from None
        except _Eof as eof:
            self._eof_note(eof)
            if eof.partial:
                message = "the AGI sent an incomplete line (no LF) and closed the stream"
            elif eof.reset:
                message = "the AGI reset the connection"
            else:
                message = "the AGI closed the stream"
            self.fail(message, expected=expected or "any command", received=eof.partial or None)
            raise _Stop from None

    def _eof_note(self, eof: _Eof) -> None:
        if self._eof_noted:
            return  # expect_rest() saw it; the end of the session reads it again
        self._eof_noted = True
        self.note("connection reset by the AGI" if eof.reset else "EOF from the AGI")

    def _read_line(self, timeout: float) -> bytes:
        """One command as Asterisk's ``fgets`` reads it: up to LF, or a full buffer's worth."""
        pushed = self._pushed_back
        if pushed is not None:
            self._pushed_back = None
            return pushed
        deadline = time.monotonic() + timeout
        chunk = self._max_line + 1
        while True:
            end = self._buffer.find(b"\n", 0, chunk)
            if end >= 0:
                data = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                self._record(Direction.FROM_AGI, data)
                return data[:-1]
            if len(self._buffer) >= chunk:
                data = bytes(self._buffer[:chunk])
                del self._buffer[:chunk]
                self._record(Direction.FROM_AGI, data)
                self.note(
                    f"line longer than {self._max_line} bytes: Asterisk reads the first "
                    f"{chunk} bytes as one command and the rest as the next"
                )
                return data
            if self._eof:
                partial = bytes(self._buffer)
                self._buffer.clear()
                if partial:
                    self._record(Direction.FROM_AGI, partial)
                raise _Eof(partial, reset=self._reset)
            self._fill(deadline)

    def _fill(self, deadline: float) -> None:
        wire = self.wire
        assert wire is not None
        if wire.closed:
            self._eof = True
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not self.poll(wire.read_fd, select.POLLIN, remaining):
            raise _Timeout
        try:
            data = os.read(wire.read_fd, _READ_SIZE)
        except BlockingIOError:
            return
        except ConnectionResetError:
            self._eof = self._reset = True
            return
        if not data:
            self._eof = True
        self._buffer += data

    # ------------------------------------------------------------------ writing

    def _reply(self, lines: tuple[bytes, ...] | Raw) -> None:
        try:
            for chunk in reply_chunks(lines):
                self._write(chunk)
        except _PeerGone as error:
            self.fail(f"could not send the reply: {error}")
            raise _Stop from None

    def _write(self, data: bytes) -> None:
        """Write all of ``data`` (one entry in the transcript), within the timeout."""
        wire = self.wire
        assert wire is not None
        if wire.closed:
            raise _PeerGone("the stream is closed")
        self._record(Direction.TO_AGI, data)
        view = memoryview(data)
        deadline = time.monotonic() + self.options.timeout
        written = 0
        while written < len(data):
            try:
                written += os.write(wire.write_fd, view[written:])
                continue
            except BlockingIOError:
                pass
            except (BrokenPipeError, ConnectionResetError) as error:
                self.note(f"write failed after {written} of {len(data)} bytes: {error}")
                raise _PeerGone(f"the AGI closed its end ({type(error).__name__})") from None
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.poll(wire.write_fd, select.POLLOUT, remaining):
                self.note(f"write stalled after {written} of {len(data)} bytes")
                self.fail(
                    f"the AGI did not read what Asterisk sent within {self.options.timeout:g} s "
                    f"({written} of {len(data)} bytes written)"
                )
                raise _Stop

    # ------------------------------------------------------------------ helpers

    def _record(self, direction: Direction, data: bytes) -> None:
        self.result.transcript.append(TranscriptEntry(self.elapsed(), direction, data, self.step))

    def poll(self, fd: int, event: int, timeout: float) -> bool:
        """Wait for ``event`` on ``fd``: True when ready, False on timeout; raises if aborted."""
        poller = select.poll()
        poller.register(fd, event | select.POLLERR | select.POLLHUP)
        poller.register(self._wake_read, select.POLLIN)
        ready = poller.poll(max(0, int(timeout * 1000) + 1))
        if any(fd_ == self._wake_read for fd_, _ in ready):
            raise _Aborted
        return bool(ready)

    def _poll_wake(self, timeout: float) -> bool:
        poller = select.poll()
        poller.register(self._wake_read, select.POLLIN)
        return bool(poller.poll(max(0, int(timeout * 1000))))

    def wait_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Poll ``done()`` until true or ``timeout``; False on timeout; raises if aborted."""
        deadline = time.monotonic() + timeout
        delay = 0.002
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self._poll_wake(min(delay, remaining)):
                raise _Aborted
            delay = min(delay * 2, 0.05)
        return True
