"""The longest command line Asterisk reads whole, by version, and the session enforcing it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agikit.errors import ArgumentError
from agikit.protocol import AgiSession, EnvironmentReceived, State, max_line_bytes
from agikit.protocol.quoting import MAX_LINE_BYTES, MAX_LINE_BYTES_BEFORE_8K, format_command


def fgets_lines(stream: bytes, size: int) -> list[bytes]:
    """What run_agi() reads, one command per fgets(buf, size): at most size - 1 bytes, LF
    included; the LF (if it was read) stripped."""
    commands = []
    while stream:
        end = stream.find(b"\n", 0, size - 1)
        take = end + 1 if end >= 0 else min(len(stream), size - 1)
        chunk, stream = stream[:take], stream[take:]
        commands.append(chunk[:-1] if chunk.endswith(b"\n") else chunk)
    return commands


@pytest.mark.parametrize(
    ("limit", "buffer"), [(MAX_LINE_BYTES, 8192), (MAX_LINE_BYTES_BEFORE_8K, 2048)]
)
def test_the_limits_are_what_fgets_reads_whole(limit: int, buffer: int) -> None:
    assert fgets_lines(b"x" * limit + b"\n", buffer) == [b"x" * limit]
    # one byte more and Asterisk runs two commands: the line cut short, then the rest
    assert fgets_lines(b"x" * (limit + 1) + b"\n", buffer) == [b"x" * limit + b"x", b""]
    assert len(fgets_lines(b"x" * (limit + 2) + b"\n", buffer)) == 2


@pytest.mark.parametrize(
    ("version", "limit"),
    [
        ("22.10.1+dfsg+~cs6.17.60671434-1", 8190),  # what the transcripts' Asterisk sends
        ("22.10.1", 8190),
        ("22.6.0", 8190),
        ("22.6.0-rc1", 8190),
        ("22.5.2", 2046),
        ("22.0.0", 2046),
        ("21.11.0", 8190),
        ("21.10.2", 2046),
        ("20.16.0", 8190),
        ("20.15.2", 2046),
        ("20.7-cert5", 2046),
        ("23.0.0", 8190),
        ("23.0.0-pre1", 8190),
        ("30.1.0", 8190),
        ("18.20.0", 2046),
        ("16.30.1", 2046),
        ("13.38.3", 2046),
        ("19.8.0", 2046),
        ("GIT-master-abc1234", 2046),
        ("certified-20.7-cert5", 2046),
        ("certified/18.9-cert3", 2046),
        ("SVN-branch-1.8-r1234", 2046),
        ("", 2046),
        ("22", 2046),
        ("22.x", 2046),
        ("²².6", 2046),
        ("22.٦", 2046),
    ],
)
def test_max_line_bytes_by_version(version: str, limit: int) -> None:
    assert max_line_bytes(version) == limit


@given(st.text())
def test_max_line_bytes_never_fails(version: str) -> None:
    assert max_line_bytes(version) in (MAX_LINE_BYTES, MAX_LINE_BYTES_BEFORE_8K)


def _ready(version: str) -> AgiSession:
    session = AgiSession()
    [event] = session.receive_data(f"agi_request: x.py\nagi_version: {version}\n\n".encode())
    assert isinstance(event, EnvironmentReceived)
    return session


@pytest.mark.parametrize(
    ("version", "limit"),
    [("22.10.1+dfsg+~cs6.17.60671434-1", 8190), ("18.20.0", 2046), ("GIT-master-abc", 2046)],
)
def test_the_session_refuses_a_longer_line_before_sending(version: str, limit: int) -> None:
    session = _ready(version)
    assert session.max_command_bytes == limit
    longest = format_command(["VERBOSE"], ["x" * (limit - len(b"VERBOSE "))])
    assert len(longest) == limit
    too_long = longest + b"x"
    with pytest.raises(ArgumentError, match=f"{len(too_long)} bytes.*{limit}"):
        session.send_command(too_long)
    # nothing was sent: the session is still idle and takes the longest line
    assert session.state == State.IDLE
    assert session.send_command(longest) == longest + b"\n"


def test_before_the_environment_the_small_limit_applies() -> None:
    assert AgiSession().max_command_bytes == MAX_LINE_BYTES_BEFORE_8K


def test_an_environment_without_agi_version_gets_the_small_limit() -> None:
    session = AgiSession()
    session.receive_data(b"agi_request: x.py\n\n")
    assert session.max_command_bytes == MAX_LINE_BYTES_BEFORE_8K
