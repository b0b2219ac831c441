"""The real transcripts in ``transcripts/``, as operations to replay against an AgiSession."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from agikit.errors import ArgumentError, ConnectionClosed
from agikit.protocol import AgiSession, Event

DIRECTORY = Path(__file__).parent / "transcripts"

#: One step of a transcript: ("recv", bytes Asterisk sent), ("send", a command line without LF),
#: ("eof", b"") when Asterisk closed the stream, ("sighup", b"") when the script got SIGHUP.
Operation = tuple[str, bytes]
#: What a replay saw: the session's events, and ("sent", line) markers where commands went out.
Outcome = list[object]


#: Transcripts that deliberately send a second line while a command runs (reference §3.6):
#: a session that allows one command in flight cannot replay them.
PIPELINED = frozenset({"cmdintr.transcript.txt", "cmdintrsay.transcript.txt"})


def names() -> list[str]:
    return sorted(path.name for path in DIRECTORY.glob("*.transcript.txt"))


def sequential_names() -> list[str]:
    """The transcripts that send one command at a time."""
    return [name for name in names() if name not in PIPELINED]


def lines(name: str) -> Iterator[tuple[str, bytes]]:
    """("<<" | ">>" | "##", exact bytes of the line) for each entry of the transcript."""
    for raw in (DIRECTORY / name).read_bytes().split(b"\n"):
        if not raw.startswith(b"+"):
            continue
        _stamp, _, rest = raw.partition(b" ")
        yield rest[:2].decode(), rest[3:]


def operations(name: str) -> list[Operation]:
    """The transcript as operations; consecutive received lines are merged into one chunk."""
    result: list[Operation] = []
    for direction, payload in lines(name):
        if direction == "<<":
            if result and result[-1][0] == "recv":
                result[-1] = ("recv", result[-1][1] + payload + b"\n")
            else:
                result.append(("recv", payload + b"\n"))
        elif direction == ">>":
            result.append(("send", payload))
        elif payload.startswith((b"EOF from Asterisk", b"ConnectionResetError")):
            result.append(("eof", b""))
        elif payload.startswith(b"SIGHUP"):
            result.append(("sighup", b""))
    return result


def received(name: str) -> bytes:
    """Every byte Asterisk sent in the transcript, in order."""
    return b"".join(payload for kind, payload in operations(name) if kind == "recv")


def environment_block(name: str) -> bytes:
    """The environment block (through its empty line) that starts the transcript."""
    data = received(name)
    return data[: data.index(b"\n\n") + 2]


def whole(data: bytes) -> list[bytes]:
    return [data]


def replay(
    operations: Iterable[Operation],
    chunker: Callable[[bytes], list[bytes]] = whole,
    session: AgiSession | None = None,
) -> Outcome:
    """Drive a session through the transcript; returns its events and where commands went out.

    A command after the end of the stream is recorded as ("refused", line). Lines the session
    refuses to send (the transcripts' deliberate ``ANSWER\\r`` and ``failure``)
    are replaced by ``NOOP``: the state machine only cares that a command went out.
    """
    session = session or AgiSession()
    outcome: Outcome = []
    for kind, payload in operations:
        if kind == "recv":
            for piece in chunker(payload):
                outcome.extend(session.receive_data(piece))
        elif kind == "send":
            try:
                session.send_command(payload)
            except ArgumentError:
                session.send_command(b"NOOP")
            except ConnectionClosed:
                outcome.append(("refused", payload))  # Asterisk had already closed the stream
                continue
            outcome.append(("sent", payload))
        elif kind == "eof":
            outcome.extend(session.receive_data(b""))
        elif kind == "sighup":
            session.hangup_signalled()
    return outcome


def events_only(outcome: Outcome) -> list[Event]:
    return [item for item in outcome if not isinstance(item, tuple)]  # type: ignore[misc]
