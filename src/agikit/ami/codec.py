"""The AMI wire format, sans-IO: bytes in, :class:`Message` objects out; actions in, bytes out.

Asterisk's manager (``main/manager.c``) sends a banner line, then messages: blocks of
``Key: Value`` lines ended by an empty line, CRLF throughout (a bare LF is read as a line end
too, as Asterisk itself reads its clients). Header names are case-insensitive and may repeat
(``Output:``, ``Variable:``, ``ChanVariable:``), so a message keeps its headers in order and a
look-up gives the first occurrence; blanks after the colon are skipped, trailing ones kept
(``__astman_get_header()``). The legacy ``Response: Follows`` block (raw output up to
``--END COMMAND--``; gone in Asterisk 22) is read too.

Some values are sent raw (``Getvar``'s ``Value:``, ``AGIExecStart``'s ``Command:``): a line
break inside one splits the header, and an empty line inside one ends the message early. The
parser then does what Asterisk's framing implies (the value ends at the line break, a line
without a colon is no header, and what follows an empty line reads as another message); it
never raises for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ArgumentError, ProtocolError

#: Asterisk reads at most 1024 bytes per action line, CRLF included
#: (``Failed to parse message: line too long``).
MAX_ACTION_LINE = 1024
#: Header names whose values never appear in ``repr`` or error messages.
SECRET_HEADERS = frozenset(("secret", "key"))

_BANNER = b"Asterisk Call Manager/"
_MAX_BANNER = 1024
_FOLLOWS = b"Response: Follows"
_FOLLOWS_END = b"--END COMMAND--"
#: The end of a message: a line end followed by an empty line (CRLF or bare LF, mixed too).
_END = re.compile(rb"\n\r?\n")


class Message:
    """One AMI message (response or event): ordered, possibly repeated ``(name, value)`` headers.

    Look-ups are case-insensitive and give the first occurrence, as Asterisk's own parser does;
    :meth:`get_all` returns every value of a repeated header. ``output`` holds the raw body of
    a legacy ``Response: Follows``.

    A message from :class:`AmiParser` keeps its bytes and is split into headers only when
    needed: :attr:`event` and :attr:`response` read the first line, the first few look-ups
    search the bytes for just that header. So an event nobody looks into (most of what a busy
    Asterisk sends) costs little more than finding where it ends, and one whose ``Uniqueid`` is
    read little more than that.
    """

    __slots__ = ("_event", "_headers", "_index", "_peeks", "_raw", "output")

    def __init__(self, headers: Iterable[tuple[str, str]], output: str | None = None) -> None:
        self._headers: tuple[tuple[str, str], ...] | None = tuple(headers)
        self._index: dict[str, str] | None = None
        self._raw: bytes | None = None
        self._peeks = 0
        self._event: str | None = _UNSET
        self.output = output

    @classmethod
    def _from_bytes(cls, raw: bytes) -> Message:
        """A message whose lines (each ended by LF or CRLF) are in ``raw``, parsed lazily."""
        message = cls.__new__(cls)
        message._headers = None
        message._index = None
        message._raw = raw
        message._peeks = 0
        message._event = _UNSET
        message.output = None
        return message

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        headers = self._headers
        if headers is None:
            headers = self._headers = _split(self._raw or b"")
            self._raw = None
        return headers

    def _lookup(self) -> dict[str, str]:
        index = self._index
        if index is None:
            # Reversed, so that the first occurrence of a name is the one left in the dict.
            index = self._index = {name.lower(): value for name, value in reversed(self.headers)}
        return index

    def _find(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        raw = self._raw
        if raw is not None and self._peeks < _MAX_PEEKS:
            peek = _peek(name)
            if peek is not None:
                self._peeks += 1
                pattern, start = peek
                value: bytes
                # The first line (Event or Response) has no LF before it: look at it apart.
                if raw[: len(start)].lower() == start:
                    value = raw[len(start) : raw.find(b"\n")]
                else:
                    found = pattern.search(raw)
                    if found is None:
                        return None
                    value = found[1]
                if value[-1:] == b"\r":
                    value = value[:-1]
                return value.lstrip(_BLANK_BYTES).decode("utf-8", "surrogateescape")
        return self._lookup().get(name.lower())

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self._find(name)
        return default if value is None else value

    def __getitem__(self, name: str) -> str:
        value = self._find(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._find(name) is not None

    def get_all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def _first(self, prefix: bytes, name: str) -> str | None:
        # Asterisk puts Event: or Response: first; read just that line when it is so.
        raw = self._raw
        if raw is not None and raw.startswith(prefix):
            end = raw.find(b"\n", len(prefix))
            value = raw[len(prefix) : end]
            if value[-1:] == b"\r":
                value = value[:-1]
            if value[:1] > b" ":
                return value.decode("utf-8", "surrogateescape")
        return self._find(name)

    @property
    def event(self) -> str | None:
        """The event name, or None for a response."""
        event = self._event
        if event is _UNSET:
            event = self._event = self._first(b"Event: ", "event")
        return event

    @property
    def response(self) -> str | None:
        """``Success``, ``Error``, ``Goodbye``, ``Follows`` ..., or None for an event."""
        return self._first(b"Response: ", "response")

    @property
    def action_id(self) -> str | None:
        return self._find("ActionID")

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
            f"{k}: {'***' if k.lower() in SECRET_HEADERS else v}" for k, v in self.headers
        )
        return f"Message({shown})"


#: A header line: the name up to the first colon, blanks skipped, the value up to the line end.
#: Not looked up yet.
_UNSET: Any = object()
_HEADER = re.compile(r"^([^:\n]*):[\x01-\x09\x0b-\x20]*([^\n]*)$", re.MULTILINE)
#: What ``ast_skip_blanks()`` skips: every byte up to and including the space.
_BLANK_BYTES = bytes(range(1, 33))
#: Look-ups that search a message's bytes before it is split into headers (then it is).
_MAX_PEEKS = 4
_PEEKS: dict[str, tuple[re.Pattern[bytes], bytes] | None] = {}
_PEEKABLE = re.compile(r"[A-Za-z0-9_-]+")


def _peek(name: str) -> tuple[re.Pattern[bytes], bytes] | None:
    """A search for the first ``<name>:`` line after the first line, and ``<name>:`` in lower
    case; None for a name that is not plain ASCII (those go through the full split)."""
    peek = _PEEKS.get(name)
    if peek is None and name not in _PEEKS and len(_PEEKS) < 1024:
        if _PEEKABLE.fullmatch(name) is not None:
            key = name.encode()
            pattern = b"\\n(?i:" + key + b"):[\\x01-\\x09\\x0b-\\x20]*([^\\n]*)"
            peek = (re.compile(pattern), key.lower() + b":")
        _PEEKS[name] = peek
    return peek


def _split(raw: bytes) -> tuple[tuple[str, str], ...]:
    """The headers in ``raw``: its lines, each ended by LF or CRLF. A line without a colon is
    no header (to Asterisk either); it is left out."""
    text = raw.decode("utf-8", "surrogateescape")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    return tuple(_HEADER.findall(text))


class AmiParser:
    """Turns the byte stream from Asterisk into the banner and :class:`Message` objects.

    :meth:`feed` raises :class:`~agikit.errors.ProtocolError` for a stream that is not AMI (no
    banner) or for a message longer than ``max_message`` bytes; the parser is unusable then.
    """

    def __init__(self, *, max_message: int = 4 << 20) -> None:
        self.banner: str | None = None
        self._buffer = bytearray()
        #: Where the search for the current message's end resumes in the buffer.
        self._scan = 0
        self._max_message = max_message

    def feed(self, data: bytes) -> list[Message]:
        """Add bytes; returns the messages they completed (the banner is set on the way)."""
        buffer = self._buffer
        if buffer:
            buffer += data
            source: bytes | bytearray = buffer
        else:
            source = data
        if self.banner is None:
            start = self._read_banner(source)
            if start < 0:
                if source is data:
                    buffer += data
                return []
        else:
            start = 0
        messages: list[Message] = []
        size = len(source)
        search = _END.search
        scan = self._scan
        while True:
            # Blank lines between messages are skipped.
            while start < size:
                first = source[start]
                if first == 10:  # LF
                    start += 1
                elif first == 13 and start + 1 < size and source[start + 1] == 10:
                    start += 2
                else:
                    break
            if start >= size:
                break
            found = search(source, max(start, scan))
            if found is None:
                self._scan = max(start, size - 2) - start
                break
            scan = 0
            if source.startswith(_FOLLOWS, start):
                end = self._follows(source, start, messages)
                if end < 0:
                    self._scan = 0
                    break
                start = end
                continue
            messages.append(Message._from_bytes(bytes(source[start : found.start() + 1])))
            start = found.end()
        if start >= size:
            self._scan = 0
        if source is buffer:
            del buffer[:start]
        elif start < size:
            buffer += source[start:]
        if len(buffer) > self._max_message:
            raise ProtocolError(f"an AMI message longer than {self._max_message} bytes")
        return messages

    def _read_banner(self, source: bytes | bytearray) -> int:
        """Parse the banner line; the offset after it, or -1 while it is incomplete."""
        end = source.find(b"\n")
        head = bytes(source[: len(_BANNER) if end < 0 else min(end, len(_BANNER))])
        if not _BANNER.startswith(head) and not head.startswith(_BANNER):
            raise ProtocolError(f"not an AMI banner: {bytes(source[:80])!r}")
        if end < 0:
            if len(source) > _MAX_BANNER:
                raise ProtocolError(f"an AMI banner longer than {_MAX_BANNER} bytes")
            return -1
        line = bytes(source[:end]).rstrip(b"\r")
        if not line.startswith(_BANNER):
            raise ProtocolError(f"not an AMI banner: {line[:80]!r}")
        self.banner = line.decode("utf-8", "replace")
        return end + 1

    def _follows(self, source: bytes | bytearray, start: int, messages: list[Message]) -> int:
        """A legacy ``Response: Follows``: headers, then raw output up to ``--END COMMAND--``.
        Returns the offset after it, or -1 while it is incomplete."""
        marker = source.find(_FOLLOWS_END, start)
        if marker < 0:
            return -1
        found = _END.search(source, marker)
        if found is None:
            return -1
        text = bytes(source[start:marker]).decode("utf-8", "surrogateescape")
        headers: list[tuple[str, str]] = []
        output: list[str] = []
        lines = text.split("\n")
        # Asterisk ends the header lines with CRLF and the CLI output's lines with a bare LF.
        crlf = lines[0].endswith("\r")
        for line in lines:
            if not output:
                name, sep, value = line.rstrip("\r").partition(": ")
                if sep and name and " " not in name and (line.endswith("\r") or not crlf):
                    headers.append((name, value))
                    continue
            if line or output:
                output.append(line.removesuffix("\r"))
        messages.append(Message(headers, "\n".join(output).rstrip("\n")))
        return found.end()


def encode_action(
    action: str,
    headers: Mapping[str, str | Iterable[str]] | Iterable[tuple[str, str]] = (),
    *,
    action_id: str | None = None,
) -> bytes:
    """An action as bytes. A header given a list of values is sent once per value
    (``Variable``). CR, LF and NUL in names or values are refused (they would inject headers
    or cut the value), and so is a line longer than the 1024 bytes Asterisk reads."""
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
    lines.append(b"\r\n")
    return b"".join(lines)


def _line(name: str, value: str) -> bytes:
    for part in (name, value):
        if "\r" in part or "\n" in part or "\0" in part:
            shown = "***" if name.lower() in SECRET_HEADERS else repr(part)
            raise ArgumentError(f"AMI header {name!r} may not contain CR, LF or NUL: {shown}")
    if not name or ":" in name:
        raise ArgumentError(f"not an AMI header name: {name!r}")
    data = f"{name}: {value}\r\n".encode("utf-8", "surrogateescape")
    if len(data) > MAX_ACTION_LINE:
        raise ArgumentError(
            f"AMI header {name} is {len(data)} bytes with its CRLF; Asterisk reads at most "
            f"{MAX_ACTION_LINE}"
        )
    return data
