"""The AGI session as a sans-IO state machine: bytes in, events out; commands in, bytes out.

No sockets, pipes, clocks or threads here (h11's model). A transport feeds whatever it read to
:meth:`AgiSession.receive_data` and acts on the events it returns; to run a command it writes the
bytes :meth:`AgiSession.send_command` returns, then feeds data until a :class:`ReplyReceived`.

States::

    ENVIRONMENT --empty line--> IDLE --send_command--> AWAITING_REPLY --final line--> IDLE
    any state --EOF--> CLOSED;  any state --protocol violation--> ERROR (raises, stays broken)

The ``HANGUP`` line (FastAGI) may arrive in IDLE or AWAITING_REPLY; it sets :attr:`hung_up`
and never counts as a reply. Process AGI learns of the hangup from SIGHUP instead: the
transport calls :meth:`AgiSession.hangup_signalled`.
"""

from __future__ import annotations

from ..errors import ArgumentError, CommandInFlight, ConnectionClosed, ProtocolError
from .environment import Environment
from .quoting import MAX_LINE_BYTES_BEFORE_8K, max_line_bytes
from .replies import Reply, decode, parse_final_line


class State:
    """The session's states (plain strings: ``enum`` costs process AGI start-up time)."""

    ENVIRONMENT = "environment"
    IDLE = "idle"
    AWAITING_REPLY = "awaiting reply"
    CLOSED = "closed"
    ERROR = "error"


class _Event:
    __slots__: tuple[str, ...] = ()

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({values})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]


class EnvironmentReceived(_Event):
    """The environment block is complete."""

    __slots__ = ("environment",)

    def __init__(self, environment: Environment) -> None:
        self.environment = environment


class ReplyReceived(_Event):
    """The reply to the command in flight is complete."""

    __slots__ = ("reply",)

    def __init__(self, reply: Reply) -> None:
        self.reply = reply


class HangupReceived(_Event):
    """The ``HANGUP`` notification line: the channel hung up (FastAGI)."""

    __slots__ = ()


class StreamClosed(_Event):
    """The peer closed its side. ``in_reply`` is True if a command was still awaiting its reply."""

    __slots__ = ("in_reply",)

    def __init__(self, in_reply: bool) -> None:
        self.in_reply = in_reply


Event = EnvironmentReceived | ReplyReceived | HangupReceived | StreamClosed

_HANGUP_LINE = b"HANGUP"
_USAGE_END = b"520 "


class AgiSession:
    """One AGI session's protocol state (any transport that carries AGI lines).

    ``max_line`` bounds every line received (a peer cannot make us buffer without limit);
    ``max_environment`` bounds the whole environment block; ``max_usage_lines`` a 520 block.
    """

    def __init__(
        self,
        *,
        max_line: int = 1 << 20,
        max_environment: int = 1 << 20,
        max_usage_lines: int = 10_000,
    ) -> None:
        self.state: str = State.ENVIRONMENT
        self.environment: Environment | None = None
        self.hung_up = False
        #: The longest command line (without LF) the connected Asterisk reads whole.
        self.max_command_bytes = MAX_LINE_BYTES_BEFORE_8K
        self._max_line = max_line
        self._max_environment = max_environment
        self._max_usage_lines = max_usage_lines
        self._buffer = b""
        self._environment_pairs: list[tuple[str, str]] = []
        self._environment_size = 0
        self._reply_lines: list[bytes] = []
        self._in_usage = False
        self._error: ProtocolError | None = None

    # -- outgoing -----------------------------------------------------------------------------
    def send_command(self, line: bytes) -> bytes:
        """Start a command: returns the bytes to write (``line`` plus LF).

        ``line`` comes from :func:`~agikit.protocol.quoting.format_command`. Raises
        :class:`CommandInFlight` while another command awaits its reply, and
        :class:`ArgumentError` if the line is longer than this Asterisk reads whole.
        """
        state = self.state
        if state is not State.IDLE:
            if state is State.AWAITING_REPLY:
                raise CommandInFlight(
                    f"cannot send {line[:60]!r}: the previous command is still awaiting its reply"
                )
            self._raise_if_broken()
            raise ProtocolError(f"cannot send a command in state {state!r}")
        if len(line) > self.max_command_bytes:
            raise ArgumentError(
                f"command line of {len(line)} bytes is longer than the {self.max_command_bytes} "
                f"that Asterisk {self._version_text()} reads as one line: {line[:60]!r}..."
            )
        self.state = State.AWAITING_REPLY
        return line + b"\n"

    def hangup_signalled(self) -> None:
        """Record a hangup learnt outside the byte stream (SIGHUP in process AGI)."""
        self.hung_up = True

    def _version_text(self) -> str:
        return self.environment.version if self.environment is not None else "(unknown version)"

    # -- incoming -----------------------------------------------------------------------------
    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes read from Asterisk (``b""`` for end of stream); returns the new events."""
        self._raise_if_broken()
        if self.state is State.CLOSED:
            if data:
                self._fail(f"data after the end of the stream: {data[:80]!r}")
            return []
        events: list[Event] = []
        if not data:
            self._end_of_stream(events)
            return events
        buffer = self._buffer + data if self._buffer else data
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            self._line(buffer[start:end], events)
            start = end + 1
        self._buffer = buffer[start:]
        if len(self._buffer) > self._max_line:
            self._fail(f"a line longer than {self._max_line} bytes: {self._buffer[:80]!r}...")
        return events

    def _end_of_stream(self, events: list[Event]) -> None:
        state = self.state
        if self._buffer:
            self._fail(f"the stream ended inside a line: {self._buffer[:80]!r}")
        if state is State.ENVIRONMENT:
            self.state = State.CLOSED
            raise ConnectionClosed("the stream ended before the end of the AGI environment")
        if self._reply_lines:
            self.state = State.CLOSED
            raise ConnectionClosed(
                f"the stream ended inside a reply: {decode(b'|'.join(self._reply_lines))[:200]!r}"
            )
        self.state = State.CLOSED
        events.append(StreamClosed(in_reply=state is State.AWAITING_REPLY))

    def _line(self, line: bytes, events: list[Event]) -> None:
        state = self.state
        if state is State.AWAITING_REPLY:
            if self._in_usage:
                self._reply_lines.append(line)
                if line.startswith(_USAGE_END):
                    self._finish_reply(line, events)
                elif len(self._reply_lines) > self._max_usage_lines:
                    self._fail(f"a 520 usage block longer than {self._max_usage_lines} lines")
                return
            if line == _HANGUP_LINE:
                self.hung_up = True
                events.append(HangupReceived())
                return
            head = line[:4]
            if head == b"100 ":
                self._reply_lines.append(line)
                return
            if head == b"520-":
                self._reply_lines.append(line)
                self._in_usage = True
                return
            self._reply_lines.append(line)
            self._finish_reply(line, events)
        elif state is State.IDLE:
            if line == _HANGUP_LINE:
                self.hung_up = True
                events.append(HangupReceived())
                return
            self._fail(f"a line arrived while no command was waiting for one: {line[:200]!r}")
        elif state is State.ENVIRONMENT:
            self._environment_line(line, events)
        else:
            self._fail(f"a line arrived after the stream ended: {line[:200]!r}")

    def _finish_reply(self, line: bytes, events: list[Event]) -> None:
        lines = tuple(self._reply_lines)
        self._reply_lines = []
        self._in_usage = False
        try:
            reply = parse_final_line(line, lines)
        except ProtocolError as exc:
            self._fail(str(exc))
        self.state = State.IDLE
        events.append(ReplyReceived(reply))

    def _environment_line(self, line: bytes, events: list[Event]) -> None:
        if not line:
            environment = Environment(self._environment_pairs)
            self.environment = environment
            self.max_command_bytes = max_line_bytes(environment.version)
            self._environment_pairs = []
            self.state = State.IDLE
            events.append(EnvironmentReceived(environment))
            return
        self._environment_size += len(line) + 1
        if self._environment_size > self._max_environment:
            self._fail(f"an environment block longer than {self._max_environment} bytes")
        text = decode(line)
        # "name: value" with exactly one space; tolerate a line without it (name only).
        name, separator, value = text.partition(":")
        if separator and value.startswith(" "):
            value = value[1:]
        self._environment_pairs.append((name, value))

    # -- errors -------------------------------------------------------------------------------
    def _fail(self, message: str) -> None:
        self.state = State.ERROR
        self._error = ProtocolError(message)
        raise self._error

    def _raise_if_broken(self) -> None:
        if self._error is not None:
            raise ProtocolError(f"the session is broken by an earlier error: {self._error}")
