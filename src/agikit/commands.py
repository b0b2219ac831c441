"""Every AGI command of Asterisk 22, in one declarative table: the single source of truth.

Each :class:`Command` holds the command's words, its typed parameters (how each Python value is
checked and put on the wire), whether Asterisk runs it on a dead channel, how its reply becomes a
typed result, and its documentation. The ``Call`` and ``SyncCall`` methods are generated from this
table (``python -m agikit._codegen``), the fake Asterisk asks :func:`find_command` which commands
run on a dead channel, and a test checks the table against ``agi show commands`` of a real
Asterisk.

The order of :data:`COMMANDS` is Asterisk's own: the ``commands[]`` array of ``res/res_agi.c``,
then ``GOSUB`` (registered by ``apps/app_stack.c``).

Conventions of the Python API (see each command for the details):

- Times and durations are seconds (``float``), converted to the unit each command wants;
  ``None`` means Asterisk's default or "no limit", as each command documents.
- ``escape_digits`` is a ``str`` of DTMF keys ``0-9 * # A-D`` (``""``: none).
- A pressed key comes back as its character (``"5"``), never as an ASCII code.
- ``result=-1`` meaning "failed" raises :class:`~agikit.errors.CommandFailed` (or
  :class:`~agikit.errors.Hangup` once the hangup is known); a ``-1`` that is an ordinary answer
  ("no such channel", "timeout") is returned as a value, usually ``None``.

Process AGI imports this module on every call, so it imports nothing beyond the interpreter's
start-up set and agikit's own protocol core.
"""

from .errors import ArgumentError, ProtocolError
from .protocol.quoting import format_command, split_command_line, to_bytes
from .results import (
    ChannelState,
    ControlPlaybackResult,
    DigitsResult,
    GosubResult,
    PlaybackResult,
    RecordResult,
    SpeechHypothesis,
    SpeechResult,
    StreamControl,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, Generic, TypeVar

    from .protocol.replies import Reply

    T = TypeVar("T")
    Converter = Callable[[Any, str], "str | None"]

    class _Generic(Generic[T]): ...
else:

    class _Generic:
        __slots__ = ()

        def __class_getitem__(cls, item):
            return cls


__all__ = [
    "COMMANDS",
    "SAY_DATETIME_DEFAULT_FORMAT",
    "Command",
    "CommandRequest",
    "Param",
    "find_command",
    "raw_request",
]


# ------------------------------------------------------------------------------------------------
# The table's building blocks
# ------------------------------------------------------------------------------------------------


class _Required:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<required>"


_REQUIRED: "Any" = _Required()  # the default of a parameter that has none


class Param:
    """One parameter of a command's Python method.

    ``annotation`` and ``default`` are what the generated method declares. ``convert(value,
    label)`` checks the Python value and returns the argument as sent (``None``: no argument);
    it raises :class:`ArgumentError` naming ``label``. When an optional argument is absent but a
    later one is present, ``fill`` is sent in its place (Asterisk's arguments are positional);
    ``fill=None`` means the argument is not positional and is simply left out. A ``variadic``
    parameter takes the rest of the positional arguments, as a tuple.
    """

    __slots__ = ("annotation", "convert", "default", "doc", "fill", "label", "name", "variadic")

    def __init__(
        self,
        name: str,
        annotation: str,
        convert: "Converter",
        doc: str,
        *,
        default: object = _REQUIRED,
        fill: str | None = None,
        variadic: bool = False,
    ) -> None:
        self.name = name
        self.annotation = annotation
        self.convert = convert
        self.doc = doc
        self.default = default
        self.fill = fill
        self.variadic = variadic
        self.label = name  # completed by Command: "stream_file() argument 'filename'"

    @property
    def required(self) -> bool:
        """True when the method has no default for this parameter."""
        return self.default is _REQUIRED and not self.variadic

    def __repr__(self) -> str:
        return f"Param({self.name!r}: {self.annotation})"


class CommandRequest(_Generic["T"]):
    """One command ready to send: its ``line`` (bytes, without the LF), whether Asterisk runs
    it on a dead channel (``dead_ok``), and ``parse``, which turns a ``200`` reply into the
    typed result. ``command`` is the table entry (``None`` for :func:`raw_request`).

    Transports send ``line`` through the session and hand the reply to
    :func:`agikit._execute.complete`.
    """

    __slots__ = ("command", "dead_ok", "line", "parse")

    def __init__(
        self,
        command: "Command[T] | None",
        line: bytes,
        dead_ok: bool,
        parse: "Callable[[Reply], T]",
    ) -> None:
        self.command = command
        self.line = line
        self.dead_ok = dead_ok
        self.parse = parse

    @property
    def text(self) -> str:
        """The command line as text (for messages and logs)."""
        return self.line.decode("utf-8", "surrogateescape")

    def __repr__(self) -> str:
        return f"CommandRequest({self.text!r}, dead_ok={self.dead_ok})"


class Command(_Generic["T"]):
    """One AGI command: the table entry everything else is generated from.

    ``words`` are the command words (``("STREAM", "FILE")``); ``method`` the snake_case method
    name; ``params`` the method's parameters in Asterisk's argument order; ``dead_ok`` whether
    Asterisk runs it on a dead channel (the Dead column of ``agi show commands``); ``parse``
    turns a ``200`` reply into the result typed ``returns``; ``syntax`` is Asterisk's usage line;
    ``doc`` the method's documentation (first line: summary), ``returns_doc`` and ``raises_doc``
    its Returns and Raises sections.
    """

    __slots__ = (
        "_adjust",
        "_fixed",
        "_names",
        "_variadic",
        "dead_ok",
        "doc",
        "method",
        "params",
        "parse",
        "raises_doc",
        "returns",
        "returns_doc",
        "syntax",
        "words",
    )

    def __init__(
        self,
        words: tuple[str, ...],
        syntax: str,
        params: tuple[Param, ...],
        *,
        dead_ok: bool,
        parse: "Callable[[Reply], T]",
        returns: str,
        doc: str,
        returns_doc: str = "",
        raises_doc: str = "",
        adjust: "Callable[[list[Any]], None] | None" = None,
    ) -> None:
        self.words = words
        self.method = "_".join(words).lower()
        self.syntax = syntax
        self.params = params
        self.dead_ok = dead_ok
        self.parse = parse
        self.returns = returns
        self.doc = doc
        self.returns_doc = returns_doc
        self.raises_doc = raises_doc
        self._adjust = adjust
        self._fixed = tuple(p for p in params if not p.variadic)
        variadic = [p for p in params if p.variadic]
        self._variadic = variadic[0] if variadic else None
        self._names = frozenset(p.name for p in self._fixed)
        for param in params:
            param.label = f"{self.method}() argument {param.name!r}"

    @property
    def name(self) -> str:
        """The command as Asterisk spells it: ``"STREAM FILE"``."""
        return " ".join(self.words)

    @property
    def summary(self) -> str:
        """The first line of :attr:`doc`."""
        return self.doc.split("\n", 1)[0]

    def __repr__(self) -> str:
        return f"<Command {self.name}>"

    def request(self, *args: "Any", **kwargs: "Any") -> "CommandRequest[T]":
        """Check and convert the arguments (as the generated method takes them) and build the
        command line. Raises :class:`ArgumentError` naming the parameter for a value Asterisk
        cannot take, ``TypeError`` for a call that does not match the parameters."""
        fixed = self._fixed
        count = len(args)
        if count > len(fixed) and self._variadic is None:
            raise TypeError(
                f"{self.method}() takes {len(fixed)} positional arguments but {count} were given"
            )
        values: list[Any] = []
        for index, param in enumerate(fixed):
            name = param.name
            if index < count:
                if name in kwargs:
                    raise TypeError(f"{self.method}() got multiple values for argument {name!r}")
                values.append(args[index])
            elif name in kwargs:
                values.append(kwargs[name])
            elif param.default is _REQUIRED:
                raise TypeError(f"{self.method}() missing required argument: {name!r}")
            else:
                values.append(param.default)
        if kwargs and not self._names.issuperset(kwargs):
            unknown = sorted(set(kwargs) - self._names)[0]
            raise TypeError(f"{self.method}() got an unexpected keyword argument {unknown!r}")
        if self._adjust is not None:
            self._adjust(values)
        wire: list[str] = []
        names: list[str] = []
        pending: list[tuple[str, str]] = []
        for param, value in zip(fixed, values, strict=True):
            word = param.convert(value, param.label)
            if word is None:
                if param.fill is not None:
                    pending.append((param.fill, param.label))
                continue
            if pending:
                for fill, label in pending:
                    wire.append(fill)
                    names.append(label)
                pending.clear()
            wire.append(word)
            names.append(param.label)
        variadic = self._variadic
        if variadic is not None:
            word = variadic.convert(args[len(fixed) :], variadic.label)
            if word is not None:
                for fill, label in pending:
                    wire.append(fill)
                    names.append(label)
                wire.append(word)
                names.append(variadic.label)
        return CommandRequest(
            self, format_command(self.words, wire, names), self.dead_ok, self.parse
        )


# ------------------------------------------------------------------------------------------------
# Converters: Python value -> argument as sent (None: no argument). They raise ArgumentError.
# ------------------------------------------------------------------------------------------------

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_DTMF = frozenset("0123456789*#ABCD")
_FOREVER = "-1"
_INFINITY = float("inf")


def _bad(label: str, expected: str, value: object) -> ArgumentError:
    return ArgumentError(f"{label} must be {expected}, got {value!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value: "Any", label: str) -> str:
    if isinstance(value, str):
        return value
    raise _bad(label, "a str", value)


def _name(value: "Any", label: str) -> str:
    if isinstance(value, str) and value:
        return value
    raise _bad(label, "a non-empty str", value)


def _optional_text(value: "Any", label: str) -> str | None:
    return None if value is None else _text(value, label)


def _optional_name(value: "Any", label: str) -> str | None:
    return None if value is None else _name(value, label)


def _value(value: "Any", label: str) -> str:
    if isinstance(value, str):
        return value
    if _is_number(value):
        return str(value)
    raise _bad(label, "a str, int or float", value)


def _keys(value: "Any", label: str) -> str:
    if not isinstance(value, str):
        raise _bad(label, "a str of DTMF keys (0-9 * # A-D)", value)
    for char in value:
        if char not in _DTMF:
            hint = " (DTMF letters are upper case)" if char in "abcd" else ""
            raise ArgumentError(
                f"{label} must hold only DTMF keys 0-9 * # A-D{hint}; {char!r} is not one: "
                f"{value!r}"
            )
    return value


def _optional_keys(value: "Any", label: str) -> str | None:
    return None if value is None else _keys(value, label)


def _integer(low: int, high: int, what: str = "an int") -> "Converter":
    def convert(value: "Any", label: str) -> str:
        if _is_int(value) and low <= value <= high:
            return str(value)
        raise _bad(label, f"{what} from {low} to {high}", value)

    return convert


def _optional(convert: "Converter") -> "Converter":
    def optional(value: "Any", label: str) -> str | None:
        return None if value is None else convert(value, label)

    return optional


def _milliseconds(seconds: "Any", label: str, *, negative: bool = False) -> int:
    """Seconds (int or float) as whole milliseconds that fit Asterisk's 32-bit int."""
    if not _is_number(seconds) or seconds != seconds or seconds in (_INFINITY, -_INFINITY):
        raise _bad(label, "a finite number of seconds", seconds)
    if seconds < 0 and not negative:
        raise _bad(label, "a number of seconds >= 0", seconds)
    ms: int = round(float(seconds) * 1000)
    if ms == 0 and seconds > 0:
        ms = 1  # a positive time never becomes 0, which often means "default" or "no wait"
    if not _INT32_MIN <= ms <= _INT32_MAX:
        raise _bad(label, "at most 2147483 seconds (Asterisk's 32-bit milliseconds)", seconds)
    return ms


def _timeout_forever(value: "Any", label: str) -> str:
    """None, inf or a negative number: wait forever (-1); otherwise milliseconds."""
    if value is None or (_is_number(value) and value < 0):
        return _FOREVER
    if value == _INFINITY:
        return _FOREVER
    return str(_milliseconds(value, label))


def _timeout_optional(value: "Any", label: str) -> str | None:
    """None: absent (Asterisk's default); inf or negative: forever (-1); else milliseconds."""
    if value is None:
        return None
    return _timeout_forever(value, label)


def _skip(value: "Any", label: str) -> str | None:
    if value is None:
        return None
    ms = _milliseconds(value, label)
    if ms <= 0:
        raise _bad(label, "a number of seconds > 0", value)
    return str(ms)


def _offset_ms(value: "Any", label: str) -> str | None:
    return None if value is None else str(_milliseconds(value, label, negative=True))


def _whole_seconds(value: "Any", label: str) -> int:
    if _is_int(value) or (isinstance(value, float) and value.is_integer()):
        seconds = int(value)
        if 0 <= seconds <= _INT32_MAX:
            return seconds
    raise _bad(label, "a whole number of seconds >= 0 (Asterisk counts whole seconds)", value)


def _speech_timeout(value: "Any", label: str) -> str:
    if value is None or value == _INFINITY:
        return "0"
    return str(_whole_seconds(value, label))


def _silence(value: "Any", label: str) -> str | None:
    if value is None:
        return None
    seconds = _whole_seconds(value, label)
    if seconds < 1:
        raise _bad(label, "a whole number of seconds >= 1", value)
    return f"s={seconds}"


def _beep(value: "Any", label: str) -> str | None:
    if value is True:
        return "BEEP"
    if value is False:
        return None
    raise _bad(label, "a bool", value)


def _autohangup(value: "Any", label: str) -> str:
    if value is None:
        return "0"
    if (
        not _is_number(value)
        or value != value
        or value in (_INFINITY, -_INFINITY)
        or value < 0
        or value > _INT32_MAX
    ):
        raise _bad(label, "None or a finite number of seconds >= 0", value)
    return str(value) if isinstance(value, int) else repr(float(value))


def _epoch(low: int, high: int) -> "Converter":
    def convert(value: "Any", label: str) -> str:
        if _is_int(value):
            seconds = value
        elif hasattr(value, "timestamp") and hasattr(value, "tzinfo"):
            if value.tzinfo is None or value.utcoffset() is None:
                raise ArgumentError(
                    f"{label} must be an aware datetime (with tzinfo) or a Unix time int; a "
                    f"naive datetime is ambiguous: {value!r}"
                )
            seconds = int(value.timestamp() // 1)
        else:
            raise _bad(label, "a Unix time int or an aware datetime", value)
        if not low <= seconds <= high:
            raise _bad(label, f"a Unix time from {low} to {high}", value)
        return str(seconds)

    return convert


def _say_digits(value: "Any", label: str) -> str:
    if _is_int(value) and value >= 0:
        return str(value)
    if isinstance(value, str):
        text = value.lstrip(" \t")
        if text[:1] in ("+", "-"):
            text = text[1:]
        if text[:1] and text[0] in "0123456789":
            return value
        raise ArgumentError(
            f"{label} must start with a number (Asterisk checks it with %d; '12*3' works, "
            f"'*12' does not): {value!r}"
        )
    raise _bad(label, "a str of digits or an int >= 0", value)


_SAY_CASES = ("all", "lower", "upper", "none")


def _say_case(value: "Any", label: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value.lower() in _SAY_CASES:
        return value.lower()
    raise _bad(label, f"None or one of {', '.join(map(repr, _SAY_CASES))}", value)


def _priority(value: "Any", label: str) -> str:
    if _is_int(value):
        if value >= 1:
            return str(value)
        raise _bad(label, "a priority >= 1 or a label", value)
    return _name(value, label)


def _on_off(value: "Any", label: str) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    raise _bad(label, "a bool", value)


_TDD_MODES = ("on", "off", "tdd", "mate")


def _tdd_mode(value: "Any", label: str) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, str) and value.lower() in _TDD_MODES:
        return value.lower()
    raise _bad(label, f"a bool or one of {', '.join(map(repr, _TDD_MODES))}", value)


def _joined(values: "Any", label: str) -> str | None:
    """Variadic arguments joined with commas into the one word Asterisk reads."""
    if not values:
        return None
    return ",".join(_value(value, label) for value in values)


#: Asterisk's default SAY DATETIME format (for channel language ``de`` it is ``A dBY HMS``).
SAY_DATETIME_DEFAULT_FORMAT = "ABdY 'digits/at' IMp"


def _zone_of(values: "list[Any]") -> None:
    """SAY DATETIME: an aware datetime with a named zone and no explicit timezone is said in
    its own zone."""
    when, timezone = values[0], values[3]
    if timezone is None and not _is_int(when):
        tzinfo = getattr(when, "tzinfo", None)
        if tzinfo is not None:
            zone = getattr(tzinfo, "key", None) or getattr(tzinfo, "zone", None)
            if zone is None and str(tzinfo) == "UTC":
                zone = "UTC"
            if isinstance(zone, str) and zone:
                values[3] = zone


# ------------------------------------------------------------------------------------------------
# Parsers: a 200 reply -> the typed result. _Failed is a failure the caller should see as
# CommandFailed (or Hangup); agikit._execute turns it into the error, with the command and reply.
# ------------------------------------------------------------------------------------------------


class _Failed(Exception):
    """Raised by a parser: the command failed. ``hangup`` is True when the reply itself says
    the channel hung up."""

    def __init__(self, message: str, *, hangup: bool = False) -> None:
        super().__init__(message)
        self.hangup = hangup


def _key(code: int, reply: "Reply") -> str | None:
    """A key from Asterisk's code: 0 is none, 1-255 the character, 1000-1004 stream control."""
    if code == 0:
        return None
    if 0 < code < 256:
        return chr(code)
    control = StreamControl.from_code(code)
    if control is not None:
        return control
    raise ProtocolError(f"unexpected result code {code} in {reply.raw_text!r}")


def _endpos(fields: dict[str, str], reply: "Reply") -> int:
    try:
        return int(fields["endpos"])
    except (KeyError, ValueError):
        raise ProtocolError(f"expected endpos=<number> in {reply.raw_text!r}") from None


def _parse_nothing(reply: "Reply") -> None:
    """Commands whose reply carries no information (always ``200 result=0`` or ``1``)."""
    return None


def _parse_success(reply: "Reply") -> None:
    if reply.integer() < 0:
        raise _Failed("the command failed (or the channel hung up)")
    return None


def _parse_flag(reply: "Reply") -> bool:
    return reply.result == "1"


def _parse_channel_status(reply: "Reply") -> ChannelState | None:
    state = reply.integer()
    return None if state == -1 else ChannelState(state)


def _parse_control_stream_file(reply: "Reply") -> ControlPlaybackResult:
    code = reply.integer()
    endpos = _endpos(reply.fields()[1], reply)
    if code < 0:
        raise _Failed("playback failed: missing file, error, or the channel hung up")
    return ControlPlaybackResult(_key(code, reply), None if endpos == -1 else endpos)


def _parse_database_write(reply: "Reply") -> None:
    if reply.result != "1":
        raise _Failed("the Asterisk database reported an error")
    return None


def _parse_database_deltree(reply: "Reply") -> bool:
    # Inverted on purpose: Asterisk sends 0 when it deleted at least one entry.
    if reply.result == "0":
        return True
    if reply.result == "1":
        return False
    raise ProtocolError(f"expected result=0 or 1 in {reply.raw_text!r}")


def _parse_value(reply: "Reply") -> str | None:
    result = reply.result
    if result == "1":
        value = reply.value()
        if value is None:
            raise ProtocolError(f"expected a (value) after result=1 in {reply.raw_text!r}")
        return value
    if result in ("0", "-1"):
        return None
    raise ProtocolError(f"unexpected result in {reply.raw_text!r}")


def _parse_exec(reply: "Reply") -> int:
    code = reply.integer()
    if code == -2:
        raise _Failed("Asterisk has no application by that name (or ran out of memory)")
    return code


def _parse_get_data(reply: "Reply") -> DigitsResult:
    digits = reply.result
    if digits is None:
        raise ProtocolError(f"expected result=<digits> in {reply.raw_text!r}")
    if digits == "-1":
        raise _Failed("the prompt could not be played, or the channel hung up")
    tail = reply.tail
    if tail == "(timeout)":
        return DigitsResult(digits, True)
    if tail:
        raise ProtocolError(f"unexpected text after the digits in {reply.raw_text!r}")
    return DigitsResult(digits, False)


def _parse_playback(reply: "Reply") -> PlaybackResult:
    code = reply.integer()
    endpos = _endpos(reply.fields()[1], reply)
    if code < 0:
        raise _Failed("playback failed: missing file, or the channel hung up")
    return PlaybackResult(_key(code, reply), endpos)


def _parse_gosub(reply: "Reply") -> GosubResult:
    code = reply.integer()
    message = reply.tail
    if code != 0:
        raise _Failed(message or "GOSUB failed")
    return GosubResult(not message.endswith("(abnormal exit)"), message)


def _parse_hangup(reply: "Reply") -> bool:
    return reply.integer() == 1


def _parse_receive_char(reply: "Reply") -> str | None:
    code = reply.integer()
    if code <= 0:
        return None  # "-1 (hangup)" is also what a timeout or a channel without text gives
    if code < 256:
        return bytes((code,)).decode("utf-8", "surrogateescape")
    raise ProtocolError(f"unexpected result in {reply.raw_text!r}")


def _parse_record_file(reply: "Reply") -> RecordResult:
    code = reply.integer()
    keyword, fields = reply.fields()
    if keyword == "timeout":
        return RecordResult(RecordResult.TIMEOUT, None, _endpos(fields, reply))
    if keyword == "dtmf":
        return RecordResult(RecordResult.DTMF, _key(code, reply), _endpos(fields, reply))
    if keyword == "hangup":
        return RecordResult(RecordResult.HANGUP, None, _endpos(fields, reply))
    if keyword == "randomerror":
        if code > 0:
            digit = _key(code, reply)
            return RecordResult(RecordResult.BEEP_INTERRUPTED, digit, _endpos(fields, reply))
        raise _Failed("the beep could not be played, or the channel hung up during it")
    if keyword == "writefile":
        raise _Failed("the file could not be created (missing directory, permissions, format)")
    if keyword == "waitfor":
        raise _Failed("waiting for audio failed")
    if keyword is None:
        raise _Failed("silence detection could not be set up (read format not changed)")
    raise ProtocolError(f"unexpected RECORD FILE outcome in {reply.raw_text!r}")


def _parse_key(reply: "Reply") -> str | None:
    code = reply.integer()
    if code < 0:
        raise _Failed("the command failed, or the channel hung up")
    return _key(code, reply)


def _parse_wait_for_digit(reply: "Reply") -> str | None:
    code = reply.integer()
    if code < 0:
        raise _Failed("waiting failed, or the channel hung up")
    if code == 1:
        raise ProtocolError(
            "WAIT FOR DIGIT answered result=1: Asterisk saw another command line arrive while it "
            "waited, so the command stream is out of step"
        )
    return _key(code, reply)


def _parse_speech_recognize(reply: "Reply") -> SpeechResult:
    result = reply.result
    if result == "0":
        raise _Failed("no speech object (call speech_create first), or slin audio not available")
    tail = reply.tail
    close = tail.find(")")
    if result != "1" or not tail.startswith("(") or close < 0:
        raise ProtocolError(f"unexpected SPEECH RECOGNIZE reply {reply.raw_text!r}")
    keyword = tail[1:close]
    if keyword == "hangup":
        raise _Failed("the channel hung up during recognition", hangup=True)
    rest = tail[close + 1 :]
    if keyword == "speech":
        return _speech_results(rest, reply)
    fields = reply.fields()[1]
    endpos = _endpos(fields, reply)
    if keyword == "timeout":
        return SpeechResult(SpeechResult.TIMEOUT, None, endpos)
    if keyword == "digit":
        digit = fields.get("digit")
        if not digit:
            raise ProtocolError(f"expected digit=<key> in {reply.raw_text!r}")
        return SpeechResult(SpeechResult.DIGIT, digit, endpos)
    raise ProtocolError(f"unexpected SPEECH RECOGNIZE outcome in {reply.raw_text!r}")


def _token(text: str, prefix: str, position: int, reply: "Reply") -> tuple[str, int]:
    """The value of ``prefix<value>`` at ``position`` (up to the next space), and the position
    after it."""
    if not text.startswith(prefix, position):
        raise ProtocolError(f"expected {prefix!r} in {reply.raw_text!r}")
    start = position + len(prefix)
    end = text.find(" ", start)
    end = len(text) if end < 0 else end
    return text[start:end], end + 1


def _speech_results(rest: str, reply: "Reply") -> SpeechResult:
    # " endpos=<n> results=<k> score0=<s> text0="<unescaped text>" grammar0=<g> score1=..."
    # The text is not escaped: it ends at '" grammar<i>=', the grammar at ' score<i+1>='.
    # Asterisk cuts the list at about 4 KB: an entry cut short ends the list.
    endpos_text, position = _token(rest, "endpos=", 1 if rest.startswith(" ") else 0, reply)
    count_text, position = _token(rest, "results=", position, reply)
    try:
        endpos, count = int(endpos_text), int(count_text)
    except ValueError:
        raise ProtocolError(f"expected numbers in {reply.raw_text!r}") from None
    hypotheses: list[SpeechHypothesis] = []
    for index in range(count):
        score_prefix = f"score{index}="
        if not rest.startswith(score_prefix, position):
            break
        score_end = rest.find(" ", position)
        text_prefix = f'text{index}="'
        if score_end < 0 or not rest.startswith(text_prefix, score_end + 1):
            break
        try:
            score = int(rest[position + len(score_prefix) : score_end])
        except ValueError:
            break
        text_start = score_end + 1 + len(text_prefix)
        grammar_marker = f'" grammar{index}='
        text_end = rest.find(grammar_marker, text_start)
        if text_end < 0:
            break
        grammar_start = text_end + len(grammar_marker)
        grammar_end = rest.find(f" score{index + 1}=", grammar_start)
        if grammar_end < 0 or index + 1 == count:
            grammar_end = len(rest)
        hypotheses.append(
            SpeechHypothesis(score, rest[text_start:text_end], rest[grammar_start:grammar_end])
        )
        position = grammar_end + 1
    return SpeechResult(SpeechResult.SPEECH, None, endpos, tuple(hypotheses))


# ------------------------------------------------------------------------------------------------
# Shared parameter definitions
# ------------------------------------------------------------------------------------------------


def _escape_digits(doc: str = 'Keys that interrupt (a str of 0-9 * # A-D); "" for none.') -> Param:
    return Param("escape_digits", "str", _keys, doc, default="")


# ------------------------------------------------------------------------------------------------
# The table, in Asterisk's order
# ------------------------------------------------------------------------------------------------

ANSWER = Command(
    ("ANSWER",),
    "ANSWER",
    (),
    dead_ok=False,
    parse=_parse_success,
    returns="None",
    doc="""\
Answer the channel (does nothing if it is already up).""",
    raises_doc="CommandFailed: the channel could not be answered (``result=-1``).",
)

ASYNCAGI_BREAK = Command(
    ("ASYNCAGI", "BREAK"),
    "ASYNCAGI BREAK",
    (),
    dead_ok=True,
    parse=_parse_nothing,
    returns="None",
    doc="""\
End an Async AGI session; the dialplan continues.

Under Async AGI this ends the session (``AsyncAGIEnd``, ``AGISTATUS=SUCCESS``) and the dialplan
continues at the next priority, or where ``set_context``/``set_extension``/``set_priority``
point. Under process AGI and FastAGI it does nothing (just ``200 result=0``).""",
)

CHANNEL_STATUS = Command(
    ("CHANNEL", "STATUS"),
    "CHANNEL STATUS [channelname]",
    (
        Param(
            "channel",
            "str | None",
            _optional_name,
            "Another channel's exact name (not a unique ID); None for this channel.",
            default=None,
        ),
    ),
    dead_ok=False,
    parse=_parse_channel_status,
    returns="ChannelState | None",
    doc="""\
The state of this channel or of another one, by name.

The name is looked up exactly in Asterisk's channel snapshot cache, so unlike ``hangup`` and
``get_full_variable`` a unique ID does not work here (it reads as an unknown channel).""",
    returns_doc="The :class:`~agikit.results.ChannelState` (an int: ``ChannelState.UP`` is 6), "
    "or None when no channel has that name.",
)

DATABASE_DEL = Command(
    ("DATABASE", "DEL"),
    "DATABASE DEL <family> <key>",
    (
        Param("family", "str", _name, "The AstDB family."),
        Param("key", "str", _name, "The key within the family."),
    ),
    dead_ok=True,
    parse=_parse_database_write,
    returns="None",
    doc="""\
Delete one key from the Asterisk database (AstDB).

Asterisk reports success even when the key did not exist, so this cannot tell whether anything
was deleted; use ``database_get`` first if that matters. Works on a dead channel.""",
    raises_doc="CommandFailed: the database reported an error (``result=0``).",
)

DATABASE_DELTREE = Command(
    ("DATABASE", "DELTREE"),
    "DATABASE DELTREE <family> [keytree]",
    (
        Param("family", "str", _name, "The AstDB family."),
        Param(
            "keytree",
            "str | None",
            _optional_text,
            "Delete only the keys under this prefix; None for the whole family.",
            default=None,
        ),
    ),
    dead_ok=True,
    parse=_parse_database_deltree,
    returns="bool",
    doc="""\
Delete a whole family, or the keys under a prefix, from the Asterisk database.

Asterisk's result is the opposite of its documentation: it sends ``result=0`` when at least one
entry was deleted and ``result=1`` when nothing was (or on a database error). This method
returns what actually happened. Works on a dead channel.""",
    returns_doc="True if at least one entry was deleted, False if nothing was (or the database "
    "reported an error).",
)

DATABASE_GET = Command(
    ("DATABASE", "GET"),
    "DATABASE GET <family> <key>",
    (
        Param("family", "str", _name, "The AstDB family."),
        Param("key", "str", _name, "The key within the family."),
    ),
    dead_ok=True,
    parse=_parse_value,
    returns="str | None",
    doc="""\
Read a value from the Asterisk database (AstDB).

The value comes back exactly as stored (spaces and parentheses included); there is no length
limit. Works on a dead channel. Over Async AGI, replies longer than about 1 KB are split by
Asterisk (see the Async AGI notes).""",
    returns_doc='The value (``""`` for an empty one), or None when the key does not exist.',
)

DATABASE_PUT = Command(
    ("DATABASE", "PUT"),
    "DATABASE PUT <family> <key> <value>",
    (
        Param("family", "str", _name, "The AstDB family."),
        Param("key", "str", _name, "The key within the family."),
        Param("value", "str | int | float", _value, "The value; numbers are sent as str()."),
    ),
    dead_ok=True,
    parse=_parse_database_write,
    returns="None",
    doc="""\
Store a value in the Asterisk database (AstDB), replacing any previous one.

Works on a dead channel, so cleanup code can record the outcome of a call.""",
    raises_doc="CommandFailed: the database reported an error (``result=0``).",
)

EXEC = Command(
    ("EXEC",),
    "EXEC <application> [options]",
    (
        Param("application", "str", _name, 'The dialplan application, e.g. ``"Dial"``.'),
        Param(
            "options",
            "str",
            _joined,
            "The application's arguments, joined with commas into the one options word "
            "Asterisk passes on (a single pre-joined string works too).",
            variadic=True,
        ),
    ),
    dead_ok=True,
    parse=_parse_exec,
    returns="int",
    doc="""\
Run a dialplan application, e.g. ``exec("Dial", "PJSIP/bob", "30", "tT")``.

Asterisk passes exactly one options word to the application, which splits it on commas as the
dialplan does; the arguments given here are joined with commas into that word. The options are
not variable-substituted unless the channel variable ``AGIEXECFULL`` is true.

It runs on a dead channel too (the application then runs against the hung-up channel). Caveats
from Asterisk's code: an application that returns 1 makes Asterisk send a 520 usage block after
the reply, which puts the command stream out of step; one that returns 2 counts as a failure;
one that returns 3 ends an Async AGI session. The standard applications return 0 or -1.""",
    returns_doc="The application's return value: 0 normally, -1 when it asks to end the call "
    "(e.g. ``Dial`` after the caller hung up, or ``Hangup``).",
    raises_doc="CommandFailed: no application by that name (``result=-2``).",
)

GET_DATA = Command(
    ("GET", "DATA"),
    "GET DATA <file> [timeout] [maxdigits]",
    (
        Param("file", "str", _text, 'The prompt to play; "" for none.'),
        Param(
            "timeout",
            "float | None",
            _timeout_optional,
            "Seconds to wait for each digit; None (or 0) keeps Asterisk's default of 6 s for "
            "the first digit and 2 s between digits; inf waits (practically) forever.",
            default=None,
            fill="0",
        ),
        Param(
            "max_digits",
            "int | None",
            _optional(_integer(1, 1024)),
            "Stop after this many digits (1-1024); None for Asterisk's limit of 1024.",
            default=None,
        ),
    ),
    dead_ok=False,
    parse=_parse_get_data,
    returns="DigitsResult",
    doc="""\
Play a prompt and collect digits until ``#``, ``max_digits`` or a timeout.

Any key interrupts the prompt and counts as the first digit. ``#`` ends input and is not part of
the digits; pressed first, it gives an empty string. Unlike the dialplan's ``Read()``, several
prompts joined with ``&`` are not supported.""",
    returns_doc="A :class:`~agikit.results.DigitsResult`: ``digits`` (possibly empty) and "
    "``timed_out``.",
    raises_doc="CommandFailed: the prompt could not be played (``result=-1``; missing file).",
)

GET_FULL_VARIABLE = Command(
    ("GET", "FULL", "VARIABLE"),
    "GET FULL VARIABLE <expression> [channelname]",
    (
        Param(
            "expression",
            "str",
            _text,
            'Dialplan text to expand, e.g. ``"${CALLERID(num)}-${EXTEN}"``.',
        ),
        Param(
            "channel",
            "str | None",
            _optional_name,
            "Evaluate on this channel (name or unique ID); None for this channel.",
            default=None,
        ),
    ),
    dead_ok=True,
    parse=_parse_value,
    returns="str | None",
    doc="""\
Expand dialplan text (``${VAR}``, ``${FUNC(args)}``) as the dialplan would.

Variables must be written as ``${...}``: a bare name is returned as it is. There is no length
limit (unlike ``get_variable``). Works on a dead channel.""",
    returns_doc='The expanded text (``""`` when it expands to nothing), or None when '
    "``channel`` does not exist.",
)

GET_OPTION = Command(
    ("GET", "OPTION"),
    "GET OPTION <filename> <escape_digits> [timeout]",
    (
        Param("filename", "str", _text, "The file to play, without extension."),
        _escape_digits(),
        Param(
            "timeout",
            "float | None",
            _timeout_optional,
            "Seconds to wait for a key after the prompt; None uses the PBX digit timeout "
            "(``TIMEOUT(digit)``, 5 s by default); 0 does not wait; inf waits forever.",
            default=None,
        ),
    ),
    dead_ok=False,
    parse=_parse_playback,
    returns="PlaybackResult",
    doc="""\
Play a file like ``stream_file``, then wait for one of the escape digits.

During the wait after the prompt, a key that is not an escape digit (or a hangup) ends the wait
with no digit.""",
    returns_doc="A :class:`~agikit.results.PlaybackResult`: the escape digit pressed (None if "
    "none) and ``endpos`` in samples.",
    raises_doc="CommandFailed: the file does not exist, or the channel hung up during the "
    "prompt (``result=-1``).",
)

GET_VARIABLE = Command(
    ("GET", "VARIABLE"),
    "GET VARIABLE <variablename>",
    (
        Param(
            "name",
            "str",
            _name,
            "A variable (also globals and built-ins such as ``UNIQUEID``), or a function read "
            'such as ``"CALLERID(num)"``.',
        ),
    ),
    dead_ok=True,
    parse=_parse_value,
    returns="str | None",
    doc="""\
Read a channel variable, or a dialplan function when the name ends with ``)``.

Asterisk cuts the value at 1023 bytes; use ``get_full_variable("${NAME}")`` for longer values.
Works on a dead channel (e.g. ``DIALSTATUS`` in cleanup code).""",
    returns_doc='The value (``""`` when set but empty), or None when the variable is not '
    "set or the function failed.",
)

HANGUP = Command(
    ("HANGUP",),
    "HANGUP [channelname]",
    (
        Param(
            "channel",
            "str | None",
            _optional_name,
            "Another channel, by name or unique ID; None hangs up this channel.",
            default=None,
        ),
    ),
    dead_ok=False,
    parse=_parse_hangup,
    returns="bool",
    doc="""\
Hang up this channel, or another one.

Hanging up this channel is followed by the hangup notification (SIGHUP, or the ``HANGUP`` line
over FastAGI): from then on only the commands allowed on a dead channel work.""",
    returns_doc="True when the channel was hung up, False when no channel has that name.",
)

NOOP = Command(
    ("NOOP",),
    "NOOP [anything]",
    (
        Param(
            "text",
            "str | None",
            _optional_text,
            "Ignored by Asterisk, but visible with ``agi set debug on``: a marker in the log.",
            default=None,
        ),
    ),
    dead_ok=True,
    parse=_parse_nothing,
    returns="None",
    doc="""\
Do nothing: a round trip to Asterisk.

Useful as a ping, and to learn of a hangup: it works on a dead channel, and any pending hangup
notification arrives before its reply.""",
)

RECEIVE_CHAR = Command(
    ("RECEIVE", "CHAR"),
    "RECEIVE CHAR <timeout>",
    (
        Param(
            "timeout",
            "float | None",
            _timeout_forever,
            "Seconds to wait; 0 returns at once (not 'forever', whatever Asterisk's "
            "documentation says); None waits forever.",
        ),
    ),
    dead_ok=False,
    parse=_parse_receive_char,
    returns="str | None",
    doc="""\
Receive the first character of a text message, on channels that carry text.

Asterisk answers ``result=-1 (hangup)`` alike for a timeout, a channel that cannot carry text,
and a real hangup, and counts it as a command failure (``AGISTATUS=FAILURE``; under Async AGI it
ends the session). This method returns None for all three: a real hangup shows up on the next
command. Text that arrives while no RECEIVE command runs is lost.""",
    returns_doc="The character (the first byte of the message; a byte that is not ASCII comes "
    "back as a lone surrogate, like undecodable text elsewhere), or None: timeout, no text "
    "support, or hangup.",
)

RECEIVE_TEXT = Command(
    ("RECEIVE", "TEXT"),
    "RECEIVE TEXT <timeout>",
    (
        Param(
            "timeout",
            "float | None",
            _timeout_forever,
            "Seconds to wait; 0 returns at once (not 'forever', whatever Asterisk's "
            "documentation says); None waits forever.",
        ),
    ),
    dead_ok=False,
    parse=_parse_value,
    returns="str | None",
    doc="""\
Receive a text message, on channels that carry text.

Text that arrives while no RECEIVE command runs is lost. A newline inside the text would break
the reply line (Asterisk does not escape it).""",
    returns_doc="The text, or None: timeout, no text support, or hangup.",
)

RECORD_FILE = Command(
    ("RECORD", "FILE"),
    "RECORD FILE <filename> <format> <escape_digits> <timeout> [offset_samples] [BEEP] "
    "[s=<silence>]",
    (
        Param(
            "filename",
            "str",
            _name,
            "Path without extension; use an absolute path (a relative one goes under "
            "Asterisk's sounds directory).",
        ),
        Param(
            "format",
            "str",
            _name,
            'File format / extension: ``"wav"``, ``"gsm"``, ``"ulaw"``, ``"wav16"`` ...',
        ),
        _escape_digits('Keys that stop the recording (0-9 * # A-D); "" for none.'),
        Param(
            "timeout",
            "float | None",
            _timeout_forever,
            "Longest recording in seconds; None (or inf) for no limit.",
            default=None,
        ),
        Param(
            "offset",
            "int | None",
            _optional(_integer(0, _INT64_MAX, "a number of samples")),
            "Start at this sample offset; a non-zero offset appends to an existing file.",
            default=None,
            fill="0",
        ),
        Param("beep", "bool", _beep, "Play a beep before recording.", default=False),
        Param(
            "silence",
            "float | None",
            _silence,
            "Stop after this many whole seconds of silence; None for no silence detection.",
            default=None,
        ),
    ),
    dead_ok=False,
    parse=_parse_record_file,
    returns="RecordResult",
    doc="""\
Record the caller to a file, until an escape digit, the time limit, silence or hangup.

The optional arguments are always sent in the one form Asterisk cannot misread (its reading of
arguments 5 to 7 is a guessing game: a non-number 5th argument means "beep", any 6th argument
not starting with ``s=`` means "beep", and the silence setting is the first argument containing
a lowercase ``s``): ``offset`` as a number (0 when absent) before ``BEEP`` and ``s=<seconds>``.

The beep can be interrupted by an escape digit, which cancels the recording. When silence ends
the recording, the trailing silence (minus one second) is trimmed. With ``transmit_silence`` in
asterisk.conf, Asterisk sends silence to the caller while recording. A new command line does not
interrupt the recording, and no EAGI audio flows during it.""",
    returns_doc='A :class:`~agikit.results.RecordResult`: ``outcome`` (``"timeout"``, '
    '``"dtmf"``, ``"hangup"`` or ``"randomerror"`` for a beep interrupted by a key), the '
    "``digit`` that stopped it, and ``endpos``, the length recorded in samples. A hangup while "
    "recording is a result, not an error: the recording is kept.",
    raises_doc="CommandFailed: the file could not be created (``(writefile)``: missing "
    "directory, unknown format), the beep could not be played or the channel hung up during "
    "it, waiting for audio failed, or silence detection could not be set up.",
)

_SAY_RETURNS = "The escape digit pressed, or None when it finished."
_SAY_RAISES = "CommandFailed: an error, or the channel hung up (``result=-1``)."
_SAY_NOT_INTERRUPTED = (
    "Under process AGI and FastAGI a new command line does not interrupt it (only under EAGI)."
)

SAY_ALPHA = Command(
    ("SAY", "ALPHA"),
    "SAY ALPHA <string> <escape_digits> [case]",
    (
        Param("text", "str", _text, "The characters to spell."),
        _escape_digits(),
        Param(
            "case",
            "str | None",
            _say_case,
            'Announce letter case: ``"all"`` letters, only ``"lower"`` or ``"upper"`` '
            'case ones, or ``"none"``; None for Asterisk\'s default (none).',
            default=None,
        ),
    ),
    dead_ok=False,
    parse=_parse_key,
    returns="str | None",
    doc=f"""\
Spell a string character by character, in the channel's language.

``case`` is an argument Asterisk's code reads but its documentation does not mention (it looks
at the first letter only). {_SAY_NOT_INTERRUPTED}""",
    returns_doc=_SAY_RETURNS,
    raises_doc=_SAY_RAISES,
)

SAY_DIGITS = Command(
    ("SAY", "DIGITS"),
    "SAY DIGITS <digits> <escape_digits>",
    (
        Param(
            "digits",
            "str | int",
            _say_digits,
            'The digits to say; it must start with a number (``"12*3"`` works, ``"*12"`` '
            "does not: Asterisk checks the start with ``%d``).",
        ),
        _escape_digits(),
    ),
    dead_ok=False,
    parse=_parse_key,
    returns="str | None",
    doc=f"""\
Say a string of digits one at a time, in the channel's language.

{_SAY_NOT_INTERRUPTED}""",
    returns_doc=_SAY_RETURNS,
    raises_doc=_SAY_RAISES,
)

SAY_NUMBER = Command(
    ("SAY", "NUMBER"),
    "SAY NUMBER <number> <escape_digits> [gender]",
    (
        Param("number", "int", _integer(_INT32_MIN, _INT32_MAX), "The number (32-bit)."),
        _escape_digits(),
        Param(
            "gender",
            "str | None",
            _optional_name,
            'Language-specific gender or case, e.g. ``"f"``, ``"m"``, ``"n"``, ``"c"``.',
            default=None,
        ),
    ),
    dead_ok=False,
    parse=_parse_key,
    returns="str | None",
    doc=f"""\
Say a number ("forty-two"), in the channel's language.

{_SAY_NOT_INTERRUPTED}""",
    returns_doc=_SAY_RETURNS,
    raises_doc=_SAY_RAISES,
)

SAY_PHONETIC = Command(
    ("SAY", "PHONETIC"),
    "SAY PHONETIC <string> <escape_digits>",
    (
        Param("text", "str", _text, "The characters to spell."),
        _escape_digits(),
    ),
    dead_ok=False,
    parse=_parse_key,
    returns="str | None",
    doc=f"""\
Spell a string with the phonetic alphabet ("alfa bravo").

{_SAY_NOT_INTERRUPTED}""",
    returns_doc=_SAY_RETURNS,
    raises_doc=_SAY_RAISES,
)

_WHEN_32_DOC = "Unix time (int, 32-bit) or an aware datetime; said in the system's time zone."

SAY_DATE = Command(
    ("SAY", "DATE"),
    "SAY DATE <epoch> <escape_digits>",
    (
        Param("when", "int | datetime", _epoch(_INT32_MIN, _INT32_MAX), _WHEN_32_DOC),
        _escape_digits(),
    ),
    dead_ok=False,
    parse=_parse_key,
    returns="str | None",
    doc="""\
Say the date of a point in time (weekday, month, day), in the channel's language.

Not interrupted by a new command line. Use ``say_datetime`` for another time zone or format.""",
    returns_doc=_SAY_RETURNS,
    raises_doc=_SAY_RAISES,
)

SAY_TIME = Command(
    ("SAY", "TIME"),
    "SAY TIME <epoch> <escape_digits>",
    (
        Param("when", "int | datetime", _epoch(_INT32_MIN, _INT32_MAX), _WHEN_32_DOC),
        _escape_digits(),
    ),
    dead_ok=False,
    parse=_parse_key,
    returns="str | None",
    doc="""\
Say the time of day of a point in time, in the channel's language.

Not interrupted by a new command line. Use ``say_datetime`` for another time zone or format.""",
    returns_doc=_SAY_RETURNS,
    raises_doc=_SAY_RAISES,
)

SAY_DATETIME = Command(
    ("SAY", "DATETIME"),
    "SAY DATETIME <epoch> <escape_digits> [format] [timezone]",
    (
        Param(
            "when",
            "int | datetime",
            _epoch(_INT64_MIN, _INT64_MAX),
            "Unix time (int, 64-bit) or an aware datetime.",
        ),
        _escape_digits(),
        Param(
            "format",
            "str | None",
            _optional_text,
            "A ``SayUnixTime``/voicemail.conf format such as ``\"ABdY 'digits/at' IMp\"``; "
            "None for Asterisk's default for the channel language.",
            default=None,
            fill=SAY_DATETIME_DEFAULT_FORMAT,
        ),
        Param(
            "timezone",
            "str | None",
            _optional_text,
            'A zoneinfo name such as ``"Europe/Berlin"``; None for the zone of ``when`` when '
            "it is a datetime with a named zone (``ZoneInfo``, UTC), else the system zone.",
            default=None,
        ),
    ),
    dead_ok=False,
    adjust=_zone_of,
    parse=_parse_key,
    returns="str | None",
    doc="""\
Say a point in time in a given format and time zone, in the channel's language.

Asterisk's default format is ``ABdY 'digits/at' IMp`` (``A dBY HMS`` for language ``de``). When a
time zone is sent without a format, Asterisk needs a format word before it: the general default
``ABdY 'digits/at' IMp`` is sent, so pass ``format`` yourself on ``de`` channels. An unknown zone
is not an error (Asterisk falls back to UTC). Not interrupted by a new command line.""",
    returns_doc=_SAY_RETURNS,
    raises_doc=_SAY_RAISES,
)

SEND_IMAGE = Command(
    ("SEND", "IMAGE"),
    "SEND IMAGE <image>",
    (Param("image", "str", _name, "The image file, without extension."),),
    dead_ok=False,
    parse=_parse_success,
    returns="None",
    doc="""\
Send an image, on channels that support images.

Asterisk reports success whenever the channel is still up, whether or not the channel could
show the image.""",
    raises_doc="CommandFailed: the channel hung up (``result=-1``).",
)

SEND_TEXT = Command(
    ("SEND", "TEXT"),
    "SEND TEXT <text>",
    (Param("text", "str", _text, "The text; an empty string sends nothing."),),
    dead_ok=False,
    parse=_parse_success,
    returns="None",
    doc="""\
Send a text message, on channels that carry text.

Asterisk's documentation says unsupported channels answer 0; in fact they answer -1, which
counts as a failure (``AGISTATUS=FAILURE``; under Async AGI it ends the session).""",
    raises_doc="CommandFailed: the channel cannot carry text, or it hung up (``result=-1``).",
)

SET_AUTOHANGUP = Command(
    ("SET", "AUTOHANGUP"),
    "SET AUTOHANGUP <seconds>",
    (
        Param(
            "seconds",
            "float | None",
            _autohangup,
            "Hang up this many seconds from now (fractions allowed); None or 0 cancels.",
        ),
    ),
    dead_ok=False,
    parse=_parse_nothing,
    returns="None",
    doc="""\
Hang the channel up automatically after a time.

When the time comes the channel is hung up like any other hangup: the AGI gets the hangup
notification, and commands that need a live channel fail from then on.""",
)

SET_CALLERID = Command(
    ("SET", "CALLERID"),
    "SET CALLERID <callerid>",
    (
        Param(
            "callerid",
            "str",
            _text,
            '``\'"Name" <number>\'``, ``"Name <number>"`` or a bare number.',
        ),
    ),
    dead_ok=False,
    parse=_parse_nothing,
    returns="None",
    doc="""\
Set the caller ID name and number of this channel.

Both are set: a part that is missing becomes empty. The number is normalised by Asterisk
(``ast_shrink_phone_number``: spaces, dashes and parentheses are removed).""",
)

SET_CONTEXT = Command(
    ("SET", "CONTEXT"),
    "SET CONTEXT <context>",
    (Param("context", "str", _name, "The dialplan context."),),
    dead_ok=False,
    parse=_parse_nothing,
    returns="None",
    doc="""\
Set the dialplan context to continue in when the AGI ends.

Not checked by Asterisk. Without ``set_priority`` the dialplan continues at the current priority
plus one.""",
)

SET_EXTENSION = Command(
    ("SET", "EXTENSION"),
    "SET EXTENSION <extension>",
    (Param("extension", "str", _name, "The extension."),),
    dead_ok=False,
    parse=_parse_nothing,
    returns="None",
    doc="""\
Set the extension to continue at when the AGI ends.

Not checked by Asterisk. Without ``set_priority`` the dialplan continues at the current priority
plus one.""",
)

SET_MUSIC = Command(
    ("SET", "MUSIC"),
    "SET MUSIC <on|off> [class]",
    (
        Param("on", "bool", _on_off, "True starts music on hold, False stops it."),
        Param(
            "music_class",
            "str | None",
            _optional_name,
            "The music-on-hold class; None for ``default``. Only used when starting.",
            default=None,
        ),
    ),
    dead_ok=False,
    parse=_parse_nothing,
    returns="None",
    doc="""\
Start or stop music on hold on the channel.

Asterisk always answers success, even when ``res_musiconhold`` is not loaded. Playing a file
stops the music, and it is not restarted afterwards.""",
)

SET_PRIORITY = Command(
    ("SET", "PRIORITY"),
    "SET PRIORITY <priority|label>",
    (
        Param(
            "priority",
            "int | str",
            _priority,
            "A priority number, or a label in the current context and extension.",
        ),
    ),
    dead_ok=False,
    parse=_parse_nothing,
    returns="None",
    doc="""\
Set the priority to continue at when the AGI ends.

The dialplan resumes at exactly this priority (unlike ``set_context``/``set_extension`` alone,
which resume at the current priority plus one).""",
    raises_doc="UsageError: the label does not exist in the current context and extension.",
)

SET_VARIABLE = Command(
    ("SET", "VARIABLE"),
    "SET VARIABLE <name> <value>",
    (
        Param(
            "name",
            "str",
            _name,
            "The variable (``_NAME``/``__NAME`` for inheritance) or a function to write, such "
            'as ``"CALLERID(name)"``.',
        ),
        Param("value", "str | int | float", _value, "The value; numbers are sent as str()."),
    ),
    dead_ok=True,
    parse=_parse_nothing,
    returns="None",
    doc="""\
Set a channel variable, or write a dialplan function.

Any value round-trips exactly through ``get_variable`` (up to 1023 bytes) or
``get_full_variable``, except CR, LF and NUL, which AGI cannot carry. Works on a dead channel.""",
)

STREAM_FILE = Command(
    ("STREAM", "FILE"),
    "STREAM FILE <filename> <escape_digits> [sample_offset]",
    (
        Param(
            "filename",
            "str",
            _text,
            "The file to play, without extension (absolute, or relative to the sounds "
            "directory; the channel language picks the variant).",
        ),
        _escape_digits(),
        Param(
            "sample_offset",
            "int | None",
            _optional(_integer(0, _INT64_MAX, "a number of samples")),
            "Start this many samples into the file (8000 per second for 8 kHz files).",
            default=None,
        ),
    ),
    dead_ok=False,
    parse=_parse_playback,
    returns="PlaybackResult",
    doc="""\
Play a file; an escape digit stops it.

Keys that are not escape digits are ignored. Music on hold is stopped (and not restarted). Sets
``PLAYBACKSTATUS`` to ``SUCCESS``, or ``FAILED`` for anything else, a digit included (left
unchanged when the file does not exist). A video file of the same name is played too.""",
    returns_doc="A :class:`~agikit.results.PlaybackResult`: the escape digit pressed (None if "
    "played to the end) and ``endpos``, the position reached in samples.",
    raises_doc="CommandFailed: the file does not exist, or the channel hung up (``result=-1``).",
)

CONTROL_STREAM_FILE = Command(
    ("CONTROL", "STREAM", "FILE"),
    "CONTROL STREAM FILE <filename> <escape_digits> [skipms] [ffchar] [rewchr] [pausechr] "
    "[offsetms]",
    (
        Param("filename", "str", _text, "The file to play, without extension."),
        _escape_digits('Keys that stop playback (0-9 * # A-D); "" for none.'),
        Param(
            "skip",
            "float | None",
            _skip,
            "Seconds to skip forward or back per key press; None for 3 s.",
            default=None,
            fill="3000",
        ),
        Param(
            "forward",
            "str | None",
            _optional_keys,
            "Fast-forward key(s); None for ``#``.",
            default=None,
            fill="",
        ),
        Param(
            "rewind",
            "str | None",
            _optional_keys,
            "Rewind key(s); None for ``*``.",
            default=None,
            fill="",
        ),
        Param(
            "pause",
            "str | None",
            _optional_keys,
            "Pause/resume key(s); None for none.",
            default=None,
            fill="",
        ),
        Param(
            "offset",
            "float | None",
            _offset_ms,
            "Start this many seconds into the file; negative counts back from the end.",
            default=None,
        ),
    ),
    dead_ok=False,
    parse=_parse_control_stream_file,
    returns="ControlPlaybackResult",
    doc="""\
Play a file the caller can fast-forward, rewind, pause and stop with keys.

Sets ``CPLAYBACKSTATUS`` (``SUCCESS``, ``USERSTOPPED``, ``REMOTESTOPPED`` or ``ERROR``),
``CPLAYBACKOFFSET`` (the same position as ``endpos_ms``) and ``CPLAYBACKSTOPKEY``. Not
interrupted by a new command line, and no EAGI audio flows while it plays.""",
    returns_doc="A :class:`~agikit.results.ControlPlaybackResult`: the stop key pressed (None "
    "if none) and ``endpos_ms``, where playback stopped in milliseconds (None at the end of the "
    "file; Asterisk computes it for 8 kHz files).",
    raises_doc="CommandFailed: the file does not exist, an error, or the channel hung up "
    "(``result=-1``).",
)

TDD_MODE = Command(
    ("TDD", "MODE"),
    "TDD MODE <on|off|tdd|mate>",
    (
        Param(
            "mode",
            "bool | str",
            _tdd_mode,
            'True or ``"on"``/``"tdd"`` to enable, False or ``"off"`` to disable, '
            '``"mate"`` for TDD mate mode.',
        ),
    ),
    dead_ok=False,
    parse=_parse_flag,
    returns="bool",
    doc="""\
Switch TDD (telecommunications device for the deaf) mode on the channel.

Only channels with a TDD option (such as DAHDI) accept it.""",
    returns_doc="True if the channel accepted the mode, False if it has no TDD support.",
)

VERBOSE = Command(
    ("VERBOSE",),
    "VERBOSE <message> [level]",
    (
        Param("message", "str", _text, "The message (spaces and all: it is sent quoted)."),
        Param(
            "level",
            "int | None",
            _optional(_integer(0, _INT32_MAX)),
            "Verbosity level needed to show it; None for 0 (always shown).",
            default=None,
        ),
    ),
    dead_ok=True,
    parse=_parse_nothing,
    returns="None",
    doc="""\
Log a message to Asterisk's verbose log, prefixed with the AGI's application data.

Works on a dead channel.""",
)

WAIT_FOR_DIGIT = Command(
    ("WAIT", "FOR", "DIGIT"),
    "WAIT FOR DIGIT <timeout>",
    (
        Param(
            "timeout",
            "float | None",
            _timeout_forever,
            "Seconds to wait; 0 returns at once; None (or inf, or a negative number) waits "
            "forever.",
        ),
    ),
    dead_ok=False,
    parse=_parse_wait_for_digit,
    returns="str | None",
    doc="""\
Wait for the caller to press a key; any key counts.

EAGI audio keeps flowing while it waits. DTMF pressed while no command runs is lost, so keep a
command like this one running when you expect input.""",
    returns_doc="The key pressed, None on timeout, or a :class:`~agikit.results.StreamControl` "
    "word when a stream-control frame (AMI ``ControlPlayback``) arrived.",
    raises_doc="CommandFailed: the channel hung up (``result=-1``). ProtocolError: Asterisk "
    "answered ``result=1``, meaning another command line arrived while it waited.",
)

_SPEECH_FLAG = "True on success, False on failure or when there is no speech object."

SPEECH_CREATE = Command(
    ("SPEECH", "CREATE"),
    "SPEECH CREATE [engine]",
    (
        Param(
            "engine",
            "str | None",
            _optional_text,
            "The speech engine; None for the default engine.",
            default=None,
        ),
    ),
    dead_ok=False,
    parse=_parse_flag,
    returns="bool",
    doc="""\
Create the speech recognition object of this AGI session.

The other SPEECH commands use it. There is one per session; it is destroyed when the session
ends.""",
    returns_doc="True when created; False when the engine does not exist (or no engine is "
    "loaded) or a speech object already exists in this session.",
)

SPEECH_SET = Command(
    ("SPEECH", "SET"),
    "SPEECH SET <name> <value>",
    (
        Param("name", "str", _name, "The engine setting."),
        Param("value", "str | int | float", _value, "Its value; numbers are sent as str()."),
    ),
    dead_ok=False,
    parse=_parse_flag,
    returns="bool",
    doc="""\
Change a setting of the speech engine.""",
    returns_doc=_SPEECH_FLAG,
)

SPEECH_DESTROY = Command(
    ("SPEECH", "DESTROY"),
    "SPEECH DESTROY",
    (),
    dead_ok=True,
    parse=_parse_flag,
    returns="bool",
    doc="""\
Destroy the speech object of this session. Works on a dead channel.""",
    returns_doc="True when destroyed, False when there was none.",
)

SPEECH_LOAD_GRAMMAR = Command(
    ("SPEECH", "LOAD", "GRAMMAR"),
    "SPEECH LOAD GRAMMAR <name> <path>",
    (
        Param("name", "str", _name, "The name to load the grammar under."),
        Param("path", "str", _name, "The grammar file."),
    ),
    dead_ok=False,
    parse=_parse_flag,
    returns="bool",
    doc="""\
Load a grammar into the speech engine.""",
    returns_doc=_SPEECH_FLAG,
)

SPEECH_UNLOAD_GRAMMAR = Command(
    ("SPEECH", "UNLOAD", "GRAMMAR"),
    "SPEECH UNLOAD GRAMMAR <name>",
    (Param("name", "str", _name, "The grammar's name."),),
    dead_ok=True,
    parse=_parse_flag,
    returns="bool",
    doc="""\
Unload a grammar from the speech engine. Works on a dead channel.""",
    returns_doc=_SPEECH_FLAG,
)

SPEECH_ACTIVATE_GRAMMAR = Command(
    ("SPEECH", "ACTIVATE", "GRAMMAR"),
    "SPEECH ACTIVATE GRAMMAR <name>",
    (Param("name", "str", _name, "The grammar's name."),),
    dead_ok=False,
    parse=_parse_flag,
    returns="bool",
    doc="""\
Activate a loaded grammar for recognition.""",
    returns_doc=_SPEECH_FLAG,
)

SPEECH_DEACTIVATE_GRAMMAR = Command(
    ("SPEECH", "DEACTIVATE", "GRAMMAR"),
    "SPEECH DEACTIVATE GRAMMAR <name>",
    (Param("name", "str", _name, "The grammar's name."),),
    dead_ok=False,
    parse=_parse_flag,
    returns="bool",
    doc="""\
Deactivate a grammar.""",
    returns_doc=_SPEECH_FLAG,
)

SPEECH_RECOGNIZE = Command(
    ("SPEECH", "RECOGNIZE"),
    "SPEECH RECOGNIZE <prompt> <timeout> [offset]",
    (
        Param("prompt", "str", _text, "The prompt to play (barge-in stops it)."),
        Param(
            "timeout",
            "float | None",
            _speech_timeout,
            "Whole seconds to wait after the prompt ends; None (or 0) for no timeout. Asterisk "
            "counts this one in seconds, not milliseconds.",
            default=None,
        ),
        Param(
            "offset",
            "int | None",
            _optional(_integer(0, _INT32_MAX, "a number of samples")),
            "Start the prompt this many samples in.",
            default=None,
        ),
    ),
    dead_ok=False,
    parse=_parse_speech_recognize,
    returns="SpeechResult",
    doc="""\
Play a prompt and recognise speech (or a key) with the session's speech object.

The channel's read format is switched to slin; the engine's processing sound plays while it
works. Not interrupted by a new command line, and no EAGI audio flows during it.""",
    returns_doc='A :class:`~agikit.results.SpeechResult`: ``outcome`` (``"speech"``, '
    '``"digit"`` or ``"timeout"``), ``hypotheses`` (score, text, grammar), the ``digit`` '
    "that barged in, and ``endpos``.",
    raises_doc="Hangup: the channel hung up during recognition (Asterisk still answers "
    "``result=1``, with ``(hangup)``). CommandFailed: there is no speech object, or the read "
    "format could not be set (``result=0``).",
)

GOSUB = Command(
    ("GOSUB",),
    "GOSUB <context> <extension> <priority|label> [argument-string]",
    (
        Param("context", "str", _name, "The subroutine's context."),
        Param("extension", "str", _name, "Its extension."),
        Param("priority", "int | str", _priority, "Its priority number or label."),
        Param(
            "arguments",
            "str",
            _joined,
            "Arguments for ``${ARG1}``, ``${ARG2}`` ..., joined with commas into the one "
            "argument word Asterisk takes (commas inside an argument split it).",
            variadic=True,
        ),
    ),
    dead_ok=False,
    parse=_parse_gosub,
    returns="GosubResult",
    doc="""\
Run a dialplan subroutine and wait until it returns.

Asterisk answers ``100 result=0 Trying...`` when the subroutine starts and the final reply when
it ends. It needs ``app_stack`` (else :class:`~agikit.errors.InvalidCommand`). Read the value
given to ``Return()`` with ``get_variable("GOSUB_RETVAL")``.""",
    returns_doc="A :class:`~agikit.results.GosubResult`: ``returned`` is False when the "
    "subroutine ended without ``Return()`` (hangup, fell off the end).",
    raises_doc="CommandFailed: the context, extension, priority or label does not exist "
    "(``Gosub label not found``), the subroutine could not start, or Asterisk ran out of "
    "memory (503).",
)

#: Every command, in Asterisk's order (``res_agi.c``'s ``commands[]``, then ``GOSUB``).
COMMANDS: "tuple[Command[Any], ...]" = (
    ANSWER,
    ASYNCAGI_BREAK,
    CHANNEL_STATUS,
    DATABASE_DEL,
    DATABASE_DELTREE,
    DATABASE_GET,
    DATABASE_PUT,
    EXEC,
    GET_DATA,
    GET_FULL_VARIABLE,
    GET_OPTION,
    GET_VARIABLE,
    HANGUP,
    NOOP,
    RECEIVE_CHAR,
    RECEIVE_TEXT,
    RECORD_FILE,
    SAY_ALPHA,
    SAY_DIGITS,
    SAY_NUMBER,
    SAY_PHONETIC,
    SAY_DATE,
    SAY_TIME,
    SAY_DATETIME,
    SEND_IMAGE,
    SEND_TEXT,
    SET_AUTOHANGUP,
    SET_CALLERID,
    SET_CONTEXT,
    SET_EXTENSION,
    SET_MUSIC,
    SET_PRIORITY,
    SET_VARIABLE,
    STREAM_FILE,
    CONTROL_STREAM_FILE,
    TDD_MODE,
    VERBOSE,
    WAIT_FOR_DIGIT,
    SPEECH_CREATE,
    SPEECH_SET,
    SPEECH_DESTROY,
    SPEECH_LOAD_GRAMMAR,
    SPEECH_UNLOAD_GRAMMAR,
    SPEECH_ACTIVATE_GRAMMAR,
    SPEECH_DEACTIVATE_GRAMMAR,
    SPEECH_RECOGNIZE,
    GOSUB,
)


# ------------------------------------------------------------------------------------------------
# Lookup and the raw escape hatch
# ------------------------------------------------------------------------------------------------

_BY_FIRST_WORD: "dict[bytes, list[tuple[tuple[bytes, ...], Command[Any]]]]" = {}
for _command in COMMANDS:
    _lowered = tuple(word.lower().encode("ascii") for word in _command.words)
    _BY_FIRST_WORD.setdefault(_lowered[0], []).append((_lowered, _command))
del _command, _lowered


def _word_bytes(word: str | bytes) -> bytes:
    try:
        return to_bytes(word)
    except UnicodeEncodeError:  # a lone surrogate has no bytes: it matches no command word
        return b"\x00"


def find_command(words: "Sequence[str | bytes] | str | bytes") -> "Command[Any] | None":
    """The command a command line runs, as Asterisk's ``find_command()`` decides.

    ``words`` is the line split into words (``split_command_line``), or the line itself. The
    leading words are compared case-insensitively (ASCII only, like ``strcasecmp``) with each
    command's words, in Asterisk's order; extra words are the arguments. None when no command
    matches (Asterisk answers ``510``), e.g. for ``GET`` alone or an empty line.
    """
    if isinstance(words, (str, bytes)):
        words = split_command_line(_word_bytes(words))
    lowered = [_word_bytes(word).lower() for word in words[:3]]
    if not lowered:
        return None
    candidates = _BY_FIRST_WORD.get(lowered[0])
    if candidates is None:
        return None
    for command_words, command in candidates:
        length = len(command_words)
        if len(lowered) >= length and tuple(lowered[:length]) == command_words:
            return command
    return None


def _raw_word_ok(word: str) -> bool:
    return word.isascii() and word.isprintable() and '"' not in word and "\\" not in word


def _return_reply(reply: "Reply") -> "Reply":
    return reply


def raw_request(command: str, *args: str | bytes | int | float) -> "CommandRequest[Reply]":
    """A request for any command line, for commands this table does not know yet.

    ``command`` holds the command words (``"NEW COMMAND"``), sent as they are; each of ``args``
    is sent as one argument, quoted as needed (numbers as ``str()``). The request is marked as
    allowed on a dead channel, so Asterisk decides, and its result is the
    :class:`~agikit.protocol.Reply` itself (after the usual mapping of 510, 511 and 520 to
    errors).
    """
    if not isinstance(command, str):
        raise _bad("raw() argument 'command'", "a str", command)
    words = command.split()
    if not words:
        raise ArgumentError(f"raw() argument 'command' holds no command word: {command!r}")
    for word in words:
        if not _raw_word_ok(word):
            raise ArgumentError(
                f"raw() argument 'command': {word!r} cannot be sent as a command word (printable "
                f"ASCII without quotes or backslashes); pass arguments separately"
            )
    values: list[str | bytes] = []
    names: list[str] = []
    for index, arg in enumerate(args, 1):
        label = f"raw() argument {index}"
        values.append(arg if isinstance(arg, bytes) else _value(arg, label))
        names.append(label)
    line = format_command(words, values, names)
    return CommandRequest(None, line, True, _return_reply)
