"""The protocol core's code in one module: the environment block, quoting, replies, the session.

Import the names from their public modules, :mod:`agikit.protocol.environment`,
:mod:`agikit.protocol.quoting`, :mod:`agikit.protocol.replies` and
:mod:`agikit.protocol.session` (each documents its part, and each name's ``__module__`` says where
it belongs). They live together here, outside the ``agikit.protocol`` package, because process AGI
imports them on every call, and each module (the package's ``__init__`` too) costs its import
machinery on top of its code.

No ``from __future__ import annotations`` here (nor in the rest of the protocol core): that
statement imports the ``__future__`` module at run time, which process AGI would pay for on every
call. Annotations that name typing-only classes are written as strings instead.
"""

from ._outcomes import ArgumentError, CommandInFlight, ConnectionClosed, ProtocolError, publish

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Any, NoReturn


# ------------------------------------------------------------------------------------------------
# The environment block (agikit.protocol.environment)
# ------------------------------------------------------------------------------------------------


# types.MappingProxyType without importing ``types`` (not in the interpreter's start-up set).
_MappingProxy = type(type.__dict__)
_new = object.__new__


class Environment:
    """What Asterisk told the AGI about the call, typed and immutable.

    Build it from the ``(name, value)`` lines in the order Asterisk sent them, or from a mapping
    of ``agi_*`` names. Text fields are exactly as sent (decoded as UTF-8; undecodable bytes are
    kept as lone surrogates and go back to Asterisk unchanged). Asterisk sends ``unknown`` for an
    empty or invalid caller ID number or name, DNID and RDNIS. Every line, including any this
    class has no field for, is in :attr:`raw`.

    Only the lines are stored: each field is read from them when asked for (a call reads a few
    of its two dozen fields, and a server builds one environment per call; a FastAGI block of
    the standard lines and arguments is kept as the one match that read it and the arguments,
    and its dict of lines is built only if :attr:`raw` or a comparison asks for it). A field
    whose line is missing is ``""`` (text), ``0`` (numbers) or False.
    """

    __slots__ = ("_args", "_lines", "_match")
    #: The lines; None while only ``_match`` has them (built on first need, see _lines_of).
    _lines: "dict[str, str] | None"
    #: FastAGI: the match of the standard lines (``_FASTAGI_LAYOUT``), or None.
    _match: "re.Match[str] | None"
    _args: "tuple[str, ...] | None"

    def __init__(self, lines: "Iterable[tuple[str, str]] | Mapping[str, str]" = ()) -> None:
        _set(self, "_lines", dict(lines.items() if hasattr(lines, "items") else lines))
        _set(self, "_match", None)
        _set(self, "_args", None)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Environment is immutable (cannot set {name})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Environment is immutable (cannot delete {name})")

    def __reduce__(self) -> "tuple[object, ...]":
        # copy and pickle rebuild it from its lines (the default would go through __setattr__).
        return (Environment, (list(_lines_of(self).items()),))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Environment):
            return NotImplemented
        return list(_lines_of(self).items()) == list(_lines_of(other).items())

    def __hash__(self) -> int:
        return hash(tuple(_lines_of(self).items()))

    def __repr__(self) -> str:
        return f"Environment(channel={self.channel!r}, uniqueid={self.uniqueid!r}, ...)"

    @property
    def raw(self) -> "Mapping[str, str]":
        """Every line as sent, in order (``agi_*`` name → value), read-only."""
        return _MappingProxy(_lines_of(self))

    # -- text fields ------------------------------------------------------------------------
    @property
    def request(self) -> str:
        """The first ``AGI()`` argument as written: script name, ``agi://`` URL or ``async``."""
        return _field(self, "agi_request")

    @property
    def channel(self) -> str:
        """The channel's name (``PJSIP/alice-00000001``)."""
        return _field(self, "agi_channel")

    @property
    def language(self) -> str:
        """The channel's language (``en``)."""
        return _field(self, "agi_language")

    @property
    def type(self) -> str:
        """The channel technology (``PJSIP``, ``Local`` ...)."""
        return _field(self, "agi_type")

    @property
    def uniqueid(self) -> str:
        """The channel's unique ID (``1700000000.1``)."""
        return _field(self, "agi_uniqueid")

    @property
    def version(self) -> str:
        """Asterisk's version, e.g. ``22.10.1``."""
        return _field(self, "agi_version")

    @property
    def callerid(self) -> str:
        """The caller ID number."""
        return _field(self, "agi_callerid")

    @property
    def calleridname(self) -> str:
        """The caller ID name."""
        return _field(self, "agi_calleridname")

    @property
    def dnid(self) -> str:
        """The dialed number identifier."""
        return _field(self, "agi_dnid")

    @property
    def rdnis(self) -> str:
        """The redirecting number."""
        return _field(self, "agi_rdnis")

    @property
    def context(self) -> str:
        """The dialplan context the ``AGI()`` ran in."""
        return _field(self, "agi_context")

    @property
    def extension(self) -> str:
        """The dialplan extension the ``AGI()`` ran in."""
        return _field(self, "agi_extension")

    @property
    def accountcode(self) -> str:
        """The channel's account code."""
        return _field(self, "agi_accountcode")

    # -- number fields (0 when missing or not a number) -------------------------------------
    @property
    def callingpres(self) -> int:
        """The caller ID presentation."""
        return _number(self, "agi_callingpres")

    @property
    def callingani2(self) -> int:
        """The caller's ANI2 (information digits)."""
        return _number(self, "agi_callingani2")

    @property
    def callington(self) -> int:
        """The caller ID type of number."""
        return _number(self, "agi_callington")

    @property
    def callingtns(self) -> int:
        """The transit network selector."""
        return _number(self, "agi_callingtns")

    @property
    def priority(self) -> int:
        """The dialplan priority the ``AGI()`` ran at."""
        return _number(self, "agi_priority")

    @property
    def threadid(self) -> int:
        """The id of the Asterisk thread running the AGI."""
        return _number(self, "agi_threadid")

    # -- the others -------------------------------------------------------------------------
    @property
    def enhanced(self) -> bool:
        """True under EAGI (``agi_enhanced: 1.0``): the caller's audio is on fd 3."""
        return _field(self, "agi_enhanced", "0.0") not in ("0.0", "0", "")

    @property
    def args(self) -> "tuple[str, ...]":
        """``agi_arg_1``, ``agi_arg_2`` ... in order (the other ``AGI()`` arguments)."""
        args = self._args
        if args is None:
            args = _args(_lines_of(self))
            _set(self, "_args", args)
        return args

    @property
    def network(self) -> bool:
        """True for FastAGI (``agi_network: yes``)."""
        return _field(self, "agi_network") == "yes"

    @property
    def network_script(self) -> "str | None":
        """FastAGI: the URL after the host, e.g. ``ivr/main?lang=en``; None when absent."""
        lines = self._lines
        if lines is None:  # the match has every standard line, and None for a missing script
            match: re.Match[str] = self._match  # type: ignore[assignment]
            return match["agi_network_script"]
        return lines.get("agi_network_script")

    @property
    def script_path(self) -> str:
        """FastAGI: the path part of ``agi://host/path?query`` (no leading slash); else ``""``."""
        return (self.network_script or "").split("?", 1)[0]

    @property
    def query_string(self) -> str:
        """FastAGI: the query part of the URL after ``?`` (not decoded); else ``""``."""
        script = self.network_script or ""
        return script.split("?", 1)[1] if "?" in script else ""

    @property
    def query(self) -> dict[str, list[str]]:
        """FastAGI: the URL's query parameters, decoded (``?a=1&a=2`` → ``{"a": ["1", "2"]}``)."""
        from urllib.parse import parse_qs  # only FastAGI apps pay for this import

        return parse_qs(self.query_string, keep_blank_values=True)

    def to_bytes(self) -> bytes:
        """The block as Asterisk writes it: each line of ``raw`` in order, then an empty line."""
        text = "".join(f"{name}: {value}\n" for name, value in _lines_of(self).items())
        return text.encode("utf-8", "surrogateescape") + b"\n"


_set = object.__setattr__


def _lines_of(environment: Environment) -> "dict[str, str]":
    lines = environment._lines
    if lines is None:
        # The standard FastAGI lines and the arguments, not asked for as a dict before.
        lines = _matched_lines(environment._match)  # type: ignore[arg-type]
        for number, value in enumerate(environment._args or (), 1):
            lines[f"agi_arg_{number}"] = value
        _set(environment, "_lines", lines)
    return lines


def _field(environment: Environment, name: str, default: str = "") -> str:
    """The value of line ``name`` (one of ``_FASTAGI_NAMES`` but ``agi_network_script``, the
    one a match may lack), or ``default`` without it."""
    lines = environment._lines
    if lines is None:  # every standard line is in the match
        match: re.Match[str] = environment._match  # type: ignore[assignment]
        return match[name]
    return lines.get(name, default)


def _number(environment: Environment, name: str) -> int:
    try:
        return int(_field(environment, name, "0"))
    except ValueError:
        return 0


def _args(lines: "dict[str, str]") -> "tuple[str, ...]":
    """The ``agi_arg_N`` values in numeric order (looked for only when some name holds them)."""
    if "agi_arg_" not in "\n".join(lines):
        return ()
    numbered: dict[int, str] = {}
    for key, value in lines.items():
        if key.startswith("agi_arg_") and key[8:].isascii() and key[8:].isdigit():
            numbered[int(key[8:])] = value
    return tuple(value for _, value in sorted(numbered.items()))


def environment_from_dict(raw: "dict[str, str]") -> Environment:
    """An :class:`Environment` that takes ``raw`` over (the caller must not change it later):
    the session's way, without the copy that the constructor makes."""
    environment: Environment = _new(Environment)
    _set(environment, "_lines", raw)
    _set(environment, "_match", None)
    _set(environment, "_args", None)
    return environment


# ------------------------------------------------------------------------------------------------
# Quoting (agikit.protocol.quoting)
# ------------------------------------------------------------------------------------------------


#: ``parse_args`` keeps at most MAX_ARGS - 1 = 127 words, command words included.
MAX_WORDS = 127
#: Longest command (without its LF) that Asterisk reads as one line: ``fgets`` into an 8192-byte
#: buffer (AGI_BUF_LEN) reads at most 8191 bytes, LF included, from 20.16, 21.11 and 22.6 on; a
#: 2048-byte one before.
MAX_LINE_BYTES = 8190
MAX_LINE_BYTES_BEFORE_8K = 2046

#: What a command word may not hold: it is sent as is, unquoted.
_NOT_IN_WORD = frozenset(b' \t"\\\n\r\x00')
_8K_FROM = {20: 16, 21: 11, 22: 6}


def to_bytes(value: str | bytes) -> bytes:
    """Text as it goes on the wire: UTF-8, with lone surrogates (undecodable input) restored."""
    if isinstance(value, bytes):
        return value
    return value.encode("utf-8", "surrogateescape")


def _shorten(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def encode_argument(value: str | bytes, name: str = "argument") -> bytes:
    """One argument, quoted only if it must be: empty, or holding a space, TAB, quote or backslash.

    Raises :class:`ArgumentError` naming ``name`` for CR, LF or NUL, which AGI cannot carry, and
    for text that has no bytes (a lone surrogate other than the ``surrogateescape`` ones).
    """
    try:
        raw = to_bytes(value)
    except UnicodeEncodeError:
        raise ArgumentError(
            f"{name} holds a lone surrogate that has no UTF-8 bytes: {_shorten(value)}"
        ) from None
    # ``int in bytes`` is a memchr: much faster than a set of bytes or a bytes needle.
    if 10 in raw or 13 in raw or 0 in raw:  # LF, CR, NUL
        forbidden = next(bytes((byte,)) for byte in (10, 13, 0) if byte in raw)
        raise ArgumentError(
            f"{name} contains {forbidden!r}, which an AGI command line cannot carry: "
            f"{_shorten(value)}"
        )
    if raw and not (32 in raw or 9 in raw or 34 in raw or 92 in raw):  # space TAB " \\
        return raw
    return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def format_command(
    words: "Sequence[str]", args: "Iterable[str | bytes]", names: "Sequence[str]" = ()
) -> bytes:
    """The command line (without LF) for ``words`` followed by ``args``, each argument quoted.

    ``words`` are the command words, one per item (``("STREAM", "FILE")``), sent unquoted: each
    must be non-empty ASCII without space, TAB, quote, backslash, CR, LF or NUL. ``names`` name
    the arguments in error messages. Checks the 127-word limit; the line length limit depends on
    the Asterisk version and is checked by the session before sending.
    """
    parts = []
    for word in words:
        raw = word.encode("ascii") if word.isascii() else b""
        if not raw or not _NOT_IN_WORD.isdisjoint(raw):
            raise ArgumentError(f"not a command word: {word!r}")
        parts.append(raw)
    for index, value in enumerate(args):
        name = names[index] if index < len(names) else f"argument {index + 1}"
        parts.append(encode_argument(value, name))
    if len(parts) > MAX_WORDS:
        raise ArgumentError(
            f"{' '.join(words)}: {len(parts)} words, but Asterisk reads at most {MAX_WORDS}"
        )
    line = b" ".join(parts)
    if line[:7].lower() == b"failure":
        # Asterisk ends the AGI session on any line that starts with "failure".
        raise ArgumentError(f"a command line may not start with 'failure': {line[:40]!r}")
    return line


def max_line_bytes(agi_version: str) -> int:
    """The longest command line this Asterisk reads whole, from its ``agi_version``.

    Unknown or unparseable versions get the smaller, older limit: refusing a long line is safe,
    sending one that Asterisk splits in two is not.
    """
    head = agi_version.split("-", 1)[0].split("+", 1)[0].split(".")
    if len(head) < 2:
        return MAX_LINE_BYTES_BEFORE_8K
    major, minor = head[0], head[1]
    if not (major.isascii() and major.isdigit() and minor.isascii() and minor.isdigit()):
        return MAX_LINE_BYTES_BEFORE_8K
    major_number, minor_number = int(major), int(minor)
    if major_number > 22 or minor_number >= _8K_FROM.get(major_number, 1 << 30):
        return MAX_LINE_BYTES
    return MAX_LINE_BYTES_BEFORE_8K


def split_command_line(line: bytes) -> list[bytes]:
    """Split a command line into words exactly as Asterisk's ``parse_args()`` does.

    ``line`` is what Asterisk read, without its LF. Like the C code, reading stops at a NUL byte.
    Words beyond the 127th are dropped. (``parse_args`` does not apply that limit to a word opened
    by a quote, and writes past its ``argv`` array; here such words are dropped too.)
    """
    words: list[bytearray] = []
    current: bytearray | None = None
    quoted = escaped = False
    for byte in line:
        if byte == 0:  # the C string ends here
            break
        if byte == 0x22 and not escaped:  # '"'
            quoted = not quoted
            if quoted and current is None and len(words) < MAX_WORDS:
                current = bytearray()  # an opening quote after whitespace starts a word
                words.append(current)
            continue
        if byte in (0x20, 0x09) and not quoted and not escaped:
            current = None
            continue
        if byte == 0x5C and not escaped:  # '\\'
            escaped = True
            continue
        escaped = False
        if current is None:
            if len(words) >= MAX_WORDS:
                break  # beyond the word limit nothing can be added any more
            current = bytearray()
            words.append(current)
        current.append(byte)
    return [bytes(word) for word in words]


# ------------------------------------------------------------------------------------------------
# Replies (agikit.protocol.replies)
# ------------------------------------------------------------------------------------------------


def decode(raw: bytes) -> str:
    """Wire bytes as text: UTF-8, with undecodable bytes kept as lone surrogates (lossless)."""
    return raw.decode("utf-8", "surrogateescape")


class Reply:
    """One complete reply to one command (immutable).

    ``code`` is the final line's code; ``result`` the value of its ``result=`` token (``None``
    when the line has none, as for 510 and 511); ``tail`` the rest of the final line after that
    token and one space; ``lines`` every line of the reply exactly as received, without LFs.
    """

    __slots__ = ("_parsed", "code", "lines", "result", "tail")
    code: int
    result: str | None
    tail: str
    lines: tuple[bytes, ...]
    #: For a reply kept in the session's memo of short replies: the results parsed from it,
    #: by parser (see commands.complete); None for any other reply.
    _parsed: "dict[object, object] | None"

    def __init__(self, code: int, result: str | None, tail: str, lines: tuple[bytes, ...]) -> None:
        _set_code(self, code)
        _set_result(self, result)
        _set_tail(self, tail)
        _set_lines(self, lines)
        _set_parsed(self, None)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Reply is immutable (cannot set {name})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Reply is immutable (cannot delete {name})")

    def __reduce__(self) -> "tuple[object, ...]":
        # copy and pickle rebuild it through __init__ (the default would go through __setattr__).
        return (Reply, (self.code, self.result, self.tail, self.lines))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Reply):
            return NotImplemented
        return self.lines == other.lines

    def __hash__(self) -> int:
        return hash(self.lines)

    def __repr__(self) -> str:
        return f"Reply({self.raw_text!r})"

    @property
    def raw_text(self) -> str:
        """The whole reply as text, lines joined with LF."""
        return decode(b"\n".join(self.lines))

    @property
    def usage(self) -> str:
        """For a multi-line 520: the usage text between its ``520-`` line and its last line."""
        if self.code != 520:
            return ""
        lines = self.lines
        for index, line in enumerate(lines):
            if line.startswith(b"520-"):
                return decode(b"\n".join(lines[index + 1 : -1]))
        return ""

    @property
    def intermediate(self) -> tuple[str, ...]:
        """The ``100`` lines that came before the final line (GOSUB)."""
        return tuple(decode(line) for line in self.lines if line.startswith(b"100 "))

    def integer(self) -> int:
        """``result=`` as an integer; :class:`ProtocolError` when it is not one."""
        try:
            return int(self.result)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ProtocolError(f"expected an integer result, got {self.raw_text!r}") from None

    def value(self) -> str | None:
        """The parenthesised value of GET VARIABLE, DATABASE GET, ...: from the first ``(`` to
        the last ``)``, unescaped as Asterisk sends it (it may hold spaces and parentheses)."""
        tail = self.tail
        if not tail.startswith("("):
            return None
        end = tail.rfind(")")
        if end < 0:
            raise ProtocolError(f"unterminated value in {self.raw_text!r}")
        return tail[1:end]

    def fields(self) -> tuple[str | None, dict[str, str]]:
        """The ``(keyword)`` and ``key=value`` tokens after the result.

        Values in double quotes (SPEECH RECOGNIZE's ``text0="..."``) run to the closing quote
        that ends the token; Asterisk does not escape them.
        """
        return parse_fields(self.tail)


def parse_fields(tail: str) -> tuple[str | None, dict[str, str]]:
    """Split ``(keyword) key=value key2="quoted value" ...`` into the keyword and a dict."""
    keyword: str | None = None
    rest = tail
    if rest.startswith("("):
        end = rest.find(")")
        if end < 0:
            raise ProtocolError(f"unterminated keyword in reply tail {tail!r}")
        keyword, rest = rest[1:end], rest[end + 1 :]
    found: dict[str, str] = {}
    position, length = 0, len(rest)
    while position < length:
        if rest[position] == " ":
            position += 1
            continue
        equals = rest.find("=", position)
        space = rest.find(" ", position)
        if equals < 0 or (0 <= space < equals):
            raise ProtocolError(f"expected key=value in reply tail {tail!r}")
        key = rest[position:equals]
        start = equals + 1
        if start < length and rest[start] == '"':
            end = _closing_quote(rest, start + 1)
            found[key] = rest[start + 1 : end]
            position = end + 1
        else:
            end = rest.find(" ", start)
            end = length if end < 0 else end
            found[key] = rest[start:end]
            position = end
    return keyword, found


def _closing_quote(text: str, start: int) -> int:
    # The closing quote is the first '"' followed by the end or by " key=".
    position = start
    while True:
        quote = text.find('"', position)
        if quote < 0:
            raise ProtocolError(f"unterminated quoted value in reply tail {text!r}")
        after = text[quote + 1 :]
        if not after or (after.startswith(" ") and _starts_with_key(after[1:])):
            return quote
        position = quote + 1


def _starts_with_key(text: str) -> bool:
    equals = text.find("=")
    return equals > 0 and text[:equals].isalnum()


def parse_final_line(line: bytes, lines: tuple[bytes, ...]) -> Reply:
    """A :class:`Reply` from its final line (``lines`` holds every line, the final one last).

    The line must be a three-digit code, a space and the text (possibly empty): anything else is
    not AGI, and reading on would desynchronise the stream, so it raises :class:`ProtocolError`.
    """
    code = _KNOWN_CODES.get(line[:4])
    if code is None:
        if line[3:4] != b" " or not line[:3].isdigit():
            raise ProtocolError(f"not an AGI reply line: {line[:200]!r}")
        code = int(line[:3])
    text = line[4:].decode("utf-8", "surrogateescape")
    reply = _new(Reply)
    _set_code(reply, code)
    _set_lines(reply, lines)
    _set_parsed(reply, None)
    if text[:7] == "result=":
        result, _, tail = text[7:].partition(" ")
        _set_result(reply, result)
        _set_tail(reply, tail)
    else:
        _set_result(reply, None)
        _set_tail(reply, text)
    return reply


# Reply's slots, set without going through its __setattr__ guard (the fast path of every reply).
_set_code = Reply.__dict__["code"].__set__
_set_result = Reply.__dict__["result"].__set__
_set_tail = Reply.__dict__["tail"].__set__
_set_lines = Reply.__dict__["lines"].__set__
_set_parsed = Reply.__dict__["_parsed"].__set__
_KNOWN_CODES = {b"200 ": 200, b"100 ": 100, b"503 ": 503, b"510 ": 510, b"511 ": 511, b"520 ": 520}


# ------------------------------------------------------------------------------------------------
# The session (agikit.protocol.session)
# ------------------------------------------------------------------------------------------------


class State:
    """The session's states (plain strings: ``enum`` costs process AGI start-up time)."""

    ENVIRONMENT = "environment"
    IDLE = "idle"
    AWAITING_REPLY = "awaiting reply"
    CLOSED = "closed"
    ERROR = "error"


# The states as module globals: a class attribute is looked up on every use (the hot paths
# compare the state once or twice per command).
_ENVIRONMENT, _IDLE, _AWAITING_REPLY = State.ENVIRONMENT, State.IDLE, State.AWAITING_REPLY
_CLOSED, _ERROR = State.CLOSED, State.ERROR


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
#: Short one-line replies (with their LF) already parsed by receive_reply, shared by every
#: session: a Reply is immutable, and most replies repeat (``200 result=0``, ``200 result=1``
#: ...). Bounded (see _remember).
_REPLIES: "dict[bytes, Reply]" = {}
_REPLY_MEMO_LINE = 64
_REPLY_MEMO_SIZE = 256
#: Command lines that passed send_command's checks of their bytes, with the LF to send: IVR
#: code sends the same lines again and again. Bounded as _REPLIES is.
_SENDABLE: "dict[bytes, bytes]" = {}
_SENDABLE_LINE = 256
_SENDABLE_SIZE = 1024
_F = (b"f", b"F")


def _remember(memo: "dict[Any, Any]", key: object, value: object, limit: int) -> None:
    """Keep ``key -> value`` in a memo of at most ``limit`` entries. A full memo starts over:
    it then follows what repeats now (a long-running server also sees many one-off lines:
    caller numbers, digits), not what happened to come first."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value


#: The lines a FastAGI environment block starts with, in the order Asterisk sends them
#: (res_agi.c: launch_netscript, then setup_env).
_FASTAGI_NAMES = (
    *("agi_network", "agi_network_script", "agi_request", "agi_channel", "agi_language"),
    *("agi_type", "agi_uniqueid", "agi_version", "agi_callerid", "agi_calleridname"),
    *("agi_callingpres", "agi_callingani2", "agi_callington", "agi_callingtns"),
    *("agi_dnid", "agi_rdnis", "agi_context", "agi_extension", "agi_priority"),
    *("agi_enhanced", "agi_accountcode", "agi_threadid"),
)
#: Those lines as one regular expression (``re.Pattern``), compiled on first use: process AGI
#: never sends them and does not pay for importing ``re``.
_FASTAGI_LAYOUT: "Any" = None


def _fastagi_layout() -> "Any":
    global _FASTAGI_LAYOUT
    import re

    # "name: value" as the line by line reading splits it: ``.`` is anything but LF, so ``.*``
    # never gives back what it took; possessive (``.*+``), it keeps no backtracking state (a
    # sixth faster). Each group is named after its line, so groupdict() is the lines' dict, in
    # Asterisk's order (see _matched_lines). Asterisk sends agi_network_script only for a URL
    # with a path.
    lines = [f"{name}: (?P<{name}>.*+)\n" for name in _FASTAGI_NAMES]
    lines[1] = f"(?:{lines[1]})?"
    _FASTAGI_LAYOUT = re.compile("".join(lines)[:-1])
    return _FASTAGI_LAYOUT


def _matched_lines(match: "re.Match[str]") -> "dict[str, str]":
    """The dict of the lines that ``_FASTAGI_LAYOUT`` matched."""
    lines: dict[str, str] = match.groupdict()
    if lines["agi_network_script"] is None:  # the one optional line
        del lines["agi_network_script"]
    return lines


def _matched_environment(match: "re.Match[str]", text: str) -> "Environment | None":
    """The environment of ``text``, the standard FastAGI lines that ``match`` read and then
    Asterisk's ``agi_arg_N`` lines, if any (None for any other line after them). Its fields are
    read from the match, and the dict of two dozen lines (see ``_lines_of``) is built only if
    asked for; a call reads a few fields."""
    end = match.end()
    if end == len(text):
        args: tuple[str, ...] = ()
    else:  # the match ends at a line's end: text[end] is its LF
        found = _argument_lines(text[end + 1 :])
        if found is None:
            return None
        args = found
    environment: Environment = _new(Environment)
    _set(environment, "_lines", None)
    _set(environment, "_match", match)
    _set(environment, "_args", args)
    return environment


def _argument_lines(text: str) -> "tuple[str, ...] | None":
    """The values of ``text``'s lines if they are ``agi_arg_1: ...``, ``agi_arg_2: ...`` and on,
    in order, as Asterisk writes them (``setup_env``); else None."""
    values = []
    for number, line in enumerate(text.split("\n"), 1):
        name = f"agi_arg_{number}: "
        if not line.startswith(name):
            return None
        values.append(line[len(name) :])
    return tuple(values)


def _split_lines(text: str, raw: "dict[str, str]") -> bool:
    """Add the environment lines in ``text`` to ``raw``, split by C loops; False (``raw``
    unchanged) when some line is not ``name: value`` with a name free of ``:``."""
    lines = [line.partition(": ") for line in text.split("\n")]
    names, separators, values = zip(*lines, strict=True)
    if "" in separators or ":" in "".join(names):
        return False
    intern = _ENVIRONMENT_KEYS.get
    raw.update(zip(map(intern, names, names), values, strict=True))
    return True


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
        self.state: str = _ENVIRONMENT
        self.environment: Environment | None = None
        self.hung_up = False
        #: The longest command line (without LF) the connected Asterisk reads whole.
        self.max_command_bytes = MAX_LINE_BYTES_BEFORE_8K
        self._max_line = max_line
        self._max_environment = max_environment
        self._max_usage_lines = max_usage_lines
        self._max_reply = max_reply
        #: The start of a line whose LF has not arrived yet (None: none). None rather than an
        #: empty buffer, so that the fast paths' check reads no other object.
        self._partial: bytearray | None = None
        self._environment_pairs: list[tuple[str, str]] = []
        self._environment_size = 0
        #: The lines of the reply being read before its final line (100 lines, a 520 block),
        #: and their size (0 exactly when there are none, as in a 520 block's first line).
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
        if state is _IDLE and type(line) is bytes:
            wire = _SENDABLE.get(line)
            if wire is not None and len(line) <= self.max_command_bytes:
                # These bytes passed the checks below before; only the length depends on the
                # session (on the Asterisk version).
                self.state = _AWAITING_REPLY
                return wire
        if state is not _IDLE:
            if state is _AWAITING_REPLY:
                raise CommandInFlight(
                    f"cannot send {line[:60]!r}: the previous command is still awaiting its reply"
                )
            self._raise_if_broken()
            if state is _CLOSED:
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
        self.state = _AWAITING_REPLY
        wire = line + b"\n"
        if len(line) <= _SENDABLE_LINE and type(line) is bytes:
            _remember(_SENDABLE, line, wire, _SENDABLE_SIZE)
        return wire

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
        if state is _CLOSED:
            self._fail(f"data after the end of the stream: {data[:80]!r}")
        if state is _ENVIRONMENT and not self._partial and data[:1] != b"\n":
            # The whole rest of the environment in this chunk: parse it as one block.
            end = data.find(b"\n\n")
            if 0 < end < self._max_environment - self._environment_size:
                received: list[Event] = [EnvironmentReceived(self._environment_block(data[:end]))]
                if end + 2 < len(data):
                    # The base method: a subclass that records data has seen these bytes already.
                    received.extend(AgiSession.receive_data(self, data[end + 2 :]))
                return received
        events: list[Event] = []
        max_line = self._max_line
        partial = self._partial
        end = data.find(b"\n")
        start = 0
        if partial is not None:
            if end < 0:
                if len(partial) + len(data) > max_line:
                    self._fail(f"a line longer than {max_line} bytes: {bytes(partial[:80])!r}...")
                partial += data
                return events
            partial += data[:end]
            line = bytes(partial)
            self._partial = None
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
            self._partial = bytearray(data[start:])
        return events

    def receive_reply(self, data: bytes) -> "Reply | None":
        """Fast path for the common case: ``data`` is exactly one final reply line (``200 ...``)
        to the command in flight. Returns its :class:`Reply`, or None (nothing consumed, state
        unchanged) when the general :meth:`receive_data` must handle ``data``."""
        if (
            self.state is not _AWAITING_REPLY
            or self._partial is not None
            or self._reply_size  # lines of this reply before (a usage block's too)
        ):
            return None
        reply = _REPLIES.get(data)
        if reply is not None and self._max_line >= _REPLY_MEMO_LINE:
            # These bytes passed the checks below before, and are no longer than any line.
            self.state = _IDLE
            return reply
        if (
            not data  # the end of the stream: receive_data's to tell
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
        if len(data) <= _REPLY_MEMO_LINE:
            _set_parsed(reply, {})
            _remember(_REPLIES, data, reply, _REPLY_MEMO_SIZE)
        self.state = _IDLE
        return reply

    def receive_environment(self, data: bytes) -> "Environment | None":
        """Fast path for FastAGI's usual first read: ``data`` is the whole environment block,
        the lines Asterisk always sends and its ``agi_arg_N`` lines, and nothing after it. Returns
        the :class:`Environment` (the session is then idle, as after
        :class:`EnvironmentReceived`), or None (nothing consumed, state unchanged) when the
        general :meth:`receive_data` must handle ``data``."""
        if (
            self.state is not _ENVIRONMENT
            or self._environment_size
            or self._partial is not None
            or not data.endswith(b"\n\n")
            or len(data) - 2 >= self._max_environment
            or len(data) - 2 > self._max_line
            or not data.startswith(b"agi_network: ")
        ):
            return None
        text = data[:-2].decode("utf-8", "surrogateescape")
        match = (_FASTAGI_LAYOUT or _fastagi_layout()).match(text)
        # What it reads has no empty line in it: this empty line is the first, the block's end.
        environment = None if match is None else _matched_environment(match, text)
        if environment is None:
            return None
        self._environment_size = len(data) - 1
        self._environment_complete(environment)
        return environment

    def _environment_block(self, block: bytes) -> Environment:
        """The environment's remaining lines at once (``block``: up to, not including, the
        empty line that ends it); the same result as feeding them line by line."""
        max_line = self._max_line
        if len(block) <= max_line:  # so is every line: split the text at once
            text = block.decode("utf-8", "surrogateescape")
            raw = dict(self._environment_pairs)
            if not raw and block.startswith(b"agi_network: "):
                # FastAGI: the lines Asterisk always sends, in its order, read by one match.
                match = (_FASTAGI_LAYOUT or _fastagi_layout()).match(text)
                if match is not None:
                    environment = _matched_environment(match, text)
                    if environment is not None:
                        self._environment_size += len(block) + 1
                        return self._environment_complete(environment)
                    raw = _matched_lines(match)
                    text = text[match.end() + 1 :]  # the lines after them (agi_arg_N)
            if not text or _split_lines(text, raw):
                self._environment_size += len(block) + 1
                return self._environment_complete(environment_from_dict(raw))
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
        return self._environment_complete(environment_from_dict(dict(pairs)))

    def _end_of_stream(self) -> list[Event]:
        state = self.state
        if state is _CLOSED:
            return []
        self.state = _CLOSED
        if self._partial:
            raise ConnectionClosed(f"the stream ended inside a line: {bytes(self._partial[:80])!r}")
        if state is _ENVIRONMENT:
            raise ConnectionClosed("the stream ended before the end of the AGI environment")
        if self._in_usage:
            raise ConnectionClosed(
                "the stream ended inside a 520 usage block: "
                f"{decode(b'|'.join(self._reply_lines))[:200]!r}"
            )
        # GOSUB's "100" lines are complete lines: the stream ended while awaiting the final one.
        self._reply_lines = []
        self._reply_size = 0
        return [StreamClosed(in_reply=state is _AWAITING_REPLY)]

    def _line(self, line: bytes, events: list[Event]) -> None:
        state = self.state
        if state is _AWAITING_REPLY:
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
        elif state is _IDLE:
            if line == _HANGUP_LINE:
                self.hung_up = True
                events.append(HangupReceived())
                return
            self._fail(f"a line arrived while no command was waiting for one: {line[:200]!r}")
        elif state is _ENVIRONMENT:
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
        self.state = _IDLE
        events.append(ReplyReceived(reply))

    def _environment_line(self, line: bytes, events: list[Event]) -> None:
        if not line:
            environment = environment_from_dict(dict(self._environment_pairs))
            events.append(EnvironmentReceived(self._environment_complete(environment)))
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

    def _environment_complete(self, environment: Environment) -> Environment:
        self.environment = environment
        version = environment.version
        limit = _LINE_LIMITS.get(version)
        if limit is None:
            limit = max_line_bytes(version)
            if len(_LINE_LIMITS) < 64:  # a few versions per deployment; bounded all the same
                _LINE_LIMITS[version] = limit
        self.max_command_bytes = limit
        self._environment_pairs = []
        self.state = _IDLE
        return environment

    # -- errors -------------------------------------------------------------------------------
    def _fail(self, message: str) -> "NoReturn":
        self.state = _ERROR
        self._error = ProtocolError(message)
        raise self._error

    def _raise_if_broken(self) -> None:
        if self._error is not None:
            raise ProtocolError(f"the session is broken by an earlier error: {self._error}")


# Each public name says where it belongs (reprs, pickles, documentation), as if defined there.
_PUBLIC = {
    "agikit.protocol.environment": ("Environment", "environment_from_dict"),
    "agikit.protocol.quoting": (
        "encode_argument",
        "format_command",
        "max_line_bytes",
        "split_command_line",
        "to_bytes",
    ),
    "agikit.protocol.replies": ("Reply", "decode", "parse_fields", "parse_final_line"),
    "agikit.protocol.session": (
        "AgiSession",
        "EnvironmentReceived",
        "HangupReceived",
        "ReplyReceived",
        "State",
        "StreamClosed",
    ),
}
publish(globals(), _PUBLIC)
