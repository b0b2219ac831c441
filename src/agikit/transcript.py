"""Transcripts: record any AGI session as a file the fake Asterisk can replay.

A transcript is text, one entry a line, in the format of the reference transcripts::

    # agikit transcript: FastAGI
    +0000.000 ## connection from 127.0.0.1:50342
    +0000.000 << agi_network: yes
    ...
    +0000.000 <<
    +0000.012 >> ANSWER
    +0000.013 << 200 result=0

``<<`` is Asterisk to the AGI, ``>>`` the AGI to Asterisk, ``##`` a note (``SIGHUP received``,
the end of the stream, how the handler ended). A line that is not plain UTF-8 is shown escaped
and carries its exact bytes: ``[shown escaped: exact bytes = b'...']``. Lines starting with
``#`` are comments.

Every transport records with ``record=DIRECTORY`` (``agikit.run``, :class:`FastAGIServer`,
:class:`AsyncAGIServer`, ``agikit serve --record DIR``); a process-AGI script also records when
the ``AGIKIT_RECORD`` environment variable names a directory (``Set(ENV(AGIKIT_RECORD)=/tmp/agi)``
in the dialplan reaches every script Asterisk starts afterwards). Each call gets its own file,
``<UTC time>-<uniqueid>.transcript.txt``, written line by line as the call runs, so a crash leaves
everything up to its last line. Replay one with ``FakeAsterisk.from_transcript(path)`` or
``agikit replay PATH module:app``.

Recording costs a file write per line; without it, transports use the plain session and pay
nothing.
"""

from __future__ import annotations

import collections
import logging
import os
import re
import time
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, TextIO

from .errors import ProtocolError
from .protocol.session import AgiSession, State

if TYPE_CHECKING:
    from collections.abc import Callable

    from .protocol.environment import Environment
    from .protocol.replies import Reply
    from .protocol.session import Event

__all__ = [
    "Direction",
    "RecordingSession",
    "TranscriptDirectory",
    "TranscriptEntry",
    "TranscriptRecorder",
    "show",
]

FORMAT_HELP = (
    "# format: +seconds <<|>> exact line (<< Asterisk to the AGI, >> the AGI to Asterisk)\n"
    "#         +seconds ## note (not protocol bytes)\n"
)


class Direction(Enum):
    """Who wrote a transcript entry; the values are the transcripts' notation."""

    #: Asterisk to the AGI: environment, replies, ``HANGUP``, raw bytes.
    TO_AGI = "<<"
    #: The AGI to Asterisk: command lines.
    FROM_AGI = ">>"
    #: Not protocol bytes: SIGHUP, end of stream, process exit ...
    NOTE = "##"


def show(data: bytes, limit: int = 200) -> str:
    """Wire bytes as readable text: UTF-8, control and undecodable bytes escaped, long lines cut.

    The result is one line for :meth:`str.splitlines` too: C1 controls (``\\x85``) and the
    Unicode line and paragraph separators are escaped as well.
    """
    shown = []
    for char in data[:limit].decode("utf-8", "backslashreplace"):
        code = ord(char)
        if char == "\t":
            shown.append("\\t")
        elif code < 0x20 or 0x7F <= code <= 0x9F:
            shown.append({"\r": "\\r", "\n": "\\n"}.get(char, f"\\x{code:02x}"))
        elif code == 0x2028 or code == 0x2029:
            shown.append(f"\\u{code:04x}")
        else:
            shown.append(char)
    text = "".join(shown)
    if len(data) > limit:
        text += f"... ({len(data)} bytes)"
    return text


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    """One line (or one raw write) of a session, with its exact bytes.

    ``time`` counts seconds from the start of the session. ``data`` is exactly what went over the
    wire, LF included (an incomplete line has none); for a note it is the note's text in UTF-8.
    ``step`` is the number of the fake's script step that was running, ``None`` outside a script.
    """

    time: float
    direction: Direction
    data: bytes
    step: int | None = None

    @property
    def line(self) -> bytes:
        """The bytes without the final LF."""
        return self.data[:-1] if self.data.endswith(b"\n") else self.data

    @property
    def text(self) -> str:
        """The line as text (undecodable bytes kept as lone surrogates)."""
        return self.line.decode("utf-8", "surrogateescape")

    def format(self, limit: int | None = None) -> str:
        """The entry in the transcript format: ``+0001.250 >> ANSWER``."""
        stamp = f"+{self.time:08.3f} {self.direction.value} "
        if self.direction is Direction.NOTE:
            return stamp + self.text
        line = self.line
        shown = show(line, limit if limit is not None else len(line) + 1)
        # A line holding the escape marker itself is escaped too, or it would read back wrong.
        plain = (
            shown == line.decode("utf-8", "replace")
            and self.data.endswith(b"\n")
            and "[shown escaped" not in shown
        )
        if plain:
            return stamp + shown
        if limit is not None and len(self.data) > limit:
            return stamp + shown + f"   [shown escaped and cut: {len(self.data)} bytes]"
        return stamp + shown + f"   [shown escaped: exact bytes = {self.data!r}]"


class TranscriptRecorder:
    """Writes one session's entries to ``sink`` as they happen.

    ``sink`` is an open text stream, or a callable that gets the session's environment and
    returns one: entries are kept in memory until the environment is in, so that the file can
    be named after the call, and dropped if the session ends before it (no call, no file). The
    recorder closes the stream it opened itself (from the callable) in :meth:`close`.
    """

    def __init__(
        self,
        sink: TextIO | Callable[[Environment], TextIO],
        title: str = "",
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._start = clock()
        self._partial = bytearray()
        self._pending: list[str] = []
        #: Notes from signal handlers, written before the next entry (writing from a handler
        #: could re-enter the stream's own write).
        self._deferred: collections.deque[tuple[float, str]] = collections.deque()
        self._closed = False
        self._failed = False
        if callable(sink):
            self._open: Callable[[Environment], TextIO] | None = sink
            self._stream: TextIO | None = None
        else:
            self._open = None
            self._stream = sink
        self._write(f"# agikit transcript: {title}\n" if title else "# agikit transcript\n")
        self._write(FORMAT_HELP)

    @property
    def elapsed(self) -> float:
        return self._clock() - self._start

    def received(self, data: bytes) -> None:
        """Bytes Asterisk sent to the AGI (any chunk: lines are put back together)."""
        partial = self._partial
        start = 0
        end = data.find(b"\n")
        while end >= 0:
            if partial:
                partial += data[start : end + 1]
                line = bytes(partial)
                partial.clear()
            else:
                line = data[start : end + 1]
            self._entry(Direction.TO_AGI, line)
            start = end + 1
            end = data.find(b"\n", start)
        if start < len(data):
            partial += data[start:]

    def sent(self, data: bytes) -> None:
        """Bytes the AGI sent to Asterisk (a command line with its LF)."""
        self._entry(Direction.FROM_AGI, data)

    def note(self, text: str) -> None:
        """A note: something that happened that is not protocol bytes."""
        self._entry(Direction.NOTE, text.encode("utf-8", "surrogateescape"))

    def end_of_stream(self, text: str) -> None:
        """Asterisk's side ended: what is left of an incomplete line, then the note ``text``."""
        self._flush_partial()
        self.note(text)

    def note_from_signal_handler(self, text: str) -> None:
        """A note taken inside a signal handler: stamped now, written with the next entry."""
        self._deferred.append((self.elapsed, text))

    def environment_complete(self, environment: Environment) -> None:
        """The environment is in: a sink given as a callable is opened now."""
        if self._open is not None and self._stream is None and not self._failed:
            self._start_stream(environment)

    def close(self, note: str | None = None) -> None:
        """Write ``note`` (if given) and what is left of an incomplete line, then close."""
        if self._closed:
            return
        self._flush_partial()
        if note is not None:
            self.note(note)
        self._write_deferred()
        self._closed = True
        try:
            if self._open is not None:
                # No environment, no call (a port scan, a client that is not Asterisk): no file,
                # or anyone who can connect could fill the disk.
                if self._stream is not None:
                    self._stream.close()
            elif self._stream is not None:
                self._stream.flush()
        except (OSError, ValueError) as error:
            self._give_up(error)

    def _flush_partial(self) -> None:
        if self._partial:
            self._entry(Direction.TO_AGI, bytes(self._partial))
            self._partial.clear()

    def _entry(self, direction: Direction, data: bytes) -> None:
        if self._closed:
            return
        if self._deferred:
            self._write_deferred()
        self._write(TranscriptEntry(self.elapsed, direction, data).format() + "\n")

    def _write_deferred(self) -> None:
        deferred = self._deferred
        while deferred:
            at, text = deferred.popleft()
            entry = TranscriptEntry(at, Direction.NOTE, text.encode("utf-8", "surrogateescape"))
            self._write(entry.format() + "\n")

    def _write(self, text: str) -> None:
        stream = self._stream
        if stream is None:
            if not self._failed:
                self._pending.append(text)
            return
        try:
            stream.write(text)
        except (OSError, ValueError) as error:
            self._give_up(error)

    def _start_stream(self, environment: Environment) -> None:
        assert self._open is not None
        try:
            self._stream = stream = self._open(environment)
            stream.write("".join(self._pending))
        except (OSError, ValueError) as error:
            self._give_up(error)
        self._pending.clear()

    def _give_up(self, error: OSError | ValueError) -> None:
        # A transcript is a debugging aid: losing it must never fail the call it records.
        # (ValueError: a stream that cannot encode the text, or that was closed under us.)
        if not self._failed:
            log.warning("transcript not recorded: %s", error)
        self._failed = True
        stream, self._stream = self._stream, None
        self._pending.clear()
        if stream is not None and self._open is not None:
            try:  # noqa: SIM105 - the stream is being dropped either way
                stream.close()
            except OSError:
                pass


class RecordingSession(AgiSession):
    """An :class:`AgiSession` that records every byte in and out with a
    :class:`TranscriptRecorder` (for the transports that speak AGI as bytes: process AGI, EAGI,
    FastAGI)."""

    __slots__ = ("recorder",)

    def __init__(self, recorder: TranscriptRecorder, **limits: int) -> None:
        super().__init__(**limits)
        self.recorder = recorder

    def send_command(self, line: bytes) -> bytes:
        data = super().send_command(line)
        self.recorder.sent(data)
        return data

    def receive_data(self, data: bytes) -> list[Event]:
        recorder = self.recorder
        if data:
            recorder.received(data)
        elif self.state is not State.CLOSED:
            recorder.end_of_stream("EOF: the stream ended")
        had_environment = self.environment is not None
        events = super().receive_data(data)
        if not had_environment and self.environment is not None:
            recorder.environment_complete(self.environment)
        return events

    def receive_environment(self, data: bytes) -> Environment | None:
        environment = super().receive_environment(data)
        if environment is not None:
            self.recorder.received(data)
            self.recorder.environment_complete(environment)
        return environment

    def receive_reply(self, data: bytes) -> Reply | None:
        try:
            reply = super().receive_reply(data)
        except ProtocolError:
            self.recorder.received(data)  # the line that broke the session, above all
            raise
        if reply is not None:
            self.recorder.received(data)
        return reply

    def hangup_signalled(self) -> None:
        # Called from the SIGHUP handler in process AGI.
        if not self.hung_up:
            self.recorder.note_from_signal_handler("SIGHUP received")
        super().hangup_signalled()


log = logging.getLogger("agikit.transcript")

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class TranscriptDirectory:
    """Makes one transcript file per call in ``directory`` (created if missing)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = os.fspath(directory)

    def recorder(self, title: str) -> TranscriptRecorder:
        """A recorder whose file is created, named after the call, once the environment is in."""
        started = time.time()

        def open_file(environment: Environment) -> TextIO:
            return self._create(started, environment)

        return TranscriptRecorder(open_file, title)

    def session(self, title: str, **limits: int) -> RecordingSession:
        """A :class:`RecordingSession` that writes to a new file of this directory."""
        return RecordingSession(self.recorder(title), **limits)

    def _create(self, started: float, environment: Environment) -> TextIO:
        os.makedirs(self.directory, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(started))
        stamp += f".{int(started * 1000) % 1000:03d}Z"
        name = f"{stamp}-{_UNSAFE.sub('_', environment.uniqueid)[:80] or 'no-uniqueid'}"
        for attempt in range(1, 1000):
            suffix = "" if attempt == 1 else f"-{attempt}"
            path = os.path.join(self.directory, f"{name}{suffix}.transcript.txt")
            try:
                # Line-buffered: what a crash leaves behind is complete up to its last line.
                # Text that is not UTF-8 (a channel name or a note decoded with
                # surrogateescape) is written escaped; protocol lines carry their exact bytes.
                return open(path, "x", encoding="utf-8", errors="backslashreplace", buffering=1)
            except FileExistsError:
                continue
        raise FileExistsError(f"no free transcript name for {name!r} in {self.directory}")
