"""Finding a command by its words, and requests for command lines the table does not know.

Part of :mod:`agikit.commands` (import these names from there), in a module of its own because
a process-AGI script rarely needs them and would pay for loading them on every call.
"""

from ._protocol import format_command, split_command_line, to_bytes
from .commands import COMMANDS, Command, CommandRequest, _bad, _value
from .errors import ArgumentError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from .protocol.replies import Reply

__all__ = ["find_command", "raw_request"]


#: The commands by their first word, lower case (built on first use).
_BY_FIRST_WORD: "dict[bytes, list[tuple[tuple[bytes, ...], Command[Any]]]]" = {}


def _index() -> "dict[bytes, list[tuple[tuple[bytes, ...], Command[Any]]]]":
    if not _BY_FIRST_WORD:
        index: dict[bytes, list[tuple[tuple[bytes, ...], Command[Any]]]] = {}
        for command in COMMANDS:
            lowered = tuple(word.lower().encode("ascii") for word in command.words)
            index.setdefault(lowered[0], []).append((lowered, command))
        _BY_FIRST_WORD.update(index)  # at once: a concurrent first call builds the same
    return _BY_FIRST_WORD


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
    candidates = _index().get(lowered[0])
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
