"""Command lines exactly as Asterisk's ``parse_args()`` (res/res_agi.c) reads them.

Asterisk splits a command line into words on unquoted, unescaped spaces and TABs; ``"`` toggles
quoting and is dropped; ``\\`` makes the next byte literal and is dropped; ``""`` is an empty word.
Nothing else is special. :func:`encode_argument` quotes a value so that it is read back as exactly
that value, and :func:`split_command_line` is Asterisk's own reading, used by the fake Asterisk and
to prove the round trip.
"""

from __future__ import annotations

from ..errors import ArgumentError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

#: ``parse_args`` keeps at most MAX_ARGS - 1 = 127 words, command words included.
MAX_WORDS = 127
#: Longest command (without its LF) that Asterisk reads as one line: ``fgets`` into an 8192-byte
#: buffer from 20.16, 21.11 and 22.6 on (AGI_BUF_LEN), a 2048-byte one before.
MAX_LINE_BYTES = 8190
MAX_LINE_BYTES_BEFORE_8K = 2046

_NEEDS_QUOTES = frozenset(b' \t"\\')
_FORBIDDEN = (b"\n", b"\r", b"\x00")
_8K_FROM = {20: 16, 21: 11, 22: 6}


def to_bytes(value: str | bytes) -> bytes:
    """Text as it goes on the wire: UTF-8, with lone surrogates (undecodable input) restored."""
    if isinstance(value, bytes):
        return value
    return value.encode("utf-8", "surrogateescape")


def encode_argument(value: str | bytes, name: str = "argument") -> bytes:
    """One argument, quoted only if it must be: empty, or holding a space, TAB, quote or backslash.

    Raises :class:`ArgumentError` naming ``name`` for CR, LF or NUL, which AGI cannot carry.
    """
    raw = to_bytes(value)
    for forbidden in _FORBIDDEN:
        if forbidden in raw:
            raise ArgumentError(
                f"{name} contains {forbidden!r}, which an AGI command line cannot carry: {value!r}"
            )
    if raw and not _NEEDS_QUOTES.intersection(raw):
        return raw
    return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def format_command(
    words: Sequence[str], args: Iterable[str | bytes], names: Sequence[str] = ()
) -> bytes:
    """The command line (without LF) for ``words`` followed by ``args``, each argument quoted.

    ``names`` name the arguments in error messages. Checks the 127-word limit; the line length
    limit depends on the Asterisk version and is checked by the session before sending.
    """
    parts = [word.encode("ascii") for word in words]
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
    try:
        major, minor = int(head[0]), int(head[1])
    except (IndexError, ValueError):
        return MAX_LINE_BYTES_BEFORE_8K
    if major > 22 or (major in _8K_FROM and minor >= _8K_FROM[major]):
        return MAX_LINE_BYTES
    return MAX_LINE_BYTES_BEFORE_8K


def split_command_line(line: bytes) -> list[bytes]:
    """Split a command line into words exactly as Asterisk's ``parse_args()`` does."""
    words: list[bytearray] = []
    current: bytearray | None = None
    quoted = escaped = False
    for byte in line:
        if byte == 0x22 and not escaped:  # '"'
            quoted = not quoted
            if quoted and current is None:
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
                continue  # Asterisk drops what is beyond its word limit
            current = bytearray()
            words.append(current)
        current.append(byte)
    return [bytes(word) for word in words]
