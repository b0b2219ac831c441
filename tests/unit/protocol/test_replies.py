"""Every reply shape in reference §3.4/§3.5 and the transcripts, as the session assembles it."""

from __future__ import annotations

import copy
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agikit.errors import ProtocolError
from agikit.protocol import AgiSession, Reply, ReplyReceived
from agikit.protocol.replies import parse_fields, parse_final_line

from . import _transcripts

USAGE_BLOCK = (
    b"520-Invalid command syntax.  Proper usage follows:\n"
    b"Send the given file, allowing playback to be interrupted by the given digits, if any. "
    b"Returns <literal>0</literal> if playback completes without a digit being pressed.\n"
    b"\n"
    b"It sets the following channel variables upon completion:\n"
    b"<variable>PLAYBACKSTATUS</variable>: The status of the playback attempt as a text string.\n"
    b"    <value>SUCCESS</value>\n"
    b"\n"
    b"520 End of proper usage.\n"
)


def reply_to(data: bytes) -> Reply:
    """The reply the session assembles from ``data`` (whole, then again one byte at a time)."""
    replies = []
    for chunks in ([data], [data[i : i + 1] for i in range(len(data))]):
        session = AgiSession()
        session.receive_data(b"agi_request: x.py\n\n")
        session.send_command(b"NOOP")
        events = [event for chunk in chunks for event in session.receive_data(chunk)]
        assert len(events) == 1 and isinstance(events[0], ReplyReceived), events
        replies.append(events[0].reply)
    assert replies[0] == replies[1]
    assert replies[0].lines == tuple(data.split(b"\n")[:-1])
    return replies[0]


@pytest.mark.parametrize(
    ("line", "code", "result", "tail"),
    [
        (b"200 result=0", 200, "0", ""),
        (b"200 result=-1", 200, "-1", ""),
        (b"200 result=1 (value (two))", 200, "1", "(value (two))"),
        (b"200 result=1 ()", 200, "1", "()"),
        (b"200 result=", 200, "", ""),
        (b"200 result= (timeout)", 200, "", "(timeout)"),
        (b"200 result=*9A", 200, "*9A", ""),
        (b"200 result=12 (timeout)", 200, "12", "(timeout)"),
        (b"200 result=0 endpos=11360", 200, "0", "endpos=11360"),
        (b"200 result=-1 (hangup) endpos=0", 200, "-1", "(hangup) endpos=0"),
        (b"200 result=35 (dtmf) endpos=9760", 200, "35", "(dtmf) endpos=9760"),
        (b"200 result=0 Gosub complete", 200, "0", "Gosub complete"),
        (
            b"200 result=0 Gosub complete (abnormal exit)",
            200,
            "0",
            "Gosub complete (abnormal exit)",
        ),
        (b"200 result=-1 Gosub label not found", 200, "-1", "Gosub label not found"),
        (b"503 result=-2 Memory allocation failure", 503, "-2", "Memory allocation failure"),
        (b"510 Invalid or unknown command", 510, None, "Invalid or unknown command"),
        (
            b"511 Command Not Permitted on a dead channel or intercept routine",
            511,
            None,
            "Command Not Permitted on a dead channel or intercept routine",
        ),
        (
            b"520 Invalid command syntax.  Proper usage not available.",
            520,
            None,
            "Invalid command syntax.  Proper usage not available.",
        ),
        (b"200 ", 200, None, ""),
    ],
)
def test_single_line_shapes(line: bytes, code: int, result: str | None, tail: str) -> None:
    reply = reply_to(line + b"\n")
    assert (reply.code, reply.result, reply.tail) == (code, result, tail)
    assert reply.raw_text == line.decode()
    assert reply.usage == ""
    assert reply.intermediate == ()


@pytest.mark.parametrize(
    ("line", "value"),
    [
        (b"200 result=1 (value (two))", "value (two)"),
        (b"200 result=1 ()", ""),
        (b"200 result=1 (a (b) c) d)", "a (b) c) d"),
        (b'200 result=1 (say "hi" \\o/)', 'say "hi" \\o/'),
        (b"200 result=1 ((slin))", "(slin)"),
        (b"200 result=1 (h\xc3\xa9llo \xe2\x9c\x93)", "héllo ✓"),
        (b"200 result=1 (caf\xe9)", "caf\udce9"),  # not UTF-8: kept losslessly
        (b"200 result=0", None),
        (b"200 result=1 endpos=3", None),
    ],
)
def test_value(line: bytes, value: str | None) -> None:
    assert reply_to(line + b"\n").value() == value


def test_value_without_its_closing_parenthesis_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="unterminated"):
        reply_to(b"200 result=1 (abc\n").value()


@given(
    st.text(alphabet=st.characters(blacklist_characters="\n\r\x00", blacklist_categories=("Cs",)))
)
def test_any_value_round_trips_through_value(text: str) -> None:
    line = b"200 result=1 (" + text.encode() + b")\n"
    assert reply_to(line).value() == text


@given(st.binary().map(lambda raw: raw.replace(b"\n", b"")))
def test_any_bytes_in_a_value_round_trip_losslessly(raw: bytes) -> None:
    reply = reply_to(b"200 result=1 (" + raw + b")\n")
    value = reply.value()
    assert value is not None
    assert value.encode("utf-8", "surrogateescape") == raw


@pytest.mark.parametrize(
    ("line", "keyword", "fields"),
    [
        (b"200 result=0 endpos=11360", None, {"endpos": "11360"}),
        (b"200 result=-1 (hangup) endpos=0", "hangup", {"endpos": "0"}),
        (b"200 result=35 (dtmf) endpos=9760", "dtmf", {"endpos": "9760"}),
        (b"200 result= (timeout)", "timeout", {}),
        (b"200 result=12 (timeout)", "timeout", {}),
        (b"200 result=0 (timeout) endpos=-1", "timeout", {"endpos": "-1"}),
        (b"200 result=1 (digit) digit=5 endpos=1200", "digit", {"digit": "5", "endpos": "1200"}),
        (
            b'200 result=1 (speech) endpos=0 results=2 score0=980 text0="hello world" grammar0=g '
            b'score1=420 text1="say "hi" = x" grammar1=digits',
            "speech",
            {
                "endpos": "0",
                "results": "2",
                "score0": "980",
                "text0": "hello world",
                "grammar0": "g",
                "score1": "420",
                "text1": 'say "hi" = x',
                "grammar1": "digits",
            },
        ),
        (b'200 result=1 (speech) results=1 text0=""', "speech", {"results": "1", "text0": ""}),
        (b"200 result=0 a= b=2", None, {"a": "", "b": "2"}),
    ],
)
def test_fields(line: bytes, keyword: str | None, fields: dict[str, str]) -> None:
    assert reply_to(line + b"\n").fields() == (keyword, fields)


@pytest.mark.parametrize(
    "tail", ["(unterminated", "endpos", "Gosub complete", 'text0="open', "a b=1"]
)
def test_fields_refuses_what_is_not_fields(tail: str) -> None:
    with pytest.raises(ProtocolError):
        parse_fields(tail)


def test_integer() -> None:
    assert reply_to(b"200 result=-1 (hangup)\n").integer() == -1
    assert reply_to(b"200 result=55\n").integer() == 55
    for line in (b"200 result=\n", b"200 result=*9A\n", b"510 Invalid or unknown command\n"):
        with pytest.raises(ProtocolError, match="integer"):
            reply_to(line).integer()


def test_gosub_100_line_then_final() -> None:
    reply = reply_to(b"100 result=0 Trying...\n200 result=0 Gosub complete\n")
    assert (reply.code, reply.result, reply.tail) == (200, "0", "Gosub complete")
    assert reply.intermediate == ("100 result=0 Trying...",)
    assert reply.lines == (b"100 result=0 Trying...", b"200 result=0 Gosub complete")


def test_multi_line_520_usage() -> None:
    reply = reply_to(USAGE_BLOCK)
    assert reply.code == 520
    assert reply.result is None
    assert reply.tail == "End of proper usage."
    usage = reply.usage
    assert usage.startswith("Send the given file")
    assert "<literal>0</literal>" in usage
    assert "\n\nIt sets the following" in usage  # blank lines kept
    assert usage.endswith("    <value>SUCCESS</value>\n")  # and the trailing blank line
    assert "520" not in usage
    assert len(reply.lines) == 8


def test_a_520_block_may_hold_lines_that_look_like_replies() -> None:
    block = (
        b"520-Invalid command syntax.  Proper usage follows:\n"
        b"200 result=0\nHANGUP\n100 x\n520-y\n"
        b"520 End of proper usage.\n"
    )
    reply = reply_to(block)
    assert reply.usage == "200 result=0\nHANGUP\n100 x\n520-y"


def test_every_reply_in_the_transcripts_parses() -> None:
    seen = 0
    for name in _transcripts.sequential_names():
        for event in _transcripts.events_only(_transcripts.replay(_transcripts.operations(name))):
            if isinstance(event, ReplyReceived):
                reply = event.reply
                assert reply.code in (200, 510, 511, 520)
                assert reply.lines[-1].startswith(b"%d " % reply.code)
                if reply.code == 520:
                    assert reply.usage
                seen += 1
    assert seen > 500


def test_reply_is_immutable_hashable_copyable() -> None:
    reply = parse_final_line(b"200 result=1 (x)", (b"200 result=1 (x)",))
    with pytest.raises(AttributeError):
        reply.code = 510  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del reply.result  # type: ignore[misc]
    assert reply == Reply(200, "1", "(x)", (b"200 result=1 (x)",))
    assert hash(reply) == hash(Reply(200, "1", "(x)", (b"200 result=1 (x)",)))
    for clone in (copy.copy(reply), copy.deepcopy(reply), pickle.loads(pickle.dumps(reply))):
        assert clone == reply and clone.result == "1" and clone.tail == "(x)"
    assert repr(reply) == "Reply('200 result=1 (x)')"


@pytest.mark.parametrize(
    "line",
    [
        b"hello",
        b"20 result=0",
        b"2000 x",
        b"200result=0",
        b"200",
        b"",
        b"\xff\xfe\x00 junk",
        b"20a x",
        b"-20 x",
        b" 200 x",
        b"200-x",
        b"\xd9\xa0\xd9\xa0\xd9\xa0 x",
    ],
)
def test_parse_final_line_refuses_what_is_not_a_reply(line: bytes) -> None:
    with pytest.raises(ProtocolError, match="not an AGI reply line"):
        parse_final_line(line, (line,))


def test_unknown_codes_are_replies_too() -> None:
    reply = parse_final_line(b"299 something new", (b"299 something new",))
    assert (reply.code, reply.result, reply.tail) == (299, None, "something new")
