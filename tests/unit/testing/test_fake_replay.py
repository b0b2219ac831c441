"""Replaying real Asterisk 22 transcripts with the fake, and the fake's own transcripts."""

from __future__ import annotations

import ast
import socket
from pathlib import Path

import pytest

from agikit.testing._fake_replay import parse_transcript
from agikit.testing._fake_script import Expect
from agikit.testing.fake import (
    DEAD_CHANNEL,
    FakeAsterisk,
    Result,
    expect,
    expect_any,
    hangup,
    send_raw,
)

from ._raw import RawClient, RawServer

TRANSCRIPTS = Path(__file__).with_name("transcripts")
FASTAGI = [
    "fastagi_basic.transcript.txt",
    "fastagi_hupbusy_default.transcript.txt",
    "cmddead.transcript.txt",
    "cmdgosub.transcript.txt",
    "cmdmisc.transcript.txt",
]

Operation = tuple[str, bytes]


def operations(text: str) -> list[Operation]:
    """("send", line) / ("recv", line) in recorded order, after the environment, up to EOF."""
    found: list[Operation] = []
    in_environment = True
    for raw in text.splitlines():
        if not raw.startswith("+"):
            continue
        _, direction, *rest = raw.split(" ", 2)
        data = rest[0] if rest else ""
        if direction == "##":
            if "EOF" in data:
                break
            continue
        if "[shown escaped" in data:
            literal = data[data.index("exact bytes = ") + 14 : -1]
            line = ast.literal_eval(literal).rstrip(b"\n")
        else:
            line = data.encode()
        if in_environment:
            if direction == "<<" and line == b"":
                in_environment = False
            continue
        found.append(("send" if direction == ">>" else "recv", line))
    return found


def replay_client(raw: RawClient, ops: list[Operation]) -> list[tuple[bytes, bytes]]:
    """Play the AGI side; returns (expected, received) pairs for every line Asterisk sent."""
    raw.read_env()
    pairs = []
    for kind, line in ops:
        if kind == "send":
            raw.send(line + b"\n")
        else:
            pairs.append((line + b"\n", raw.readline()))
    return pairs


@pytest.mark.parametrize("name", FASTAGI)
def test_replay_fastagi_transcripts(name: str) -> None:
    text = (TRANSCRIPTS / name).read_text()
    ops = operations(text)

    def handler(raw: RawClient) -> object:
        pairs = replay_client(raw, ops)
        assert server.sock is not None
        server.sock.shutdown(socket.SHUT_WR)
        rest = raw.reader.read()
        return pairs, rest

    server = RawServer(handler)
    fake = FakeAsterisk.from_transcript(TRANSCRIPTS / name)
    result = fake.run_fastagi(f"agi://127.0.0.1:{server.port}/{name}")
    pairs, rest = server.join()  # type: ignore[misc]
    for expected, received in pairs:
        assert received == expected
    result.assert_ok()
    ended = any(op == ("send", b"failure") for op in ops)
    assert rest == (b"" if ended else b"HANGUP\n")


def test_replay_process_transcript_in_process() -> None:
    text = (TRANSCRIPTS / "procagi_basic.transcript.txt").read_text()
    ops = operations(text)
    sighups: list[int] = []
    fake = FakeAsterisk.from_transcript(text)
    with fake.in_process(on_sighup=lambda: sighups.append(1)) as agi:
        raw = RawClient.over_pipes(agi.stdin, agi.stdout)
        for expected, received in replay_client(raw, ops):
            assert received == expected
        assert raw.env["agi_channel"] == "Local/basic@procagi-00000008;2"
        assert raw.env["agi_arg_1"] == "first arg" and raw.env["agi_arg_2"] == "second"
        assert raw.env["agi_request"] == "test.agi"  # the transport's, not the recorded one
    agi.result.assert_ok()
    assert sighups == [1]


def test_parse_transcript_shapes() -> None:
    recording = parse_transcript(
        (TRANSCRIPTS / "fastagi_hupbusy_default.transcript.txt").read_text()
    )
    assert recording.network and recording.request.startswith("agi://")
    assert recording.args == ["first arg", "second"]
    assert "agi_network" not in recording.env and "agi_request" not in recording.env
    steps = recording.steps
    assert isinstance(steps[-2], Expect) and steps[-2].hangup_before_reply
    assert steps[-2].reply == (DEAD_CHANNEL.encode(),)

    idle = parse_transcript(
        (TRANSCRIPTS / "fastagi_hupidle_exit_on_hangup.transcript.txt").read_text()
    )
    # two HANGUP lines become one hangup; the NOOP sent after EOF is not part of the script
    assert [step.describe() for step in idle.steps[-2:]] == [
        "expect 'GET VARIABLE AGIEXITONHANGUP'",
        "hangup",
    ]


def test_exit_on_hangup_transcript_replays_with_the_option() -> None:
    name = "fastagi_hupidle_exit_on_hangup.transcript.txt"
    ops = operations((TRANSCRIPTS / name).read_text())

    def handler(raw: RawClient) -> object:
        return replay_client(raw, ops), raw.reader.read()

    server = RawServer(handler)
    fake = FakeAsterisk.from_transcript(TRANSCRIPTS / name, exit_on_hangup=True)
    result = fake.run_fastagi(f"agi://127.0.0.1:{server.port}")
    pairs, rest = server.join()  # type: ignore[misc]
    assert all(expected == received for expected, received in pairs)
    assert rest == b""
    result.assert_ok()


def test_dead_channel_defaults_match_asterisk() -> None:
    """cmddead replayed with default replies: every 511 and 200 comes from the command table."""
    ops = operations((TRANSCRIPTS / "cmddead.transcript.txt").read_text())
    script = []
    for kind, line in ops:
        if kind == "send":
            script.append(expect(line))
        elif line == b"HANGUP":
            script.append(hangup())

    recorded: list[bytes] = []  # the first line of each reply, in order
    for index, (kind, line) in enumerate(ops):
        first = ops[index - 1][0] == "send" or ops[index - 1] == ("recv", b"HANGUP")
        if kind == "recv" and line != b"HANGUP" and first:
            recorded.append(line)

    def handler(raw: RawClient) -> object:
        raw.read_env()
        replies = []
        for kind, line in ops:
            if kind == "send":
                raw.send(line + b"\n")
                replies.append(raw.reply()[0])
        return replies

    server = RawServer(handler)
    result = FakeAsterisk(script).run_fastagi(f"agi://127.0.0.1:{server.port}")
    got = server.join()
    assert isinstance(got, list) and len(got) == len(recorded) > 40
    for real, fake in zip(recorded, got, strict=True):
        if real.startswith(b"520"):
            continue  # the fake does not check arguments: script a usage_reply for that
        # same code; 511 exactly; 200 replies may carry other values than the real channel's
        assert fake[:3] == real[:3], (real, fake)
        if real.startswith(b"511"):
            assert fake == real
    result.assert_ok()


def test_own_transcript_round_trips() -> None:
    """A session's transcript, replayed, gives the AGI the same bytes again."""
    fake = FakeAsterisk(
        [
            expect("GET VARIABLE X\r", reply=b"200 result=1 (caf\xc3\xa9 \xff\r)"),
            expect("GOSUB a b 1"),
            send_raw(b"stray \x00\n"),
            hangup(),
            expect_any(),
        ],
        args=["a b"],
        env={"calleridname": "Jos\xe9"},
    )

    def session(fake: FakeAsterisk) -> tuple[Result, list[bytes]]:
        with fake.in_process(on_sighup=lambda: None) as agi:
            raw = RawClient.over_pipes(agi.stdin, agi.stdout)
            raw.read_env()
            raw.command(b"GET VARIABLE X\r")
            raw.command("GOSUB a b 1")
            raw.readline()
            raw.command('STREAM FILE x ""')
        agi.result.assert_ok()
        return agi.result, raw.received

    first, received_first = session(fake)
    text = first.format_transcript()
    assert "[shown escaped: exact bytes = b'GET VARIABLE X\\r\\n']" in text
    second, received_second = session(FakeAsterisk.from_transcript(text))
    assert received_second == received_first
    assert second.sent == first.sent


def test_escaped_lines_are_read_back_exactly() -> None:
    text = (
        "+0000.000 << agi_request: x\n"
        "+0000.000 << \n"
        "+0000.001 >> ANSWER\\r   [shown escaped: exact bytes = b'ANSWER\\r\\n']\n"
        "+0000.002 << 200 result=1 (\\xff)   "
        "[shown escaped: exact bytes = b'200 result=1 (\\xff)\\n']\n"
    )
    (step,) = parse_transcript(text).steps
    assert isinstance(step, Expect)
    assert step.command == b"ANSWER\r"
    assert step.reply == (b"200 result=1 (\xff)",)


@pytest.mark.parametrize("probe", [True, False], ids=["probed", "not-probed"])
def test_an_optional_step_is_passed_over_when_the_agi_leaves_it_out(probe: bool) -> None:
    fake = FakeAsterisk(
        [
            expect('STREAM FILE x ""', "200 result=-1 endpos=0"),
            hangup(),
            expect("NOOP", optional=True),
            expect("SET VARIABLE CLEANUP done"),
        ]
    )
    with fake.in_process() as agi:
        raw = RawClient.over_pipes(agi.stdin, agi.stdout)
        raw.read_env()
        assert raw.command('STREAM FILE x ""') == [b"200 result=-1 endpos=0"]
        if probe:
            assert raw.command("NOOP") == [b"200 result=0"]
        assert raw.command("SET VARIABLE CLEANUP done") == [b"200 result=1"]
        agi.stdout.close()
    agi.result.assert_ok()


def test_an_optional_step_at_the_end_of_the_stream_is_passed_over() -> None:
    fake = FakeAsterisk([expect("ANSWER"), expect("NOOP", optional=True)])
    with fake.in_process() as agi:
        raw = RawClient.over_pipes(agi.stdin, agi.stdout)
        raw.read_env()
        raw.command("ANSWER")
        agi.stdout.close()
    agi.result.assert_ok()


def test_the_hangup_probe_after_a_failure_is_optional_in_a_replay() -> None:
    def steps(lines: list[str]) -> list[str]:
        text = "\n".join(["+0000.000 << agi_channel: X", "+0000.000 << ", *lines])
        return [step.describe() for step in parse_transcript(text).steps]

    failed = ["+0.1 >> WAIT FOR DIGIT 10000", "+0.2 << 200 result=-1", "+0.2 ## SIGHUP received"]
    # Recorded with the probe: it becomes optional.
    assert steps([*failed, "+0.2 >> NOOP", "+0.2 << 200 result=0"]) == [
        "expect 'WAIT FOR DIGIT 10000'",
        "hangup",
        "maybe expect 'NOOP'",
    ]
    # Recorded without it (the hangup was known in time): a replay may still send one.
    assert steps([*failed, "+0.3 >> SET VARIABLE X 1", "+0.3 << 200 result=1"]) == [
        "expect 'WAIT FOR DIGIT 10000'",
        "hangup",
        "maybe expect 'NOOP'",
        "expect 'SET VARIABLE X 1'",
    ]
    # No failure before the hangup: nothing to probe.
    assert steps(["+0.1 >> ANSWER", "+0.1 << 200 result=0", "+0.2 ## SIGHUP received"]) == [
        "expect 'ANSWER'",
        "hangup",
    ]
