"""The AGI session as a sans-IO state machine: bytes in, events out; commands in, bytes out.

No sockets, pipes, clocks or threads here (h11's model). A transport feeds whatever it read to
:meth:`AgiSession.receive_data` and acts on the events it returns; to run a command it writes the
bytes :meth:`AgiSession.send_command` returns, then feeds data until a :class:`ReplyReceived`.

States::

    ENVIRONMENT --empty line--> IDLE --send_command--> AWAITING_REPLY --final line--> IDLE
    any state --EOF--> CLOSED;  any state --protocol violation--> ERROR (raises, stays broken)

End of stream while IDLE or AWAITING_REPLY (even after GOSUB's ``100`` line) is the
:class:`StreamClosed` event; inside a line, a ``520`` usage block or the environment it raises
:class:`~agikit.errors.ConnectionClosed`. A protocol violation raises
:class:`~agikit.errors.ProtocolError` at once (events from earlier lines of the same chunk are
dropped with the session, though :attr:`AgiSession.hung_up` is kept) and every later call raises
it again: the session never reads on past bytes it does not understand.

The ``HANGUP`` line (FastAGI) may arrive in IDLE or AWAITING_REPLY; it sets :attr:`hung_up`
and never counts as a reply. Process AGI learns of the hangup from SIGHUP instead: the
transport calls :meth:`AgiSession.hangup_signalled`.
"""

from ..errors import ArgumentError, CommandInFlight, ConnectionClosed, ProtocolError
from .environment import Environment, environment_from_dict
from .quoting import MAX_LINE_BYTES_BEFORE_8K, max_line_bytes
from .replies import Reply, decode, parse_final_line

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn


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
#: The names Asterisk sends, shared by every session instead of one copy per call.
_ENVIRONMENT_KEYS = {
    name: name
    for name in (
        *("agi_network", "agi_network_script", "agi_request", "agi_channel", "agi_language"),
        *("agi_type", "agi_uniqueid", "agi_version", "agi_callerid", "agi_calleridname"),
        *("agi_callingpres", "agi_callingani2", "agi_callington", "agi_callingtns"),
        *("agi_dnid", "agi_rdnis", "agi_context", "agi_extension", "agi_priority"),
        *("agi_enhanced", "agi_accountcode", "agi_threadid"),
        *(f"agi_arg_{n}" for n in range(1, 10)),
    )
}
#: ``agi_version`` -> the longest command line that Asterisk reads whole.
_LINE_LIMITS: dict[str, int] = {}
_USAGE_END = b"520 "
_F = (b"f", b"F")


class AgiSession:
    """One AGI session's protocol state (any transport that carries AGI lines).

    ``max_line`` bounds every line received (a peer cannot make us buffer without limit);
    ``max_environment`` bounds the whole environment block; ``max_usage_lines`` the number of
    lines of one reply (a 520 block, GOSUB's ``100`` lines) and ``max_reply`` their total size.
    """

    __slots__ = (
        "_environment_pairs",
        "_environment_size",
        "_error",
        "_in_usage",
        "_max_environment",
        "_max_line",
        "_max_reply",
        "_max_usage_lines",
        "_partial",
        "_reply_lines",
        "_reply_size",
        "environment",
        "hung_up",
        "max_command_bytes",
        "state",
    )

    def __init__(
        self,
        *,
        max_line: int = 1 << 20,
        max_environment: int = 1 << 20,
        max_usage_lines: int = 10_000,
        max_reply: int = 1 << 20,
    ) -> None:
        self.state: str = State.ENVIRONMENT
        self.environment: Environment | None = None
        self.hung_up = False
        #: The longest command line (without LF) the connected Asterisk reads whole.
        self.max_command_bytes = MAX_LINE_BYTES_BEFORE_8K
        self._max_line = max_line
        self._max_environment = max_environment
        self._max_usage_lines = max_usage_lines
        self._max_reply = max_reply
        #: The start of a line whose LF has not arrived yet.
        self._partial = bytearray()
        self._environment_pairs: list[tuple[str, str]] = []
        self._environment_size = 0
        #: The lines of the reply being read before its final line (100 lines, a 520 block).
        self._reply_lines: list[bytes] = []
        self._reply_size = 0
        self._in_usage = False
        self._error: ProtocolError | None = None

    # -- outgoing -----------------------------------------------------------------------------
    def send_command(self, line: bytes) -> bytes:
        """Start a command: returns the bytes to write (``line`` plus LF).

        ``line`` comes from :func:`~agikit.protocol.quoting.format_command`. Raises
        :class:`CommandInFlight` while another command awaits its reply,
        :class:`ConnectionClosed` once the stream has ended, :class:`ProtocolError` before the
        environment has arrived or once the session is broken, and :class:`ArgumentError` if
        the line is longer than this Asterisk reads whole or is not one command line (it holds
        CR, LF or NUL, or starts with ``failure``). Nothing is to be sent when it raises.
        """
        state = self.state
        if state is not State.IDLE:
            if state is State.AWAITING_REPLY:
                raise CommandInFlight(
                    f"cannot send {line[:60]!r}: the previous command is still awaiting its reply"
                )
            self._raise_if_broken()
            if state is State.CLOSED:
                raise ConnectionClosed(f"cannot send {line[:60]!r}: the stream has ended")
            raise ProtocolError(f"cannot send a command in state {state!r}")
        if len(line) > self.max_command_bytes:
            raise ArgumentError(
                f"command line of {len(line)} bytes is longer than the {self.max_command_bytes} "
                f"that Asterisk {self._version_text()} reads as one line: {line[:60]!r}..."
            )
        # format_command has checked these; a raw line must not slip past them here either.
        if 10 in line or 13 in line or 0 in line:  # LF, CR, NUL (int membership is a memchr)
            raise ArgumentError(f"a command line cannot hold CR, LF or NUL: {line[:80]!r}")
        if line[:1] in _F and line[:7].lower() == b"failure":
            raise ArgumentError(f"a command line may not start with 'failure': {line[:40]!r}")
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
        if self._error is not None:
            self._raise_if_broken()
        if not data:
            return self._end_of_stream()
        state = self.state
        if state is State.CLOSED:
            self._fail(f"data after the end of the stream: {data[:80]!r}")
        if state is State.ENVIRONMENT and not self._partial and data[:1] != b"\n":
            # The whole rest of the environment in this chunk: parse it as one block.
            end = data.find(b"\n\n")
            if 0 < end < self._max_environment - self._environment_size:
                received = self._environment_block(data[:end])
                if end + 2 < len(data):
                    # The base method: a subclass that records data has seen these bytes already.
                    received.extend(AgiSession.receive_data(self, data[end + 2 :]))
                return received
        events: list[Event] = []
        max_line = self._max_line
        partial = self._partial
        end = data.find(b"\n")
        start = 0
        if partial:
            if end < 0:
                if len(partial) + len(data) > max_line:
                    self._fail(f"a line longer than {max_line} bytes: {bytes(partial[:80])!r}...")
                partial += data
                return events
            partial += data[:end]
            line = bytes(partial)
            partial.clear()
            if len(line) > max_line:
                self._fail(f"a line longer than {max_line} bytes: {line[:80]!r}...")
            self._line(line, events)
            start = end + 1
            end = data.find(b"\n", start)
        while end >= 0:
            if end - start > max_line:
                self._fail(f"a line longer than {max_line} bytes: {data[start : start + 80]!r}...")
            self._line(data[start:end], events)
            start = end + 1
            end = data.find(b"\n", start)
        if start < len(data):
            if len(data) - start > max_line:
                self._fail(f"a line longer than {max_line} bytes: {data[start : start + 80]!r}...")
            partial += data[start:]
        return events

    def receive_reply(self, data: bytes) -> "Reply | None":
        """Fast path for the common case: ``data`` is exactly one final reply line (``200 ...``)
        to the command in flight. Returns its :class:`Reply`, or None (nothing consumed, state
        unchanged) when the general :meth:`receive_data` must handle ``data``."""
        if (
            self.state is not State.AWAITING_REPLY
            or self._partial
            or self._reply_lines
            or self._in_usage
            or not data  # the end of the stream: receive_data's to tell
            or data.find(b"\n") != len(data) - 1
            or len(data) > self._max_line
        ):
            return None
        line = data[:-1]
        head = line[:4]
        if head == b"100 " or head == b"520-" or line == _HANGUP_LINE:
            return None
        try:
            reply = parse_final_line(line, (line,))
        except ProtocolError as exc:
            self._fail(str(exc))
        self.state = State.IDLE
        return reply

    def _environment_block(self, block: bytes) -> list[Event]:
        """The environment's remaining lines at once (``block``: up to, not including, the
        empty line that ends it); the same result as feeding them line by line."""
        max_line = self._max_line
        if len(block) <= max_line:  # so is every line: split the text at once
            text = block.decode("utf-8", "surrogateescape")
            # Once per call, so the lines are split and checked by C loops, not a Python one.
            lines = [line.partition(": ") for line in text.split("\n")]
            names, separators, values = zip(*lines, strict=True)
            if "" not in separators and ":" not in "".join(names):
                intern = _ENVIRONMENT_KEYS.get
                raw = dict(self._environment_pairs)
                raw.update(zip(map(intern, names, names), values, strict=True))
                self._environment_size += len(block) + 1
                events: list[Event] = []
                self._environment_complete(raw, events)
                return events
            # Some line is not "name: value": the line by line reading below decides.
        pairs = self._environment_pairs
        intern = _ENVIRONMENT_KEYS.get
        for line in block.split(b"\n"):
            if len(line) > max_line:
                self._fail(f"a line longer than {max_line} bytes: {line[:80]!r}...")
            name, separator, value = line.decode("utf-8", "surrogateescape").partition(":")
            if separator and value.startswith(" "):
                value = value[1:]
            pairs.append((intern(name, name), value))
        self._environment_size += len(block) + 1
        events = []
        self._environment_complete(dict(pairs), events)
        return events

    def _end_of_stream(self) -> list[Event]:
        state = self.state
        if state is State.CLOSED:
            return []
        self.state = State.CLOSED
        if self._partial:
            raise ConnectionClosed(f"the stream ended inside a line: {bytes(self._partial[:80])!r}")
        if state is State.ENVIRONMENT:
            raise ConnectionClosed("the stream ended before the end of the AGI environment")
        if self._in_usage:
            raise ConnectionClosed(
                "the stream ended inside a 520 usage block: "
                f"{decode(b'|'.join(self._reply_lines))[:200]!r}"
            )
        # GOSUB's "100" lines are complete lines: the stream ended while awaiting the final one.
        self._reply_lines = []
        return [StreamClosed(in_reply=state is State.AWAITING_REPLY)]

    def _line(self, line: bytes, events: list[Event]) -> None:
        state = self.state
        if state is State.AWAITING_REPLY:
            if self._in_usage:
                if line.startswith(_USAGE_END):
                    self._finish_reply(line, events)
                else:
                    self._more_reply(line)
                return
            if line == _HANGUP_LINE:
                self.hung_up = True
                events.append(HangupReceived())
                return
            head = line[:4]
            if head == b"100 ":
                self._more_reply(line)
                return
            if head == b"520-":
                self._more_reply(line)
                self._in_usage = True
                return
            self._finish_reply(line, events)
        elif state is State.IDLE:
            if line == _HANGUP_LINE:
                self.hung_up = True
                events.append(HangupReceived())
                return
            self._fail(f"a line arrived while no command was waiting for one: {line[:200]!r}")
        elif state is State.ENVIRONMENT:
            self._environment_line(line, events)
        else:  # pragma: no cover - receive_data rejects data in the other states
            self._fail(f"a line arrived in state {state!r}: {line[:200]!r}")

    def _more_reply(self, line: bytes) -> None:
        lines = self._reply_lines
        lines.append(line)
        self._reply_size += len(line) + 1
        if len(lines) > self._max_usage_lines:
            self._fail(f"a reply longer than {self._max_usage_lines} lines")
        if self._reply_size > self._max_reply:
            self._fail(f"a reply longer than {self._max_reply} bytes")

    def _finish_reply(self, line: bytes, events: list[Event]) -> None:
        earlier = self._reply_lines
        if earlier:
            earlier.append(line)
            lines = tuple(earlier)
            self._reply_lines = []
            self._reply_size = 0
            self._in_usage = False
        else:
            lines = (line,)
        try:
            reply = parse_final_line(line, lines)
        except ProtocolError as exc:
            self._fail(str(exc))
        self.state = State.IDLE
        events.append(ReplyReceived(reply))

    def _environment_line(self, line: bytes, events: list[Event]) -> None:
        if not line:
            self._environment_complete(dict(self._environment_pairs), events)
            return
        self._environment_size += len(line) + 1
        if self._environment_size > self._max_environment:
            self._fail(f"an environment block longer than {self._max_environment} bytes")
        text = decode(line)
        # "name: value" with exactly one space; tolerate a line without it (name only).
        name, separator, value = text.partition(":")
        if separator and value.startswith(" "):
            value = value[1:]
        self._environment_pairs.append((_ENVIRONMENT_KEYS.get(name, name), value))

    def _environment_complete(self, raw: dict[str, str], events: list[Event]) -> None:
        environment = environment_from_dict(raw)
        self.environment = environment
        version = environment.version
        limit = _LINE_LIMITS.get(version)
        if limit is None:
            limit = max_line_bytes(version)
            if len(_LINE_LIMITS) < 64:  # a few versions per deployment; bounded all the same
                _LINE_LIMITS[version] = limit
        self.max_command_bytes = limit
        self._environment_pairs = []
        self.state = State.IDLE
        events.append(EnvironmentReceived(environment))

    # -- errors -------------------------------------------------------------------------------
    def _fail(self, message: str) -> "NoReturn":
        self.state = State.ERROR
        self._error = ProtocolError(message)
        raise self._error

    def _raise_if_broken(self) -> None:
        if self._error is not None:
            raise ProtocolError(f"the session is broken by an earlier error: {self._error}")
