"""AgiSession.receive_reply: the one-line fast path, and the replies it remembers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def remembered(line: bytes) -> Reply:
    session = ready()
    session.send_command(b"NOOP")
    reply = session.receive_reply(line)
    assert reply is not None
    return reply


def test_a_remembered_reply_gives_each_command_its_own_typed_result() -> None:
    from agikit.commands import GET_DATA, STREAM_FILE, WAIT_FOR_DIGIT, complete
    from agikit.results import DigitsResult, PlaybackResult

    playback = STREAM_FILE.request("hello-world", "#", None)
    digit = WAIT_FOR_DIGIT.request(1000)
    digits = GET_DATA.request("enter-number", 5000, 4)
    for _ in range(3):  # parsed, then remembered for each parser
        reply = remembered(b"200 result=35 endpos=3520\n")
        assert complete(playback, reply, False) == PlaybackResult("#", 3520)
        reply = remembered(b"200 result=35\n")
        assert complete(digit, reply, False) == "#"
        assert complete(digits, reply, False) == DigitsResult("35", False)


def test_a_failure_is_never_remembered_and_still_sees_the_hangup() -> None:
    from agikit.commands import STREAM_FILE, complete
    from agikit.errors import CommandFailed, Hangup

    request = STREAM_FILE.request("no-such-file", "", None)
    for _ in range(2):
        reply = remembered(b"200 result=-1 endpos=0\n")
        with pytest.raises(CommandFailed) as failed:
            complete(request, reply, False)
        assert type(failed.value) is CommandFailed
        with pytest.raises(Hangup):
            complete(request, reply, True)


def test_only_immutable_results_are_shared() -> None:
    from agikit.commands import CommandRequest, complete

    request: CommandRequest[list[str]] = CommandRequest(
        None, b"NOOP", True, lambda reply: [reply.tail]
    )
    first = complete(request, remembered(b"200 result=0 mine\n"), False)
    first.append("changed")
    assert complete(request, remembered(b"200 result=0 mine\n"), False) == ["mine"]


def test_a_remembered_reply_is_still_a_plain_immutable_reply() -> None:
    import copy
    import pickle

    reply = remembered(b"200 result=1 (1001)\n")
    assert reply == Reply(200, "1", "(1001)", (b"200 result=1 (1001)",))
    assert pickle.loads(pickle.dumps(reply)) == reply
    assert copy.copy(reply) == reply
    with pytest.raises(AttributeError):
        reply.code = 500  # type: ignore[misc]


def test_the_memos_stay_bounded_and_keep_following_what_repeats() -> None:
    from agikit import _protocol
    from agikit.commands import SET_VARIABLE

    for number in range(_protocol._REPLY_MEMO_SIZE + 50):  # one-off replies (caller numbers)
        remembered(f"200 result=1 ({number})\n".encode())
    assert len(_protocol._REPLIES) <= _protocol._REPLY_MEMO_SIZE
    first = remembered(b"200 result=1 (after the memo was full)\n")
    assert remembered(b"200 result=1 (after the memo was full)\n") is first  # kept

    for number in range(_protocol._SENDABLE_SIZE + 50):
        ready().send_command(f"SET VARIABLE X {number}".encode())
    assert len(_protocol._SENDABLE) <= _protocol._SENDABLE_SIZE
    ready().send_command(b"SET VARIABLE X after")
    assert b"SET VARIABLE X after" in _protocol._SENDABLE

    for number in range(300):
        SET_VARIABLE.request("X", str(number))
    assert len(SET_VARIABLE._memo) <= 256
    request = SET_VARIABLE.request("X", "after")
    assert SET_VARIABLE.request("X", "after") is request


# -- the fast path next to the general one, whatever the pieces ------------------------------------
_REPLY_STREAMS = [
    b"200 result=1\n",
    b"200 result=0 endpos=3520\n",
    b"100 result=0 Trying...\n200 result=0\n",  # GOSUB
    b"520-Invalid command syntax.  Proper usage follows:\nUsage: X\n520 End of proper usage.\n",
    b"HANGUP\n200 result=-1\n",
    b"510 Invalid or unknown command\n",
]


def _events_via(pieces: list[bytes], fast: bool) -> list[object]:
    """Feed each reply's pieces to a session with a command in flight; what arrives, in order
    (the Reply, or the events), with receive_reply tried first when ``fast``."""
    session = ready()
    seen: list[object] = []
    for piece in pieces:
        if session.state is State.IDLE:
            session.send_command(b"NOOP")
        reply = session.receive_reply(piece) if fast else None
        if reply is not None:
            seen.append(reply)
            continue
        for event in session.receive_data(piece):
            seen.append(event.reply if isinstance(event, ReplyReceived) else type(event))
    seen.append((session.state, session.hung_up))
    return seen


@given(
    st.lists(st.sampled_from(_REPLY_STREAMS), min_size=1, max_size=6),
    st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=30),
)
@settings(max_examples=300)
def test_the_fast_path_reads_any_pieces_as_the_general_path(
    replies: list[bytes], cuts: list[int]
) -> None:
    # One reply at a time (the next command goes out after each), cut into pieces.
    pieces: list[bytes] = []
    for reply in replies:
        start = 0
        for cut in cuts:
            if start >= len(reply):
                break
            pieces.append(reply[start : start + cut])
            start += cut
        if start < len(reply):
            pieces.append(reply[start:])
    assert _events_via(pieces, fast=True) == _events_via(pieces, fast=False)
