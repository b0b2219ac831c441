"""AGI replies: one typed value per reply, whatever shape it arrived in.

A reply is a final line ``NNN text`` (200, 503, 510, 511, 520), possibly preceded by ``100``
lines (GOSUB's ``Trying...``), or a ``520-`` usage block ending with a ``520 `` line. The
session (``session.py``) assembles the lines; this module gives them meaning.

Like the rest of the protocol core, this module imports nothing beyond the interpreter's own
start-up set (no ``typing``, ``dataclasses``, ``re``): process AGI pays for every import on every
call.
"""

from ..errors import ProtocolError


def decode(raw: bytes) -> str:
    """Wire bytes as text: UTF-8, with undecodable bytes kept as lone surrogates (lossless)."""
    return raw.decode("utf-8", "surrogateescape")


class Reply:
    """One complete reply to one command (immutable).

    ``code`` is the final line's code; ``result`` the value of its ``result=`` token (``None``
    when the line has none, as for 510 and 511); ``tail`` the rest of the final line after that
    token and one space; ``lines`` every line of the reply exactly as received, without LFs.
    """

    __slots__ = ("code", "lines", "result", "tail")
    code: int
    result: str | None
    tail: str
    lines: tuple[bytes, ...]

    def __init__(self, code: int, result: str | None, tail: str, lines: tuple[bytes, ...]) -> None:
        _set_code(self, code)
        _set_result(self, result)
        _set_tail(self, tail)
        _set_lines(self, lines)

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
    if text[:7] == "result=":
        result, _, tail = text[7:].partition(" ")
        _set_result(reply, result)
        _set_tail(reply, tail)
    else:
        _set_result(reply, None)
        _set_tail(reply, text)
    return reply


# Reply's slots, set without going through its __setattr__ guard (the fast path of every reply).
_new = object.__new__
_set_code = Reply.__dict__["code"].__set__
_set_result = Reply.__dict__["result"].__set__
_set_tail = Reply.__dict__["tail"].__set__
_set_lines = Reply.__dict__["lines"].__set__
_KNOWN_CODES = {b"200 ": 200, b"100 ": 100, b"503 ": 503, b"510 ": 510, b"511 ": 511, b"520 ": 520}
