"""Every AGI command of Asterisk 22, in one declarative table: the single source of truth.

Each :class:`Command` holds the command's words, its typed parameters (how each Python value is
checked and put on the wire), whether Asterisk runs it on a dead channel and how its reply becomes
a typed result; its documentation is in :mod:`agikit._command_docs`, under the same name. The
``Call`` and ``SyncCall`` methods are generated from the two (``python -m agikit._codegen``), the
fake Asterisk asks :func:`find_command` which commands run on a dead channel, and a test checks the
table against ``agi show commands`` of a real Asterisk. :func:`complete` turns a reply into the
command's result, or its error.

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
start-up set and agikit's own protocol core, and it defers what a call rarely needs: a command's
parameters are given as plain data and built into :class:`Param` objects when the command is first
used, the documentation is loaded when first read, and :func:`find_command` (with
:func:`raw_request`) lives in a module of its own, loaded when first asked for.
"""

from ._outcomes import (
    ArgumentError,
    ChannelState,
    CommandError,
    CommandFailed,
    ControlPlaybackResult,
    DigitsResult,
    GosubResult,
    Hangup,
    InvalidCommand,
    PlaybackResult,
    ProtocolError,
    RecordResult,
    SpeechHypothesis,
    SpeechResult,
    StreamControl,
    UsageError,
    _Result,
)
from ._protocol import (
    MAX_WORDS,
    _remember,
    encode_argument,
    format_command,
)

_MEMO_SIZE = 256  # requests kept per command (for str, int or absent arguments only)
#: Every command's memo until its parameters are built, and the keywords of a positional
#: request (neither is ever written to).
_NOTHING_KEPT: "dict[Any, Any]" = {}
_NO_KEYWORDS: "dict[str, Any]" = {}
#: The argument types requests are kept for (not bool: 1 == True), and those of the arguments
#: that any argument equal to them stands for (a str subclass formats as the str does).
_KEPT_TYPES = frozenset({str, int, type(None)})
_TEXT_TYPES = frozenset({str, type(None)})

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, Generic, TypeVar

    from ._command_docs import CommandDoc
    from ._command_lookup import find_command, raw_request
    from .protocol.replies import Reply

    T = TypeVar("T")
    Converter = Callable[[Any, str], "str | None"]
    #: A parameter as the table gives it (see :func:`_param`).
    _ParamRow = tuple[Any, ...]

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
    "complete",
    "find_command",
    "raw_request",
    "refuse_when_dead",
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
    parameter takes the rest of the positional arguments, as a tuple. ``command`` is the
    :class:`Command` the parameter belongs to (set by the command).
    """

    __slots__ = ("annotation", "command", "convert", "default", "fill", "label", "name", "variadic")

    def __init__(
        self,
        name: str,
        annotation: str,
        convert: "Converter",
        *,
        default: object = _REQUIRED,
        fill: str | None = None,
        variadic: bool = False,
    ) -> None:
        self.name = name
        self.annotation = annotation
        self.convert = convert
        self.default = default
        self.fill = fill
        self.variadic = variadic
        self.label = name  # completed by Command: "stream_file() argument 'filename'"
        self.command: Command[Any] | None = None

    @property
    def required(self) -> bool:
        """True when the method has no default for this parameter."""
        return self.default is _REQUIRED and not self.variadic

    @property
    def doc(self) -> str:
        """The parameter's documentation (from :mod:`agikit._command_docs`)."""
        if self.command is None:
            return ""
        return self.command.documentation.params[self.name]

    def __repr__(self) -> str:
        return f"Param({self.name!r}: {self.annotation})"


def _param(row: "_ParamRow | Param") -> Param:
    """A :class:`Param` from a row of the table: ``(name, annotation, convert)``, then the
    ``default`` and the ``fill`` if any; ``"*name"`` is a variadic parameter."""
    if isinstance(row, Param):
        return row
    name, annotation, convert, *rest = row
    if name[0] == "*":
        return Param(name[1:], annotation, convert, variadic=True)
    if not rest:
        return Param(name, annotation, convert)
    return Param(name, annotation, convert, default=rest[0], fill=rest[1] if rest[1:] else None)


class CommandRequest(_Generic["T"]):
    """One command ready to send: its ``line`` (bytes, without the LF), whether Asterisk runs
    it on a dead channel (``dead_ok``), and ``parse``, which turns a ``200`` reply into the
    typed result. ``command`` is the table entry (``None`` for :func:`raw_request`).

    Transports send ``line`` through the session and hand the reply to :func:`complete`.
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
    name; ``params`` the method's parameters in Asterisk's argument order (the table gives them
    as rows of plain data, ``(name, annotation, convert[, default[, fill]])`` with a ``*`` before
    a variadic parameter's name, built into :class:`Param` objects on first use; ``Param``
    objects, or a function returning the parameters, are taken too); ``dead_ok`` whether
    Asterisk runs it on a dead channel (the Dead column of ``agi show commands``); ``parse``
    turns a ``200`` reply into the result, whose type ``returns`` names as the generated method
    declares it. ``adjust``, if given, may rewrite the argument values (in parameter order)
    before they are converted.

    The documentation is in :mod:`agikit._command_docs` under the command's constant name, and is
    loaded on first access: ``syntax`` is Asterisk's usage line, ``doc`` the method's
    documentation (first line: :attr:`summary`), ``returns_doc`` and ``raises_doc`` its Returns
    and Raises sections, and each parameter's ``doc`` its entry under Args.
    """

    __slots__ = (
        "_adjust",
        "_fixed",
        "_int_memo",
        "_make_params",
        "_memo",
        "_names",
        "_params",
        "_prefix",
        "_variadic",
        "dead_ok",
        "parse",
        "returns",
        "words",
    )

    def __init__(
        self,
        words: tuple[str, ...],
        params: "Sequence[_ParamRow | Param] | Callable[[], Sequence[_ParamRow | Param]]",
        *,
        dead_ok: bool,
        parse: "Callable[[Reply], T]",
        returns: str,
        adjust: "Callable[[list[Any]], None] | None" = None,
    ) -> None:
        self.words = words
        self._make_params = params
        self.dead_ok = dead_ok
        self.parse = parse
        self.returns = returns
        self._adjust = adjust
        self._params: tuple[Param, ...] | None = None
        #: Requests by arguments: all str or None (an equal argument is then that string, or
        #: None: the same request), and with some int (equal is not enough: 1 == True, 1.0).
        self._memo: dict[tuple[Any, ...], CommandRequest[T]] = _NOTHING_KEPT  # see _build_params
        self._int_memo: dict[tuple[Any, ...], CommandRequest[T]] = _NOTHING_KEPT

    @property
    def name(self) -> str:
        """The command as Asterisk spells it: ``"STREAM FILE"``."""
        return " ".join(self.words)

    @property
    def method(self) -> str:
        """The method's name: the words joined with ``_``, lower case (``"stream_file"``)."""
        return "_".join(self.words).lower()

    @property
    def params(self) -> tuple[Param, ...]:
        """The method's parameters, in Asterisk's argument order."""
        params = self._params
        return params if params is not None else self._build_params()

    def _build_params(self) -> tuple[Param, ...]:
        # Once per command and process, so on the first call of each: one plain loop.
        specs = self._make_params
        if callable(specs):
            specs = specs()
        params = tuple(_param(spec) for spec in specs)
        method = self.method
        fixed: list[Param] = []
        names: list[str] = []
        variadic: Param | None = None
        for param in params:
            param.command = self
            param.label = f"{method}() argument {param.name!r}"
            if not param.variadic:
                fixed.append(param)
                names.append(param.name)
            elif variadic is None:
                variadic = param
        self._fixed = tuple(fixed)
        self._variadic = variadic
        self._names = frozenset(names)
        self._prefix = format_command(self.words, ())  # the command words, checked once
        self._memo = {}
        self._int_memo = {}
        self._params = params
        return params

    @property
    def documentation(self) -> "CommandDoc":
        """The command's entry in :mod:`agikit._command_docs` (imported on first access)."""
        from . import _command_docs

        entry: CommandDoc = getattr(_command_docs, self.method.upper())
        return entry

    @property
    def syntax(self) -> str:
        """Asterisk's usage line: ``"STREAM FILE <filename> <escape_digits> [sample_offset]"``."""
        return self.documentation.syntax

    @property
    def doc(self) -> str:
        """The method's documentation; the first line is the summary."""
        return self.documentation.doc

    @property
    def returns_doc(self) -> str:
        """The Returns section of the method's documentation (``""``: none)."""
        return self.documentation.returns_doc

    @property
    def raises_doc(self) -> str:
        """The Raises section of the method's documentation (``""``: none)."""
        return self.documentation.raises_doc

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
        if kwargs:
            return self._checked(args, kwargs)
        return self._positional(args)

    def _positional(self, args: "tuple[Any, ...]") -> "CommandRequest[T]":
        """``request(*args)``, as the generated methods call it (one tuple: no packing of the
        arguments, no keyword dict), mostly with the same arguments again."""
        try:
            request = self._memo.get(args)
        except TypeError:  # an unhashable argument: never kept
            return self._checked(args, _NO_KEYWORDS)
        if request is not None:
            return request
        request = self._int_memo.get(args)
        if request is not None:
            # Kept for str, int and None arguments; equal ones may be of another type.
            for value in args:
                if type(value) not in _KEPT_TYPES:
                    break
            else:
                return request
        return self._checked(args, _NO_KEYWORDS)

    def _checked(self, args: "tuple[Any, ...]", kwargs: "dict[str, Any]") -> "CommandRequest[T]":
        if self._params is None:
            self._build_params()
        fixed = self._fixed
        count = len(args)
        if not kwargs and count == len(fixed) and self._variadic is None:
            # What the generated methods do: every parameter, positionally (_positional found
            # no kept request). Requests for str, int (not bool: 1 == True) or absent arguments
            # are kept: IVR code repeats the same prompts, variables and timeouts.
            request = self._build(list(args), args)
            types = set(map(type, args))
            if types <= _TEXT_TYPES:
                _remember(self._memo, args, request, _MEMO_SIZE)
            elif types <= _KEPT_TYPES:
                _remember(self._int_memo, args, request, _MEMO_SIZE)
            return request
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
        return self._build(values, args)

    def _build(self, values: "list[Any]", args: "tuple[Any, ...]") -> "CommandRequest[T]":
        fixed = self._fixed
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
        if not wire:
            line = self._prefix
        else:
            if len(wire) + len(self.words) > MAX_WORDS:
                format_command(self.words, wire, names)  # raises the word-limit error
            line = self._prefix + b" " + b" ".join(map(encode_argument, wire, names))
        return CommandRequest(self, line, self.dead_ok, self.parse)


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
# CommandFailed (or Hangup); complete() turns it into the error, with the command and reply.
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


#: A parameter as the table gives it: ``(name, annotation, convert[, default[, fill]])``, a
#: name starting with ``*`` for a variadic one (see :class:`Param`). Plain data, so that
#: importing the table creates no function per command: the :class:`Param` objects are built
#: when the command is first used.
_ESCAPE_DIGITS = ("escape_digits", "str", _keys, "")


# ------------------------------------------------------------------------------------------------
# The table, in Asterisk's order. The documentation is in _command_docs.py, under the same names.
# ------------------------------------------------------------------------------------------------

ANSWER = Command(
    ("ANSWER",),
    (),
    dead_ok=False,
    parse=_parse_success,
    returns="None",
)

ASYNCAGI_BREAK = Command(
    ("ASYNCAGI", "BREAK"),
    (),
    dead_ok=True,
    parse=_parse_nothing,
    returns="None",
)

CHANNEL_STATUS = Command(
    ("CHANNEL", "STATUS"),
    (("channel", "str | None", _optional_name, None),),
    dead_ok=False,
    parse=_parse_channel_status,
    returns="ChannelState | None",
)

DATABASE_DEL = Command(
    ("DATABASE", "DEL"),
    (("family", "str", _name), ("key", "str", _name)),
    dead_ok=True,
    parse=_parse_database_write,
    returns="None",
)

DATABASE_DELTREE = Command(
    ("DATABASE", "DELTREE"),
    (("family", "str", _name), ("keytree", "str | None", _optional_text, None)),
    dead_ok=True,
    parse=_parse_database_deltree,
    returns="bool",
)

DATABASE_GET = Command(
    ("DATABASE", "GET"),
    (("family", "str", _name), ("key", "str", _name)),
    dead_ok=True,
    parse=_parse_value,
    returns="str | None",
)

DATABASE_PUT = Command(
    ("DATABASE", "PUT"),
    (("family", "str", _name), ("key", "str", _name), ("value", "str | int | float", _value)),
    dead_ok=True,
    parse=_parse_database_write,
    returns="None",
)

EXEC = Command(
    ("EXEC",),
    (("application", "str", _name), ("*options", "str", _joined)),
    dead_ok=True,
    parse=_parse_exec,
    returns="int",
)

GET_DATA = Command(
    ("GET", "DATA"),
    (
        ("file", "str", _text),
        ("timeout", "float | None", _timeout_optional, None, "0"),
        ("max_digits", "int | None", _optional(_integer(1, 1024)), None),
    ),
    dead_ok=False,
    parse=_parse_get_data,
    returns="DigitsResult",
)

GET_FULL_VARIABLE = Command(
    ("GET", "FULL", "VARIABLE"),
    (("expression", "str", _text), ("channel", "str | None", _optional_name, None)),
    dead_ok=True,
    parse=_parse_value,
    returns="str | None",
)

GET_OPTION = Command(
    ("GET", "OPTION"),
    (
        ("filename", "str", _text),
        _ESCAPE_DIGITS,
        ("timeout", "float | None", _timeout_optional, None),
    ),
    dead_ok=False,
    parse=_parse_playback,
    returns="PlaybackResult",
)

GET_VARIABLE = Command(
    ("GET", "VARIABLE"),
    (("name", "str", _name),),
    dead_ok=True,
    parse=_parse_value,
    returns="str | None",
)

HANGUP = Command(
    ("HANGUP",),
    (("channel", "str | None", _optional_name, None),),
    dead_ok=False,
    parse=_parse_hangup,
    returns="bool",
)

NOOP = Command(
    ("NOOP",),
    (("text", "str | None", _optional_text, None),),
    dead_ok=True,
    parse=_parse_nothing,
    returns="None",
)

RECEIVE_CHAR = Command(
    ("RECEIVE", "CHAR"),
    (("timeout", "float | None", _timeout_forever),),
    dead_ok=False,
    parse=_parse_receive_char,
    returns="str | None",
)

RECEIVE_TEXT = Command(
    ("RECEIVE", "TEXT"),
    (("timeout", "float | None", _timeout_forever),),
    dead_ok=False,
    parse=_parse_value,
    returns="str | None",
)

RECORD_FILE = Command(
    ("RECORD", "FILE"),
    (
        ("filename", "str", _name),
        ("format", "str", _name),
        _ESCAPE_DIGITS,
        ("timeout", "float | None", _timeout_forever, None),
        (
            "offset",
            "int | None",
            _optional(_integer(0, _INT64_MAX, "a number of samples")),
            None,
            "0",
        ),
        ("beep", "bool", _beep, False),
        ("silence", "float | None", _silence, None),
    ),
    dead_ok=False,
    parse=_parse_record_file,
    returns="RecordResult",
)

SAY_ALPHA = Command(
    ("SAY", "ALPHA"),
    (("text", "str", _text), _ESCAPE_DIGITS, ("case", "str | None", _say_case, None)),
    dead_ok=False,
    parse=_parse_key,
    returns="str | None",
)

SAY_DIGITS = Command(
    ("SAY", "DIGITS"),
    (("digits", "str | int", _say_digits), _ESCAPE_DIGITS),
    dead_ok=False,
    parse=_parse_key,
    returns="str | None",
)

SAY_NUMBER = Command(
    ("SAY", "NUMBER"),
    (
        ("number", "int", _integer(_INT32_MIN, _INT32_MAX)),
        _ESCAPE_DIGITS,
        ("gender", "str | None", _optional_name, None),
    ),
    dead_ok=False,
    parse=_parse_key,
    returns="str | None",
)

SAY_PHONETIC = Command(
    ("SAY", "PHONETIC"),
    (("text", "str", _text), _ESCAPE_DIGITS),
    dead_ok=False,
    parse=_parse_key,
    returns="str | None",
)

SAY_DATE = Command(
    ("SAY", "DATE"),
    (("when", "int | datetime", _epoch(_INT32_MIN, _INT32_MAX)), _ESCAPE_DIGITS),
    dead_ok=False,
    parse=_parse_key,
    returns="str | None",
)

SAY_TIME = Command(
    ("SAY", "TIME"),
    (("when", "int | datetime", _epoch(_INT32_MIN, _INT32_MAX)), _ESCAPE_DIGITS),
    dead_ok=False,
    parse=_parse_key,
    returns="str | None",
)

SAY_DATETIME = Command(
    ("SAY", "DATETIME"),
    (
        ("when", "int | datetime", _epoch(_INT64_MIN, _INT64_MAX)),
        _ESCAPE_DIGITS,
        ("format", "str | None", _optional_text, None, SAY_DATETIME_DEFAULT_FORMAT),
        ("timezone", "str | None", _optional_text, None),
    ),
    dead_ok=False,
    parse=_parse_key,
    returns="str | None",
    adjust=_zone_of,
)

SEND_IMAGE = Command(
    ("SEND", "IMAGE"),
    (("image", "str", _name),),
    dead_ok=False,
    parse=_parse_success,
    returns="None",
)

SEND_TEXT = Command(
    ("SEND", "TEXT"),
    (("text", "str", _text),),
    dead_ok=False,
    parse=_parse_success,
    returns="None",
)

SET_AUTOHANGUP = Command(
    ("SET", "AUTOHANGUP"),
    (("seconds", "float | None", _autohangup),),
    dead_ok=False,
    parse=_parse_nothing,
    returns="None",
)

SET_CALLERID = Command(
    ("SET", "CALLERID"),
    (("callerid", "str", _text),),
    dead_ok=False,
    parse=_parse_nothing,
    returns="None",
)

SET_CONTEXT = Command(
    ("SET", "CONTEXT"),
    (("context", "str", _name),),
    dead_ok=False,
    parse=_parse_nothing,
    returns="None",
)

SET_EXTENSION = Command(
    ("SET", "EXTENSION"),
    (("extension", "str", _name),),
    dead_ok=False,
    parse=_parse_nothing,
    returns="None",
)

SET_MUSIC = Command(
    ("SET", "MUSIC"),
    (("on", "bool", _on_off), ("music_class", "str | None", _optional_name, None)),
    dead_ok=False,
    parse=_parse_nothing,
    returns="None",
)

SET_PRIORITY = Command(
    ("SET", "PRIORITY"),
    (("priority", "int | str", _priority),),
    dead_ok=False,
    parse=_parse_nothing,
    returns="None",
)

SET_VARIABLE = Command(
    ("SET", "VARIABLE"),
    (("name", "str", _name), ("value", "str | int | float", _value)),
    dead_ok=True,
    parse=_parse_nothing,
    returns="None",
)

STREAM_FILE = Command(
    ("STREAM", "FILE"),
    (
        ("filename", "str", _text),
        _ESCAPE_DIGITS,
        (
            "sample_offset",
            "int | None",
            _optional(_integer(0, _INT64_MAX, "a number of samples")),
            None,
        ),
    ),
    dead_ok=False,
    parse=_parse_playback,
    returns="PlaybackResult",
)

CONTROL_STREAM_FILE = Command(
    ("CONTROL", "STREAM", "FILE"),
    (
        ("filename", "str", _text),
        _ESCAPE_DIGITS,
        ("skip", "float | None", _skip, None, "3000"),
        ("forward", "str | None", _optional_keys, None, ""),
        ("rewind", "str | None", _optional_keys, None, ""),
        ("pause", "str | None", _optional_keys, None, ""),
        ("offset", "float | None", _offset_ms, None),
    ),
    dead_ok=False,
    parse=_parse_control_stream_file,
    returns="ControlPlaybackResult",
)

TDD_MODE = Command(
    ("TDD", "MODE"),
    (("mode", "bool | str", _tdd_mode),),
    dead_ok=False,
    parse=_parse_flag,
    returns="bool",
)

VERBOSE = Command(
    ("VERBOSE",),
    (("message", "str", _text), ("level", "int | None", _optional(_integer(0, _INT32_MAX)), None)),
    dead_ok=True,
    parse=_parse_nothing,
    returns="None",
)

WAIT_FOR_DIGIT = Command(
    ("WAIT", "FOR", "DIGIT"),
    (("timeout", "float | None", _timeout_forever),),
    dead_ok=False,
    parse=_parse_wait_for_digit,
    returns="str | None",
)

SPEECH_CREATE = Command(
    ("SPEECH", "CREATE"),
    (("engine", "str | None", _optional_text, None),),
    dead_ok=False,
    parse=_parse_flag,
    returns="bool",
)

SPEECH_SET = Command(
    ("SPEECH", "SET"),
    (("name", "str", _name), ("value", "str | int | float", _value)),
    dead_ok=False,
    parse=_parse_flag,
    returns="bool",
)

SPEECH_DESTROY = Command(
    ("SPEECH", "DESTROY"),
    (),
    dead_ok=True,
    parse=_parse_flag,
    returns="bool",
)

SPEECH_LOAD_GRAMMAR = Command(
    ("SPEECH", "LOAD", "GRAMMAR"),
    (("name", "str", _name), ("path", "str", _name)),
    dead_ok=False,
    parse=_parse_flag,
    returns="bool",
)

SPEECH_UNLOAD_GRAMMAR = Command(
    ("SPEECH", "UNLOAD", "GRAMMAR"),
    (("name", "str", _name),),
    dead_ok=True,
    parse=_parse_flag,
    returns="bool",
)

SPEECH_ACTIVATE_GRAMMAR = Command(
    ("SPEECH", "ACTIVATE", "GRAMMAR"),
    (("name", "str", _name),),
    dead_ok=False,
    parse=_parse_flag,
    returns="bool",
)

SPEECH_DEACTIVATE_GRAMMAR = Command(
    ("SPEECH", "DEACTIVATE", "GRAMMAR"),
    (("name", "str", _name),),
    dead_ok=False,
    parse=_parse_flag,
    returns="bool",
)

SPEECH_RECOGNIZE = Command(
    ("SPEECH", "RECOGNIZE"),
    (
        ("prompt", "str", _text),
        ("timeout", "float | None", _speech_timeout, None),
        ("offset", "int | None", _optional(_integer(0, _INT32_MAX, "a number of samples")), None),
    ),
    dead_ok=False,
    parse=_parse_speech_recognize,
    returns="SpeechResult",
)

GOSUB = Command(
    ("GOSUB",),
    (
        ("context", "str", _name),
        ("extension", "str", _name),
        ("priority", "int | str", _priority),
        ("*arguments", "str", _joined),
    ),
    dead_ok=False,
    parse=_parse_gosub,
    returns="GosubResult",
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
# Lookup and the raw escape hatch: in agikit._command_lookup, imported on first use (process AGI
# rarely needs them, and pays for every function it imports).
# ------------------------------------------------------------------------------------------------


def __getattr__(name: str) -> object:
    if name not in ("find_command", "raw_request"):
        raise AttributeError(f"module 'agikit.commands' has no attribute {name!r}")
    # __import__ rather than importlib.import_module: importlib is not loaded at start-up.
    value = getattr(__import__("agikit._command_lookup", fromlist=[name]), name)
    globals()[name] = value
    return value


# ------------------------------------------------------------------------------------------------
# Completion: the one place where a reply becomes a command's typed result, or an error.
# Transports call refuse_when_dead() before sending a request and complete() with the reply. Both
# run once per command on the hot path, so they do as little as possible: one comparison for the
# common 200 case, then the command's parser.
# ------------------------------------------------------------------------------------------------


_UNPARSED: "Any" = object()
#: Results that may be handed to several commands: immutable, as every result class is (a raw
#: request's own parser may return anything, and only these are kept).
_SHAREABLE = frozenset({type(None), bool, int, str, ChannelState, *_Result.__subclasses__()})
#: At most this many parsers' results are kept per reply.
_PARSED_SIZE = 32


def complete(request: "CommandRequest[T]", reply: "Reply", hung_up: bool) -> "T":
    """The typed result of ``request`` from Asterisk's ``reply``, or the matching error.

    ``hung_up`` is whether the transport knew the channel was hung up when the reply arrived
    (``HANGUP`` line or SIGHUP). Codes: ``200`` goes to the command's parser; a failure it
    reports raises :class:`CommandFailed`, or :class:`Hangup` when the channel is known to be
    hung up and the command is one that needs a live channel (a dead-channel command, such as
    ``DATABASE PUT``, fails for its own reasons). ``510`` raises :class:`InvalidCommand`,
    ``511`` :class:`Hangup`, ``520`` :class:`UsageError`, ``503`` :class:`CommandFailed`; any
    other code :class:`ProtocolError`. Every :class:`~agikit.errors.CommandError` carries the
    command line sent (``command``) and the reply (``reply``).
    """
    parse = request.parse
    parsed = reply._parsed
    if parsed is not None:  # a short reply that repeats: each parser's success is kept
        result = parsed.get(parse, _UNPARSED)
        if result is not _UNPARSED:
            return result  # type: ignore[return-value]
    code = reply.code
    if code == 200:
        try:
            result = parse(reply)
        except _Failed as failure:
            if failure.hangup or (hung_up and not request.dead_ok):
                raise Hangup(str(failure), command=request.text, reply=reply) from None
            raise CommandFailed(str(failure), command=request.text, reply=reply) from None
        if parsed is not None and type(result) in _SHAREABLE and len(parsed) < _PARSED_SIZE:
            parsed[parse] = result
        return result
    if code == 511:
        raise Hangup(
            "the channel is hung up: Asterisk runs only dead-channel commands now",
            command=request.text,
            reply=reply,
        )
    if code == 510:
        raise InvalidCommand(
            "Asterisk does not know this command (or the module providing it is not loaded)",
            command=request.text,
            reply=reply,
        )
    if code == 520:
        raise UsageError(
            "Asterisk rejected the command's arguments", command=request.text, reply=reply
        )
    if code == 503:
        raise CommandFailed(
            "Asterisk could not run the command (out of memory)",
            command=request.text,
            reply=reply,
        )
    raise ProtocolError(f"unexpected reply {reply.raw_text!r} to command {request.text!r}")


def hangup_unknown(request: "CommandRequest[Any]", hung_up: bool) -> bool:
    """After ``request`` failed: is it unknown whether the channel hung up?

    A command that needs a live channel answers ``result=-1`` both when it fails and when the
    caller hangs up while it runs. Asterisk notifies a hangup it detected (SIGHUP, or the
    ``HANGUP`` line) before it reads the next command line (``run_agi()`` drains the channel
    first), so when this returns True the transport sends one ``NOOP``; after its reply,
    :func:`failure_or_hangup` gives the right error.
    """
    return not request.dead_ok and not hung_up


def failure_or_hangup(
    request: "CommandRequest[Any]", failure: CommandFailed, hung_up: bool
) -> CommandError:
    """The error to raise for ``failure`` of ``request`` once the transport knows whether the
    channel hung up: :class:`Hangup` if it did and the command needs a live channel.

    Transports ask this even when :func:`hangup_unknown` said no probe was needed: SIGHUP's
    handler can run between the reply and that question, so ``hung_up`` may have become True
    after :func:`complete` looked at it.
    """
    if request.dead_ok or not hung_up:
        return failure
    return Hangup(
        "the channel hung up while the command ran", command=failure.command, reply=failure.reply
    )


def refuse_when_dead(request: "CommandRequest[T]", hung_up: bool) -> None:
    """Raise :class:`Hangup` without sending, when the channel is known to be hung up and
    Asterisk would answer ``511`` anyway (the command needs a live channel)."""
    if hung_up and not request.dead_ok:
        raise Hangup(
            "the channel is hung up and this command needs a live channel (not sent)",
            command=request.text,
            reply=None,
        )
