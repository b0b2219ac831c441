"""Command lines exactly as Asterisk's ``parse_args()`` (res/res_agi.c) reads them.

Asterisk splits a command line into words on unquoted, unescaped spaces and TABs; ``"`` toggles
quoting and is dropped; ``\\`` makes the next byte literal and is dropped; ``""`` is an empty word.
Nothing else is special. :func:`encode_argument` quotes a value so that it is read back as exactly
that value, and :func:`split_command_line` is Asterisk's own reading, used by the fake Asterisk and
to prove the round trip.

No ``from __future__ import annotations`` here (nor in the rest of the protocol core): that
statement imports the ``__future__`` module at run time, which process AGI would pay for on every
call. Annotations that name typing-only classes are written as strings instead.
"""

from ..errors import ArgumentError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

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
