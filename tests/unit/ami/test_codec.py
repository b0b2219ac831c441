"""The sans-IO AMI codec: real Asterisk 22 byte streams, framing, header rules, encoding."""

from __future__ import annotations

import itertools
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agikit.ami import AmiParser, Message, encode_action
from agikit.ami.codec import MAX_ACTION_LINE
from agikit.errors import ArgumentError, ProtocolError

from . import _transcripts

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
STREAMS = [
    (name, connection)
    for name in _transcripts.names()
    for connection in _transcripts.connections(name)
    if _transcripts.incoming(name, connection)
]


def feed_all(chunks: list[bytes], parser: AmiParser | None = None) -> list[Message]:
    parser = parser or AmiParser()
    messages: list[Message] = []
    for chunk in chunks:
        messages += parser.feed(chunk)
    return messages


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


# -- real transcripts -------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "connection"), STREAMS)
def test_transcript_stream_gives_one_message_per_record(name: str, connection: str) -> None:
    stream = _transcripts.received(name, connection)
    parser = AmiParser()
    messages = parser.feed(stream)
    assert parser.banner == "Asterisk Call Manager/11.0.0"
    records = _transcripts.incoming(name, connection)
    assert len(messages) == len(records)
    # Each message alone parses to the same thing as in the stream.
    assert [_transcripts.parse(r) for r in records] == messages
    assert all(m.event is not None or m.response is not None for m in messages)


@pytest.mark.parametrize(("name", "connection"), STREAMS)
def test_transcript_stream_byte_by_byte(name: str, connection: str) -> None:
    stream = _transcripts.received(name, connection)[:20_000]
    whole = AmiParser().feed(stream)
    assert feed_all([stream[i : i + 1] for i in range(len(stream))]) == whole


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(STREAMS), st.lists(st.integers(min_value=0), max_size=40))
def test_transcript_stream_any_split_gives_the_same_messages(
    stream_id: tuple[str, str], cuts: list[int]
) -> None:
    stream = _transcripts.received(*stream_id)
    assert feed_all(split(stream, cuts)) == AmiParser().feed(stream)


@pytest.mark.parametrize(("name", "connection"), STREAMS)
def test_bare_lf_stream_reads_as_the_crlf_one(name: str, connection: str) -> None:
    stream = _transcripts.received(name, connection)
    assert AmiParser().feed(stream.replace(b"\r\n", b"\n")) == AmiParser().feed(stream)


def test_login_transcript_facts() -> None:
    messages = AmiParser().feed(_transcripts.received("login.txt", "A"))
    by_id = {m.action_id: m for m in messages}
    assert by_id["A-ping-4"]["Ping"] == "Pong"
    assert by_id["A-ping-4"].response == "Success"
    assert by_id["lower-case-headers"]["ping"] == "Pong"
    # Trailing blanks of a value are kept, UTF-8 decoded.
    assert "id with spaces / ü €  " in by_id
    assert by_id["A-login-2"].headers == (
        ("Response", "Success"),
        ("ActionID", "A-login-2"),
        ("Message", "Authentication accepted"),
    )


def test_event_list_transcript_keeps_order_and_repeats() -> None:
    messages = AmiParser().feed(_transcripts.received("eventlist.txt", "L"))
    status = [m for m in messages if m.event == "Status" and m.action_id == "L-status-5"]
    (item,) = status
    assert item.headers[-1] == ("ActionID", "L-status-5")  # ActionID last in Status items
    assert item["Privilege"] == "Call"
    variables = item.get_all("variable")
    assert len(variables) >= 2
    assert any(v.endswith("=(null)") for v in variables)
    command = next(m for m in messages if m.action_id == "L-command-11")
    assert len(command.get_all("Output")) == 2
    assert command.get("output") == command.get_all("Output")[0]


def test_raw_getvar_value_splits_as_asterisk_frames_it() -> None:
    messages = AmiParser().feed(_transcripts.received("encoding.txt", "S"))
    nl = next(m for m in messages if m.action_id == "S-getvar-11")
    # "Value: line1\nline2\r\nline3": the LF ends the header line too, as Asterisk reads it,
    # and the lines without a colon are no headers.
    assert nl["Value"] == "line1"
    assert nl.headers[-1] == ("Value", "line1")
    assert "line2" not in nl
    injected = next(m for m in messages if m.event == "Injected")
    assert injected.headers == (("Event", "Injected"),)


def _lazy(data: bytes) -> Message:
    (message,) = AmiParser().feed(BANNER + data)
    return message


@pytest.mark.parametrize("name", _transcripts.names())
def test_lazy_look_ups_agree_with_the_full_split(name: str) -> None:
    for data in _transcripts.incoming(name):
        eager = Message(_lazy(data).headers)
        names = {n for n, _ in eager.headers}
        names |= {n.upper() for n in names} | {n.lower() for n in names} | {"Missing", "é", ""}
        for header in names:
            assert _lazy(data).get(header) == eager.get(header), (data, header)
            assert (header in _lazy(data)) == (header in eager)
        message = _lazy(data)
        assert (message.event, message.response, message.action_id) == (
            eager.event,
            eager.response,
            eager.action_id,
        )
        # Past the first few look-ups the message is split; the answers stay the same.
        for header in sorted(names):
            assert message.get(header) == eager.get(header)
        assert message == eager


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Event", "event", "Response", "ActionID", "Uniqueid", "X", "", "a b"]),
            st.text(st.sampled_from([" ", "\t", "\r", ":", "a", "é", "\x01"]), max_size=6),
        ),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from([b"\r\n", b"\n"]),
)
def test_lazy_look_ups_agree_on_odd_lines(lines: list[tuple[str, str]], eol: bytes) -> None:
    data = b"".join(f"{n}:{v}".encode() + eol for n, v in lines) + eol
    data = data.replace(b"\r" + eol, eol) if eol == b"\n" else data
    messages = AmiParser().feed(BANNER + data)
    if len(messages) != 1:
        return  # a value made an empty line: not one message
    eager = Message(messages[0].headers)
    for header in ("Event", "EVENT", "Response", "ActionID", "actionid", "Uniqueid", "X", "a b"):
        fresh = AmiParser().feed(BANNER + data)[0]
        assert fresh.get(header) == eager.get(header), (data, header)
    fresh = AmiParser().feed(BANNER + data)[0]
    assert (fresh.event, fresh.response, fresh.action_id) == (
        eager.event,
        eager.response,
        eager.action_id,
    )


# -- framing ----------------------------------------------------------------------------------
def test_banner_split_and_first_message_in_the_same_chunk() -> None:
    parser = AmiParser()
    assert parser.feed(b"Asterisk Call") == []
    assert parser.banner is None
    (message,) = parser.feed(b" Manager/12.0.0\r\nEvent: A\r\n\r\nEvent: B\r\n")
    assert parser.banner == "Asterisk Call Manager/12.0.0"
    assert message.event == "A"
    assert [m.event for m in parser.feed(b"\r\n")] == ["B"]


@pytest.mark.parametrize(
    "garbage",
    [b"HTTP/1.1 400 Bad Request\r\n", b"SSH-2.0-OpenSSH", b"\r\n", b"\x00\x01", b"asterisk"],
)
def test_not_a_banner_is_refused_at_once(garbage: bytes) -> None:
    with pytest.raises(ProtocolError, match="not an AMI banner"):
        AmiParser().feed(garbage)


def test_a_banner_line_without_end_is_bounded() -> None:
    parser = AmiParser()
    with pytest.raises(ProtocolError, match="banner longer"):
        parser.feed(b"Asterisk Call Manager/" + b"1" * 2000)


def test_oversized_message_is_refused() -> None:
    parser = AmiParser(max_message=1000)
    parser.feed(BANNER)
    parser.feed(b"Event: Big\r\n" + b"X: " + b"y" * 900)
    with pytest.raises(ProtocolError, match="longer than 1000"):
        parser.feed(b"y" * 200)


def test_many_small_chunks_of_a_big_message_scan_once() -> None:
    parser = AmiParser()
    parser.feed(BANNER)
    body = b"".join(b"Output: line %d\r\n" % i for i in range(20_000))
    messages: list[Message] = []
    for i in range(0, len(body), 7):
        messages += parser.feed(body[i : i + 7])
    messages += parser.feed(b"\r\n")
    (message,) = messages
    assert len(message.get_all("Output")) == 20_000


def test_one_big_read_of_many_messages_parses_in_linear_time() -> None:
    # The search for a bare-LF end once scanned the rest of the buffer for every message.
    data = b"".join(b"Event: Tick\r\nN: %d\r\n\r\n" % n for n in range(40_000))
    started = time.perf_counter()
    messages = AmiParser().feed(BANNER + data)
    assert len(messages) == 40_000 and messages[-1]["N"] == "39999"
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize(
    "ending",
    [b"\r\n\r\n", b"\n\n", b"\n\r\n", b"\r\n\n"],
    ids=["crlf", "lf", "lf-then-crlf", "crlf-then-lf"],
)
def test_any_mix_of_line_ends_ends_a_message(ending: bytes) -> None:
    messages = AmiParser().feed(BANNER + b"Event: A\r\nX: 1" + ending + b"Event: B" + ending)
    assert [m.headers for m in messages] == [(("Event", "A"), ("X", "1")), (("Event", "B"),)]


def test_blank_lines_between_messages_are_skipped() -> None:
    parser = AmiParser()
    messages = parser.feed(BANNER + b"\r\n\n\r\nEvent: A\r\n\r\n\r\n\r\n\n")
    messages += parser.feed(b"\r")
    messages += parser.feed(b"\nEvent: B\r\n\r\n")
    assert [m.event for m in messages] == ["A", "B"]


def test_a_lone_cr_line_is_not_an_empty_line() -> None:
    (message,) = AmiParser().feed(BANNER + b"Event: A\r\n\r\r\nX: 1\r\n\r\n")
    assert message["X"] == "1"


def test_header_rules() -> None:
    data = (
        b"Response: Success\r\n"
        b"actionid:  \t first  \r\n"
        b"ActionID: second\r\n"
        b"Empty:\r\n"
        b"Spaces:    \r\n"
        b"Colon: a: b\r\n"
        b"NoColon\r\n"
        b"Output: 1\r\n"
        b"output: 2\r\n"
        b"\r\n"
    )
    (message,) = AmiParser().feed(BANNER + data)
    assert message.action_id == "first  "  # leading blanks skipped, trailing kept, first wins
    assert message["ACTIONID"] == "first  "
    assert message.get_all("ActionId") == ["first  ", "second"]
    assert message["Empty"] == "" and message["Spaces"] == ""
    assert message["Colon"] == "a: b"
    assert "NoColon" not in message and ("NoColon", "") not in message.headers
    assert message.get_all("OUTPUT") == ["1", "2"]
    assert message.get("missing") is None and message.get("missing", "x") == "x"
    assert "missing" not in message and 3 not in message
    with pytest.raises(KeyError):
        message["missing"]
    assert message.as_dict()["actionid"] == "first  "
    assert message.event is None and message.response == "Success"


def test_invalid_utf8_survives() -> None:
    (message,) = AmiParser().feed(BANNER + b"Event: X\r\nName: \xff\xfe caf\xc3\xa9\r\n\r\n")
    assert message["Name"].encode("utf-8", "surrogateescape") == b"\xff\xfe caf\xc3\xa9"


def test_legacy_response_follows_block() -> None:
    data = (
        b"Response: Follows\r\nPrivilege: Command\r\nActionID: 7\r\n"
        b"Name: value with: colon\nsecond line\n\nafter a blank line\n--END COMMAND--\r\n\r\n"
        b"Event: After\r\n\r\n"
    )
    whole = AmiParser().feed(BANNER + data)
    assert feed_all([BANNER, *(data[i : i + 5] for i in range(0, len(data), 5))]) == whole
    follows, after = whole
    assert follows.response == "Follows" and follows.action_id == "7"
    assert follows.output == "Name: value with: colon\nsecond line\n\nafter a blank line"
    assert after.event == "After"


# -- generated messages -----------------------------------------------------------------------
NAMES = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1)
VALUES = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\r\n\x00"), max_size=60
).map(lambda v: v.lstrip("".join(map(chr, range(1, 33)))))
HEADERS = st.lists(st.tuples(NAMES, VALUES), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(HEADERS, min_size=1, max_size=6),
    st.sampled_from([b"\r\n", b"\n"]),
    st.lists(st.integers(min_value=0), max_size=20),
)
def test_generated_messages_round_trip_whatever_the_split(
    messages: list[list[tuple[str, str]]], eol: bytes, cuts: list[int]
) -> None:
    stream = BANNER + b"".join(
        b"".join(f"{n}: {v}".encode() + eol for n, v in headers) + eol for headers in messages
    )
    parsed = feed_all(split(stream, cuts))
    assert [m.headers for m in parsed] == [tuple(h) for h in messages]


@settings(max_examples=200, deadline=None)
@given(NAMES, HEADERS, st.none() | NAMES)
def test_encode_action_round_trips(
    action: str, headers: list[tuple[str, str]], aid: str | None
) -> None:
    headers = [(n, v) for n, v in headers if n.lower() not in ("action", "actionid")]
    data = encode_action(action, headers, action_id=aid)
    assert data.endswith(b"\r\n\r\n") and b"\r\n\r\n" not in data[:-2]
    (message,) = AmiParser().feed(BANNER + data)
    expected = [("Action", action), *([("ActionID", aid)] if aid is not None else []), *headers]
    assert list(message.headers) == expected


# -- encoding actions -------------------------------------------------------------------------
def test_encode_action_shapes() -> None:
    assert encode_action("Ping", action_id="a1") == b"Action: Ping\r\nActionID: a1\r\n\r\n"
    data = encode_action(
        "Originate", {"Channel": "Local/1@x", "Variable": ["A=1", "B=2"]}, action_id="7"
    )
    assert data == (
        b"Action: Originate\r\nActionID: 7\r\nChannel: Local/1@x\r\n"
        b"Variable: A=1\r\nVariable: B=2\r\n\r\n"
    )
    assert encode_action("X", [("A", "1"), ("A", "2")]) == b"Action: X\r\nA: 1\r\nA: 2\r\n\r\n"
    assert encode_action("X", {"Name": "ü"}) == "Action: X\r\nName: ü\r\n\r\n".encode()


@pytest.mark.parametrize("bad", ["a\r\nAction: Logoff", "a\nb", "a\rb", "a\x00b"])
def test_encode_action_refuses_injection(bad: str) -> None:
    with pytest.raises(ArgumentError, match="CR, LF or NUL"):
        encode_action("Command", {"Command": bad})
    with pytest.raises(ArgumentError, match="CR, LF or NUL"):
        encode_action("Command", {bad: "x"})
    with pytest.raises(ArgumentError, match="CR, LF or NUL"):
        encode_action(bad)
    with pytest.raises(ArgumentError, match="CR, LF or NUL"):
        encode_action("Ping", action_id=bad)
    with pytest.raises(ArgumentError, match="CR, LF or NUL"):
        encode_action("X", {"Variable": ["ok", bad]})


@pytest.mark.parametrize("name", ["", "A:B", "Action:"])
def test_encode_action_refuses_bad_names(name: str) -> None:
    with pytest.raises(ArgumentError, match="not an AMI header name"):
        encode_action("X", {name: "v"})


def test_encode_action_line_limit_is_1024_bytes_with_crlf() -> None:
    room = MAX_ACTION_LINE - len("Command: ") - 2
    encode_action("Command", {"Command": "x" * room})
    with pytest.raises(ArgumentError, match="1025 bytes"):
        encode_action("Command", {"Command": "x" * (room + 1)})
    # Bytes, not characters, count.
    with pytest.raises(ArgumentError):
        encode_action("Command", {"Command": "é" * (room // 2 + 1)})


def test_secrets_are_masked() -> None:
    with pytest.raises(ArgumentError) as info:
        encode_action("Login", {"Username": "u", "Secret": "hunter2\n"})
    assert "hunter2" not in str(info.value)
    with pytest.raises(ArgumentError) as info:
        encode_action("Login", {"Key": "0123abcd\r"})
    assert "0123abcd" not in str(info.value)
    (login,) = AmiParser().feed(
        BANNER + encode_action("Login", {"Username": "u", "Secret": "hunter2", "Key": "k3y"})
    )
    shown = repr(login)
    assert "hunter2" not in shown and "k3y" not in shown
    assert "Secret: ***" in shown and "Username: u" in shown


def test_message_equality_and_hash() -> None:
    a = Message([("Event", "X"), ("A", "1")])
    assert a == Message((("Event", "X"), ("A", "1")))
    assert a != Message([("Event", "X"), ("a", "1")])
    assert a != Message([("Event", "X"), ("A", "1")], output="")
    assert a.__eq__(object()) is NotImplemented
    with pytest.raises(TypeError):
        hash(a)
