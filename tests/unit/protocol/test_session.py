"""The session state machine: real transcripts in any chunking, hangups, EOF, and violations."""

from __future__ import annotations

import time
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agikit.errors import (
    ArgumentError,
    CommandInFlight,
    ConnectionClosed,
    ProtocolError,
)
from agikit.protocol import (
    AgiSession,
    EnvironmentReceived,
    HangupReceived,
    ReplyReceived,
    State,
    StreamClosed,
)

from . import _transcripts
from .test_replies import USAGE_BLOCK

ENVIRONMENT = _transcripts.environment_block("fastagi_basic.transcript.txt")


def ready(**limits: int) -> AgiSession:
    session = AgiSession(**limits)
    [event] = session.receive_data(ENVIRONMENT)
    assert isinstance(event, EnvironmentReceived)
    return session


def awaiting(**limits: int) -> AgiSession:
    session = ready(**limits)
    session.send_command(b"NOOP")
    return session


def kinds(events: list[object]) -> list[str]:
    return [type(event).__name__ for event in events]


# -- real transcripts in any chunking ------------------------------------------------------------
def one_byte_at_a_time(data: bytes) -> list[bytes]:
    return [data[index : index + 1] for index in range(len(data))]


@pytest.mark.parametrize("name", _transcripts.sequential_names())
def test_a_transcript_fed_one_byte_at_a_time_gives_the_same_events(name: str) -> None:
    operations = _transcripts.operations(name)
    expected = _transcripts.replay(operations)
    assert isinstance(expected[0], EnvironmentReceived)
    assert _transcripts.replay(operations, one_byte_at_a_time) == expected


@given(st.sampled_from(_transcripts.sequential_names()), st.data())
@settings(max_examples=300, deadline=None)
def test_a_transcript_split_anywhere_gives_the_same_events(name: str, data: st.DataObject) -> None:
    operations = _transcripts.operations(name)

    def chunker(payload: bytes) -> list[bytes]:
        cuts = sorted(data.draw(st.lists(st.integers(0, len(payload)), max_size=12)))
        edges = [0, *cuts, len(payload)]
        return [payload[a:b] for a, b in pairwise(edges) if b > a]

    assert _transcripts.replay(operations, chunker) == _transcripts.replay(operations)


def test_the_stream_of_a_whole_session_fed_in_one_piece() -> None:
    # Asterisk may send the environment and, later, a reply and HANGUP together.
    outcome = _transcripts.replay(_transcripts.operations("fastagi_basic.transcript.txt"))
    events = _transcripts.events_only(outcome)
    assert kinds(events[-2:]) == ["HangupReceived", "ReplyReceived"]  # HANGUP before the reply
    assert events[-1] == ReplyReceived(_reply(b"200 result=1 (hello-from-dialplan)"))


def _reply(*lines: bytes) -> object:
    from agikit.protocol.replies import parse_final_line

    return parse_final_line(lines[-1], lines)


@pytest.mark.parametrize(
    ("name", "ending"),
    [
        # AGIEXITONHANGUP: HANGUP twice while idle, then EOF; a later command is refused.
        (
            "fastagi_hupidle_exit_on_hangup.transcript.txt",
            ["HangupReceived", "HangupReceived", "StreamClosed(in_reply=False)", "refused"],
        ),
        # ... and while WAIT FOR DIGIT ran: the peer reset the connection.
        (
            "fastagi_hupbusy_exit_on_hangup.transcript.txt",
            ["sent", "HangupReceived", "StreamClosed(in_reply=True)"],
        ),
        # Dead channel: HANGUP, then 511 for the command in flight and the next.
        (
            "fastagi_hupbusy_default.transcript.txt",
            ["sent", "HangupReceived", "ReplyReceived", "sent", "ReplyReceived"],
        ),
        # The "failure" line: Asterisk sends HANGUP and closes.
        ("cmdmisc.transcript.txt", ["sent", "HangupReceived", "StreamClosed(in_reply=True)"]),
        # Process AGI learns of the hangup by SIGHUP, then EOF.
        (
            "procagi_hupidle_exit_on_hangup.transcript.txt",
            ["ReplyReceived", "StreamClosed(in_reply=False)", "refused"],
        ),
    ],
)
def test_how_transcripts_end(name: str, ending: list[str]) -> None:
    session = AgiSession()
    outcome = _transcripts.replay(_transcripts.operations(name), session=session)
    described = [
        item[0]
        if isinstance(item, tuple)
        else repr(item)
        if isinstance(item, StreamClosed)
        else type(item).__name__
        for item in outcome
    ]
    assert described[-len(ending) :] == ending
    assert session.hung_up


@pytest.mark.parametrize("name", sorted(_transcripts.PIPELINED))
def test_pipelined_transcripts_are_refused_at_the_second_line(name: str) -> None:
    with pytest.raises(CommandInFlight):
        _transcripts.replay(_transcripts.operations(name))


# -- HANGUP ------------------------------------------------------------------------------------
def test_hangup_before_a_reply_is_not_the_reply() -> None:
    session = awaiting()
    assert session.receive_data(b"HANGUP\n") == [HangupReceived()]
    assert session.hung_up
    assert session.state == State.AWAITING_REPLY  # still waiting for the real reply
    with pytest.raises(CommandInFlight):
        session.send_command(b"NOOP")
    assert kinds(session.receive_data(b"200 result=-1\n")) == ["ReplyReceived"]
    assert session.state == State.IDLE


def test_hangup_and_the_reply_in_one_read() -> None:
    session = awaiting()
    events = session.receive_data(b"HANGUP\n511 Command Not Permitted on a dead channel\n")
    assert kinds(events) == ["HangupReceived", "ReplyReceived"]


def test_hangup_between_replies_and_while_idle_twice() -> None:
    session = awaiting()
    events = session.receive_data(b"200 result=0\nHANGUP\n")
    assert kinds(events) == ["ReplyReceived", "HangupReceived"]
    assert session.state == State.IDLE
    assert session.receive_data(b"HANGUP\n") == [HangupReceived()]  # the second, at the end
    assert session.receive_data(b"") == [StreamClosed(in_reply=False)]


def test_hangup_unsolicited_while_idle() -> None:
    session = ready()
    assert not session.hung_up
    assert session.receive_data(b"HANG") == []
    assert session.receive_data(b"UP\n") == [HangupReceived()]
    assert session.hung_up and session.state == State.IDLE
    session.send_command(b"GET VARIABLE DIALSTATUS")  # dead-channel commands still go out


def test_hangup_signalled() -> None:
    session = ready()
    session.hangup_signalled()
    assert session.hung_up
    assert session.state == State.IDLE


@pytest.mark.parametrize("line", [b"HANGUP ", b"hangup", b"HANGUP\r", b" HANGUP"])
def test_only_the_exact_hangup_line_is_a_notification(line: bytes) -> None:
    with pytest.raises(ProtocolError):
        ready().receive_data(line + b"\n")


# -- multi-line replies ------------------------------------------------------------------------
def test_gosub_100_line_in_its_own_read() -> None:
    session = awaiting()
    assert session.receive_data(b"100 result=0 Trying...\n") == []
    assert session.state == State.AWAITING_REPLY
    [event] = session.receive_data(b"200 result=0 Gosub complete\n")
    assert isinstance(event, ReplyReceived)
    assert event.reply.intermediate == ("100 result=0 Trying...",)
    assert event.reply.tail == "Gosub complete"


def test_usage_block_split_across_reads() -> None:
    session = awaiting()
    first, rest = USAGE_BLOCK[:60], USAGE_BLOCK[60:]
    assert session.receive_data(first) == []
    assert session.receive_data(rest[:-5]) == []
    [event] = session.receive_data(rest[-5:])
    assert isinstance(event, ReplyReceived)
    assert event.reply.code == 520 and event.reply.usage.startswith("Send the given file")


def test_invalid_utf8_in_replies_is_kept() -> None:
    session = awaiting()
    [event] = session.receive_data(b"200 result=1 (Jos\xe9\xff)\n")
    assert isinstance(event, ReplyReceived)
    assert event.reply.lines == (b"200 result=1 (Jos\xe9\xff)",)
    value = event.reply.value()
    assert value is not None and value.encode("utf-8", "surrogateescape") == b"Jos\xe9\xff"


# -- sending -----------------------------------------------------------------------------------
def test_send_returns_the_line_and_lf() -> None:
    assert ready().send_command(b'STREAM FILE beep ""') == b'STREAM FILE beep ""\n'


def test_a_second_command_in_flight_is_refused_and_nothing_changes() -> None:
    session = awaiting()
    with pytest.raises(CommandInFlight, match="ANSWER"):
        session.send_command(b"ANSWER")
    assert session.state == State.AWAITING_REPLY
    [event] = session.receive_data(b"200 result=0\n")  # the reply is the first command's
    assert isinstance(event, ReplyReceived)
    assert session.send_command(b"ANSWER") == b"ANSWER\n"


@pytest.mark.parametrize(
    "line", [b"NOOP\nANSWER", b"NOOP\r", b"GET VARIABLE A\x00B", b"failure", b"FAILURE x"]
)
def test_send_refuses_what_is_not_one_command_line(line: bytes) -> None:
    session = ready()
    with pytest.raises(ArgumentError):
        session.send_command(line)
    assert session.state == State.IDLE


def test_a_line_sent_before_is_checked_against_each_session_again() -> None:
    line = b"SET VARIABLE X " + b"y" * 200
    assert ready().send_command(line) == line + b"\n"  # remembered from now on
    short = ready()
    short.max_command_bytes = 100  # an older Asterisk's limit
    with pytest.raises(ArgumentError, match="longer than the 100"):
        short.send_command(line)
    assert short.state == State.IDLE
    with pytest.raises(CommandInFlight):
        awaiting().send_command(line)
    with pytest.raises(ProtocolError):
        AgiSession().send_command(line)
    assert ready().send_command(bytearray(b"NOOP")) == b"NOOP\n"


def test_send_before_the_environment_is_refused() -> None:
    session = AgiSession()
    with pytest.raises(ProtocolError):
        session.send_command(b"NOOP")
    session.receive_data(b"agi_request: x\n")
    with pytest.raises(ProtocolError):
        session.send_command(b"NOOP")


# -- end of stream -----------------------------------------------------------------------------
def test_eof_while_idle() -> None:
    session = ready()
    assert session.receive_data(b"") == [StreamClosed(in_reply=False)]
    assert session.state == State.CLOSED
    assert session.receive_data(b"") == []  # EOF again: nothing new
    with pytest.raises(ConnectionClosed):
        session.send_command(b"NOOP")


def test_eof_while_awaiting_a_reply() -> None:
    session = awaiting()
    assert session.receive_data(b"") == [StreamClosed(in_reply=True)]
    assert session.state == State.CLOSED


def test_eof_after_gosub_100_line_is_eof_while_awaiting() -> None:
    session = awaiting()
    session.receive_data(b"100 result=0 Trying...\n")
    assert session.receive_data(b"") == [StreamClosed(in_reply=True)]


@pytest.mark.parametrize(
    ("setup", "data"),
    [
        ("idle", b"200 res"),
        ("awaiting", b"200 res"),
        ("awaiting", b"HANGUP"),
        ("awaiting", USAGE_BLOCK[:80]),  # inside a 520 block, mid-line
        ("awaiting", USAGE_BLOCK[: USAGE_BLOCK.index(b"\n") + 1]),  # after its first line
        ("awaiting", USAGE_BLOCK[:-30]),
        ("environment", b""),
        ("environment", b"agi_network: yes\n"),
        ("environment", b"agi_network: y"),
    ],
)
def test_eof_inside_a_line_block_or_environment(setup: str, data: bytes) -> None:
    session = {"idle": ready, "awaiting": awaiting, "environment": AgiSession}[setup]()
    if data:
        assert session.receive_data(data) == []
    with pytest.raises(ConnectionClosed):
        session.receive_data(b"")
    assert session.state == State.CLOSED


def test_data_after_eof_is_refused() -> None:
    session = ready()
    session.receive_data(b"")
    with pytest.raises(ProtocolError, match="after the end"):
        session.receive_data(b"HANGUP\n")
    with pytest.raises(ProtocolError):
        session.receive_data(b"")


# -- protocol violations -----------------------------------------------------------------------
GARBAGE = [
    b"hello",
    b"20 result=0",
    b"2000 x",
    b"200result=0",
    b"200",
    b"",
    b"\x00\xff\xfe\x80binary",
    b"  200 result=0",
    b"200-result=0",
    b"100-x",
]


def _assert_broken(session: AgiSession) -> None:
    assert session.state == State.ERROR
    for call in (
        lambda: session.receive_data(b"200 result=0\n"),
        lambda: session.receive_data(b""),
        lambda: session.send_command(b"NOOP"),
    ):
        with pytest.raises(ProtocolError, match="broken"):
            call()


@pytest.mark.parametrize("line", GARBAGE)
def test_garbage_instead_of_a_reply(line: bytes) -> None:
    session = awaiting()
    with pytest.raises(ProtocolError) as caught:
        session.receive_data(line + b"\n")
    assert repr(line)[2:-1][:20] in str(caught.value)  # the message names the line
    _assert_broken(session)


@pytest.mark.parametrize("line", [*GARBAGE, b"200 result=0", b"100 result=0 Trying...", b"520-x"])
def test_any_line_but_hangup_while_idle(line: bytes) -> None:
    session = ready()
    with pytest.raises(ProtocolError, match="no command"):
        session.receive_data(line + b"\n")
    _assert_broken(session)


def test_garbage_after_a_good_reply_in_the_same_read() -> None:
    session = awaiting()
    with pytest.raises(ProtocolError):
        session.receive_data(b"HANGUP\n200 result=0\nsurprise\n")
    assert session.hung_up  # what was learnt before the violation is kept
    _assert_broken(session)


def test_a_line_longer_than_max_line_without_its_lf() -> None:
    session = awaiting(max_line=100)
    session.receive_data(b"x" * 60)
    with pytest.raises(ProtocolError, match="longer than 100"):
        session.receive_data(b"x" * 41)
    _assert_broken(session)


def test_the_default_max_line_is_one_mebibyte() -> None:
    session = awaiting()
    piece = b"x" * 65536
    for _ in range(16):  # exactly 1 MiB so far: still a line that may end
        assert session.receive_data(piece) == []
    with pytest.raises(ProtocolError, match="longer than 1048576"):
        session.receive_data(b"x")


def test_a_huge_read_without_lf_is_refused_without_keeping_it() -> None:
    session = awaiting(max_line=1000)
    with pytest.raises(ProtocolError, match="longer than 1000"):
        session.receive_data(b"x" * 10_000_000)


@pytest.mark.parametrize("chunk", [1, 7, 100, 101, 1000])
def test_max_line_is_the_same_in_any_chunking(chunk: int) -> None:
    """A line of max_line bytes is fine; one more byte is refused, however it arrives."""
    for length, ok in ((100, True), (101, False)):
        data = b"200 result=1 (" + b"x" * (length - 15) + b")\n"
        assert len(data) == length + 1
        session = awaiting(max_line=100)
        events: list[object] = []
        try:
            for start in range(0, len(data), chunk):
                events.extend(session.receive_data(data[start : start + chunk]))
        except ProtocolError:
            assert not ok
        else:
            assert ok and kinds(events) == ["ReplyReceived"]


def test_an_environment_larger_than_max_environment() -> None:
    session = AgiSession(max_environment=len(ENVIRONMENT) - 2)
    with pytest.raises(ProtocolError, match="environment"):
        session.receive_data(ENVIRONMENT)
    _assert_broken(session)
    assert kinds(AgiSession(max_environment=len(ENVIRONMENT) - 1).receive_data(ENVIRONMENT)) == [
        "EnvironmentReceived"
    ]


def test_an_environment_of_many_small_lines_is_bounded_too() -> None:
    session = AgiSession(max_environment=10_000)
    with pytest.raises(ProtocolError, match="environment"):
        for _ in range(10_000):
            session.receive_data(b"x\n")


def test_a_reply_with_too_many_lines() -> None:
    session = awaiting(max_usage_lines=5)
    with pytest.raises(ProtocolError, match="5 lines"):
        session.receive_data(b"520-x\n" + b"usage\n" * 10)
    session = awaiting(max_usage_lines=5)
    with pytest.raises(ProtocolError, match="5 lines"):
        session.receive_data(b"100 result=0 Trying...\n" * 10)


def test_a_reply_too_large() -> None:
    session = awaiting(max_reply=1000, max_line=100)
    with pytest.raises(ProtocolError, match="1000 bytes"):
        session.receive_data(b"520-x\n" + (b"u" * 90 + b"\n") * 20)


def test_a_long_line_in_small_reads_costs_linear_time() -> None:
    """A partial line is appended, not copied and searched again on every read."""
    size = 8 << 20
    session = awaiting(max_line=size + 100)
    piece = b"x" * 1024
    started = time.perf_counter()
    session.receive_data(b"200 result=1 (")
    for _ in range(size // len(piece)):
        assert session.receive_data(piece) == []
    [event] = session.receive_data(b")\n")
    assert time.perf_counter() - started < 2.0  # copying and rescanning it per read: ~15 s
    assert isinstance(event, ReplyReceived)
    value = event.reply.value()
    assert value is not None and len(value) == size


# -- events ------------------------------------------------------------------------------------
def test_events_compare_and_print() -> None:
    assert HangupReceived() == HangupReceived()
    assert StreamClosed(in_reply=True) != StreamClosed(in_reply=False)
    assert HangupReceived() != StreamClosed(in_reply=False)
    assert repr(StreamClosed(in_reply=True)) == "StreamClosed(in_reply=True)"
    assert repr(HangupReceived()) == "HangupReceived()"


_FASTAGI_BLOCK = (
    b"agi_network: yes\nagi_network_script: ivr?x=1\nagi_request: agi://h/ivr?x=1\n"
    b"agi_channel: PJSIP/a-1\nagi_language: en\nagi_type: PJSIP\nagi_uniqueid: 1.1\n"
    b"agi_version: 22.10.1\nagi_callerid: 1001\nagi_calleridname: Alice\n"
    b"agi_callingpres: 0\nagi_callingani2: 0\nagi_callington: 0\nagi_callingtns: 0\n"
    b"agi_dnid: 600\nagi_rdnis: unknown\nagi_context: default\nagi_extension: 600\n"
    b"agi_priority: 1\nagi_enhanced: 0.0\nagi_accountcode: \nagi_threadid: 1400\n\n"
)


@pytest.mark.parametrize(
    "block",
    [
        _FASTAGI_BLOCK,
        _FASTAGI_BLOCK[:-1] + b"agi_arg_1: a\nagi_arg_2: b: c\n\n",
        _FASTAGI_BLOCK.replace(b"agi_network_script: ivr?x=1\n", b""),
        _FASTAGI_BLOCK.replace(b"Alice", b"Al\xff: ice\r"),
        _FASTAGI_BLOCK.replace(b"agi_accountcode: \n", b"agi_accountcode:\n"),
        _FASTAGI_BLOCK[:-1] + b"agi_arg_1: a\nodd:name: v\nagi_channel: again\n\n",
        _FASTAGI_BLOCK[:-1] + b"no separator\n\n",
    ],
    ids=["asterisk", "args", "no-script", "bad-utf8", "no-space", "odd-lines", "junk"],
)
def test_a_fastagi_block_in_one_read_is_read_as_line_by_line(block: bytes) -> None:
    """The FastAGI environment's fast path (one match for the lines Asterisk always sends)
    gives what reading the block one byte at a time gives, whatever the lines hold."""

    def feed(pieces: list[bytes]) -> tuple[object, ...]:
        session = AgiSession()
        events: list[object] = []
        try:
            for piece in pieces:
                for event in session.receive_data(piece):
                    environment = getattr(event, "environment", None)
                    events.append(list(environment.raw.items()) if environment else event)
        except ProtocolError as exc:
            events.append(str(exc))
        return session.state, session._environment_size, repr(events)

    assert feed([block]) == feed([block[i : i + 1] for i in range(len(block))])
