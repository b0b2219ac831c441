"""The real AMI transcripts in ``data/`` (Asterisk 22.10.1), read as the bytes that crossed the
wire. See ``data/README.md`` for the format."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from agikit.ami import AmiParser, Message

DIRECTORY = Path(__file__).parent / "data"
_HEADER = re.compile(rb"### \+([0-9.]+) \[(\w+)\] (<<|>>) (\d+) bytes")


@dataclass(frozen=True)
class Record:
    """One message (or the banner) as it crossed the wire."""

    seconds: float
    connection: str
    direction: str  # "<<" from Asterisk, ">>" to Asterisk
    data: bytes


def names() -> list[str]:
    return sorted(path.name for path in DIRECTORY.glob("*.txt"))


@cache
def records(name: str) -> tuple[Record, ...]:
    data = (DIRECTORY / name).read_bytes()
    found: list[Record] = []
    position = 0
    while position < len(data):
        end = data.find(b"\n", position)
        if end < 0:
            break
        match = _HEADER.fullmatch(data, position, end)
        if match is None:
            position = end + 1  # a note or a comment
            continue
        size = int(match[4])
        body = data[end + 1 : end + 1 + size]
        assert len(body) == size, (name, position)
        found.append(Record(float(match[1]), match[2].decode(), match[3].decode(), body))
        position = end + 1 + size
    return tuple(found)


def connections(name: str) -> list[str]:
    seen: dict[str, None] = {}
    for record in records(name):
        seen.setdefault(record.connection)
    return list(seen)


def received(name: str, connection: str) -> bytes:
    """Everything Asterisk sent on ``connection``, banner first, as one byte stream."""
    return b"".join(
        r.data for r in records(name) if r.connection == connection and r.direction == "<<"
    )


def incoming(name: str, connection: str | None = None) -> list[bytes]:
    """The messages Asterisk sent (not the banner), each one's exact bytes."""
    return [
        r.data
        for r in records(name)
        if r.direction == "<<"
        and (connection is None or r.connection == connection)
        and not r.data.startswith(b"Asterisk Call Manager/")
    ]


def parse(data: bytes) -> Message:
    """One message's bytes as a :class:`Message`."""
    parser = AmiParser()
    (message,) = parser.feed(b"Asterisk Call Manager/11.0.0\r\n" + data)
    return message


def events(name: str, *wanted: str) -> list[Message]:
    """The events named ``wanted`` (all if none) that Asterisk sent, parsed, in order."""
    lowered = {w.lower() for w in wanted}
    found = []
    for data in incoming(name):
        if data.startswith(b"Event: "):
            message = parse(data)
            if not lowered or (message.event or "").lower() in lowered:
                found.append(message)
    return found
