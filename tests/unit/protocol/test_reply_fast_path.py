"""AgiSession.receive_reply: the one-line fast path, and the replies it remembers."""

from __future__ import annotations

import pytest

from agikit.errors import ProtocolError
from agikit.protocol import AgiSession, Reply
from agikit.protocol.session import ReplyReceived, State


def ready(**limits: int) -> AgiSession:
    session = AgiSession(**limits)
    session.receive_data(b"agi_network: yes\nagi_version: 22.10.1\n\n")
    return session


@pytest.mark.parametrize("line", [b"200 result=1\n", b"200 result=1 (1001)\n", b"510 Invalid\n"])
def test_the_same_reply_twice_is_the_same_as_the_slow_path(line: bytes) -> None:
    for _ in range(3):  # parsed, then remembered
        session = ready()
        session.send_command(b"NOOP")
        reply = session.receive_reply(line)
        slow = ready()
        slow.send_command(b"NOOP")
        (event,) = slow.receive_data(line)
        assert isinstance(event, ReplyReceived) and isinstance(reply, Reply)
        assert reply == event.reply
        assert (reply.code, reply.result, reply.tail) == (
            event.reply.code,
            event.reply.result,
            event.reply.tail,
        )
        assert session.state == State.IDLE


def test_a_remembered_reply_still_needs_a_command_in_flight() -> None:
    session = ready()
    session.send_command(b"NOOP")
    assert session.receive_reply(b"200 result=0\n") is not None
    assert session.receive_reply(b"200 result=0\n") is None  # no command in flight
    assert session.state == State.IDLE


def test_a_remembered_reply_longer_than_max_line_is_refused() -> None:
    session = ready()
    session.send_command(b"NOOP")
    assert session.receive_reply(b"200 result=1 endpos=3520\n") is not None
    small = ready(max_line=20)
    small.send_command(b"NOOP")
    assert small.receive_reply(b"200 result=1 endpos=3520\n") is None
    with pytest.raises(ProtocolError):
        small.receive_data(b"200 result=1 endpos=3520\n")


def test_a_bad_line_is_never_remembered() -> None:
    for _ in range(2):
        session = ready()
        session.send_command(b"NOOP")
        with pytest.raises(ProtocolError):
            session.receive_reply(b"2000 result=1\n")
