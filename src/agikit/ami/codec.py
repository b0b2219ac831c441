"""The AMI wire format, sans-IO: bytes in, :class:`Message` objects out; actions in, bytes out.

Asterisk's manager (``main/manager.c``) sends a banner line, then messages: blocks of
``Key: Value`` lines ended by an empty line, CRLF throughout. Header names are
case-insensitive and may repeat (``Output:``, ``Variable:``, ``ChanVariable:``), so a message
keeps its headers in order. The legacy ``Response: Follows`` block (raw output up to
``--END COMMAND--``; gone in Asterisk 22) is read too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from ..errors import ArgumentError, ProtocolError

#: Asterisk reads at most 1024 bytes per action line (``Failed to parse message: line too long``).
MAX_ACTION_LINE = 1024
_FOLLOWS_END = b"--END COMMAND--"


class Message:
    """One AMI message (response or event): ordered, possibly repeated ``(name, value)`` headers.

    Look-ups are case-insensitive and give the first occurrence, as Asterisk's own parser does;
    :meth:`get_all` returns every value of a repeated header. ``output`` holds the raw body of
    a legacy ``Response: Follows``.
    """

    __slots__ = ("_index", "headers", "output")

    def __init__(self, headers: Iterable[tuple[str, str]], output: str | None = None) -> None:
        self.headers: tuple[tuple[str, str], ...] = tuple(headers)
        self.output = output
        index: dict[str, str] = {}
        for name, value in self.headers:
            index.setdefault(name.lower(), value)
        self._index = index

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._index.get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        value = self._index.get(name.lower())
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def get_all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    @property
    def event(self) -> str | None:
        """The event name, or None for a response."""
        return self._index.get("event")

    @property
    def response(self) -> str | None:
        """``Success``, ``Error``, ``Goodbye``, ``Follows`` ..., or None for an event."""
        return self._index.get("response")

    @property
    def action_id(self) -> str | None:
        return self._index.get("actionid")

    def as_dict(self) -> dict[str, str]:
        """First value of each header, names as Asterisk spelled them."""
        found: dict[str, str] = {}
        for name, value in self.headers:
            found.setdefault(name, value)
        return found

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.headers == other.headers and self.output == other.output

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{k}: {'***' if k.lower() in ('secret', 'key') else v}" for k, v in self.headers
        )
        return f"Message({shown})"


class AmiParser:
    """Turns the byte stream from Asterisk into the banner and :class:`Message` objects."""

    def __init__(self, *, max_message: int = 4 << 20) -> None:
        self.banner: str | None = None
        self._buffer = bytearray()
        self._max_message = max_message

    def feed(self, data: bytes) -> list[Message]:
        """Add bytes; returns the messages they completed (the banner is set on the way)."""
        buffer = self._buffer
        buffer += data
        messages: list[Message] = []
        if self.banner is None:
            end = buffer.find(b"\n")
            if end < 0:
                self._check_size()
                return messages
            line = bytes(buffer[:end]).rstrip(b"\r")
            del buffer[: end + 1]
            if not line.startswith(b"Asterisk Call Manager/"):
                raise ProtocolError(f"not an AMI banner: {line[:80]!r}")
            self.banner = line.decode("utf-8", "replace")
        while True:
            message = self._next_message()
            if message is None:
                break
            messages.append(message)
        self._check_size()
        return messages

    def _check_size(self) -> None:
        if len(self._buffer) > self._max_message:
            raise ProtocolError(f"an AMI message longer than {self._max_message} bytes")

    def _next_message(self) -> Message | None:
        buffer = self._buffer
        # Skip blank lines between messages.
        while buffer[:2] == b"\r\n" or buffer[:1] == b"\n":
            del buffer[: 2 if buffer[:1] == b"\r" else 1]
        end, width = _message_end(buffer)
        if end < 0:
            return None
        block = bytes(buffer[:end])
        if _is_follows(block):
            return self._follows(block)
        del buffer[: end + width]
        return Message(_headers(block))

    def _follows(self, head: bytes) -> Message | None:
        # Response: Follows: headers, then raw output lines until "--END COMMAND--".
        buffer = self._buffer
        marker = buffer.find(_FOLLOWS_END)
        if marker < 0:
            return None
        after, width = _message_end(buffer, marker)
        if after < 0:
            return None
        lines = bytes(buffer[:marker]).replace(b"\r\n", b"\n").split(b"\n")
        headers: list[tuple[str, str]] = []
        output: list[str] = []
        for line in lines:
            text = line.decode("utf-8", "replace")
            name, sep, value = text.partition(": ")
            if not output and sep and " " not in name and name:
                headers.append((name, value))
            elif line or output:
                output.append(text)
        del buffer[: after + width]
        return Message(headers, "\n".join(output).rstrip("\n"))


def _message_end(buffer: bytearray, start: int = 0) -> tuple[int, int]:
    crlf = buffer.find(b"\r\n\r\n", start)
    lf = buffer.find(b"\n\n", start)
    if crlf >= 0 and (lf < 0 or crlf <= lf):
        return crlf, 4
    return lf, 2


def _is_follows(block: bytes) -> bool:
    return (
        block[:18].lower() == b"response: follows\r" or block[:18].lower() == b"response: follows\n"
    )


def _headers(block: bytes) -> Iterator[tuple[str, str]]:
    for raw in block.split(b"\n"):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if not line:
            continue
        text = line.decode("utf-8", "surrogateescape")
        name, sep, value = text.partition(":")
        if sep:
            # Asterisk skips blanks after the colon and keeps trailing ones.
            yield name.strip(), value.lstrip(" \t")
        else:
            yield text, ""


def encode_action(
    action: str,
    headers: Mapping[str, str | Iterable[str]] | Iterable[tuple[str, str]] = (),
    *,
    action_id: str | None = None,
) -> bytes:
    """An action as bytes. A header given a list of values is sent once per value
    (``Variable``). CR and LF in names or values are refused: they would inject headers."""
    items: Iterable[tuple[str, str | Iterable[str]]]
    items = headers.items() if isinstance(headers, Mapping) else headers
    lines = [_line("Action", action)]
    if action_id is not None:
        lines.append(_line("ActionID", action_id))
    for name, value in items:
        if isinstance(value, str):
            lines.append(_line(name, value))
        else:
            lines.extend(_line(name, item) for item in value)
    return b"".join(lines) + b"\r\n"


def _line(name: str, value: str) -> bytes:
    for part in (name, value):
        if "\r" in part or "\n" in part:
            shown = "***" if name.lower() in ("secret", "key") else repr(part)
            raise ArgumentError(f"AMI header {name} may not contain CR or LF: {shown}")
    if not name or ":" in name:
        raise ArgumentError(f"not an AMI header name: {name!r}")
    line = f"{name}: {value}\r\n".encode("utf-8", "surrogateescape")
    if len(line) > MAX_ACTION_LINE:
        raise ArgumentError(
            f"AMI header {name} is {len(line)} bytes; Asterisk reads at most {MAX_ACTION_LINE}"
        )
    return line
