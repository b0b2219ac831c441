"""agikit.transcript: the recorder's entries, the recording session, the transcript directory,
and what the replay parser reads back from them."""

from __future__ import annotations

import contextlib
import io
import logging
import os
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agikit import transcript
from agikit.errors import ConnectionClosed, ProtocolError
from agikit.protocol.environment import Environment
from agikit.protocol.session import State
from agikit.testing._fake_replay import parse_transcript
from agikit.testing._fake_script import Expect, Hangup
from agikit.transcript import (
    Direction,
    RecordingSession,
    TranscriptDirectory,
    TranscriptEntry,
    TranscriptRecorder,
    show,
)

ENVIRONMENT = (
    b"agi_request: test.agi\n"
    b"agi_channel: PJSIP/alice-00000001\n"
    b"agi_uniqueid: 1700000000.42\n"
    b"agi_version: 22.10.1\n"
    b"\n"
)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def entries(text: str) -> list[str]:
    """The entry lines of a transcript (no comments)."""
    return [line for line in text.splitlines() if not line.startswith("#")]


def recorder_on(stream: io.StringIO, clock: Clock | None = None) -> TranscriptRecorder:
    return TranscriptRecorder(stream, "a test", clock=clock or Clock())


def environment(uniqueid: str = "1700000000.42") -> Environment:
    session = RecordingSession(TranscriptRecorder(io.StringIO()))
    session.receive_data(ENVIRONMENT.replace(b"1700000000.42", uniqueid.encode()))
    assert session.environment is not None
    return session.environment


# ------------------------------------------------------------------------------ entries


def test_entry_format() -> None:
    assert TranscriptEntry(1.25, Direction.FROM_AGI, b"ANSWER\n").format() == "+0001.250 >> ANSWER"
    assert (
        TranscriptEntry(0.0, Direction.TO_AGI, b"200 result=1 (h\xc3\xa9)\n").format()
        == "+0000.000 << 200 result=1 (h\u00e9)"
    )
    assert TranscriptEntry(12.5, Direction.NOTE, b"SIGHUP received").format() == (
        "+0012.500 ## SIGHUP received"
    )
    assert TranscriptEntry(0.001, Direction.TO_AGI, b"\n").format() == "+0000.001 << "


@pytest.mark.parametrize(
    ("data", "shown"),
    [
        (b"200 result=1 (a\tb)\n", "200 result=1 (a\\tb)"),
        (b"200 result=1 (\xff\xfe)\n", "200 result=1 (\\xff\\xfe)"),
        (b"200 result=0\r\n", "200 result=0\\r"),
        (b"x\x00y\x7f\n", "x\\x00y\\x7f"),
        (b"no line feed", "no line feed"),
        # Line breaks to str.splitlines(), which would cut the transcript's line in two.
        ("a\u2028b\u0085c\n".encode(), "a\\u2028b\\x85c"),
    ],
)
def test_entries_that_are_not_plain_text_carry_their_exact_bytes(data: bytes, shown: str) -> None:
    line = TranscriptEntry(0.5, Direction.TO_AGI, data).format()
    assert line == f"+0000.500 << {shown}   [shown escaped: exact bytes = {data!r}]"
    assert len(line.splitlines()) == 1


def test_show_cuts_long_lines() -> None:
    assert show(b"x" * 10, limit=4) == "xxxx... (10 bytes)"


# ------------------------------------------------------------------------------ the recorder


def test_recorder_writes_a_header_and_timed_entries() -> None:
    stream, clock = io.StringIO(), Clock()
    recorder = recorder_on(stream, clock)
    clock.now += 1.25
    recorder.sent(b"ANSWER\n")
    clock.now += 0.25
    recorder.received(b"200 result=0\n")
    recorder.note("something happened")
    recorder.close()
    text = stream.getvalue()
    assert text.startswith("# agikit transcript: a test\n# format: ")
    assert entries(text) == [
        "+0001.250 >> ANSWER",
        "+0001.500 << 200 result=0",
        "+0001.500 ## something happened",
    ]
    assert not stream.closed  # a stream given by the caller stays open


def test_lines_are_put_back_together_across_chunks() -> None:
    stream = io.StringIO()
    recorder = recorder_on(stream)
    for chunk in (b"200 res", b"ult=0", b"\n200 result=1 (x)\n100 result=0 Trying", b"...\n"):
        recorder.received(chunk)
    recorder.received(b"200 result=0\n200 result=1\n\n")  # several lines in one chunk
    recorder.close()
    assert entries(stream.getvalue()) == [
        "+0000.000 << 200 result=0",
        "+0000.000 << 200 result=1 (x)",
        "+0000.000 << 100 result=0 Trying...",
        "+0000.000 << 200 result=0",
        "+0000.000 << 200 result=1",
        "+0000.000 << ",
    ]


def test_an_incomplete_line_is_written_at_close_with_its_exact_bytes() -> None:
    stream = io.StringIO()
    recorder = recorder_on(stream)
    recorder.received(b"200 result=0\n200 res")
    recorder.close("the end")
    recorder.received(b"ult=1\n")  # after close: nothing more
    recorder.note("too late")
    assert entries(stream.getvalue()) == [
        "+0000.000 << 200 result=0",
        "+0000.000 << 200 res   [shown escaped: exact bytes = b'200 res']",
        "+0000.000 ## the end",
    ]


def test_a_note_from_a_signal_handler_waits_for_the_next_entry_with_its_own_time() -> None:
    stream, clock = io.StringIO(), Clock()
    recorder = recorder_on(stream, clock)
    recorder.sent(b'STREAM FILE beep ""\n')
    clock.now += 1.0
    recorder.note_from_signal_handler("SIGHUP received")
    assert "SIGHUP" not in stream.getvalue()  # nothing written from the handler
    clock.now += 0.5
    recorder.received(b"200 result=-1 endpos=0\n")
    clock.now += 1.0
    recorder.note_from_signal_handler("SIGHUP received again")
    recorder.close()  # a note still deferred goes out at close
    assert entries(stream.getvalue()) == [
        '+0000.000 >> STREAM FILE beep ""',
        "+0001.000 ## SIGHUP received",
        "+0001.500 << 200 result=-1 endpos=0",
        "+0002.500 ## SIGHUP received again",
    ]


def test_entries_before_the_environment_wait_for_the_file() -> None:
    opened: list[Environment | None] = []
    stream = io.StringIO()

    def open_sink(env: Environment | None) -> io.StringIO:
        opened.append(env)
        return stream

    recorder = TranscriptRecorder(open_sink, "waiting")
    recorder.note("connection from somewhere")
    recorder.received(b"agi_request: x\n")
    assert opened == [] and stream.getvalue() == ""
    env = environment()
    recorder.environment_complete(env)
    assert opened == [env]
    recorder.sent(b"ANSWER\n")
    assert [line[10:] for line in entries(stream.getvalue())] == [
        "## connection from somewhere",
        "<< agi_request: x",
        ">> ANSWER",
    ]
    recorder.close()
    assert stream.closed  # the recorder opened it, the recorder closes it
    assert opened == [env]


# ------------------------------------------------------------------------------ the session


def test_recording_session_records_every_byte_in_and_out() -> None:
    stream = io.StringIO()
    session = RecordingSession(recorder_on(stream))
    session.receive_data(ENVIRONMENT[:30])
    session.receive_data(ENVIRONMENT[30:])
    session.send_command(b"GET VARIABLE X")
    assert session.receive_reply(b"200 result=1 (x)\n") is not None  # the fast path
    session.send_command(b"GOSUB s 1")
    session.receive_data(b"100 result=0 Trying...\n200 result=0 Gosub complete\n")
    session.hangup_signalled()
    session.hangup_signalled()  # noted once
    session.receive_data(b"HANGUP\n")
    session.receive_data(b"")
    session.recorder.close()
    assert [line[10:] for line in entries(stream.getvalue())] == [
        "<< agi_request: test.agi",
        "<< agi_channel: PJSIP/alice-00000001",
        "<< agi_uniqueid: 1700000000.42",
        "<< agi_version: 22.10.1",
        "<< ",
        ">> GET VARIABLE X",
        "<< 200 result=1 (x)",
        ">> GOSUB s 1",
        "<< 100 result=0 Trying...",
        "<< 200 result=0 Gosub complete",
        "## SIGHUP received",
        "<< HANGUP",
        "## EOF: the stream ended",
    ]


def test_a_reply_that_breaks_the_session_is_recorded() -> None:
    stream = io.StringIO()
    session = RecordingSession(recorder_on(stream))
    session.receive_data(ENVIRONMENT)
    session.send_command(b"ANSWER")
    with pytest.raises(ProtocolError):
        session.receive_reply(b"garbage\n")
    session.recorder.close()
    assert entries(stream.getvalue())[-1][10:] == "<< garbage"


# ------------------------------------------------------------------------------ the directory


def transcripts(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def test_one_file_per_call_named_after_its_uniqueid(tmp_path: Path) -> None:
    directory = TranscriptDirectory(tmp_path / "new" / "dir")  # created when needed
    session = directory.session("FastAGI")
    session.receive_data(ENVIRONMENT.replace(b"1700000000.42", b"17/../42 x"))
    session.send_command(b"ANSWER")
    (name,) = transcripts(tmp_path / "new" / "dir")
    assert name.endswith("Z-17_.._42_x.transcript.txt")  # no path out of the directory
    path = tmp_path / "new" / "dir" / name
    assert path.read_text().splitlines()[-1].endswith(">> ANSWER")  # line-buffered: there now
    session.recorder.close("done")
    assert path.read_text().splitlines()[-1].endswith("## done")


def test_a_session_ending_before_its_environment_leaves_no_file(tmp_path: Path) -> None:
    session = TranscriptDirectory(tmp_path).session("FastAGI")
    session.receive_data(b"agi_network: yes\n")
    with pytest.raises(ConnectionClosed):
        session.receive_data(b"")
    session.recorder.close()
    assert transcripts(tmp_path) == []


def test_names_that_collide_get_a_suffix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transcript.time, "time", lambda: 1700000000.123)
    sessions = [TranscriptDirectory(tmp_path).session("FastAGI") for _ in range(3)]
    for number, session in enumerate(sessions):
        session.receive_data(ENVIRONMENT)
        session.send_command(f"VERBOSE {number}".encode())
        session.recorder.close()
    base = "20231114T221320.123Z-1700000000.42"
    assert transcripts(tmp_path) == [
        f"{base}-2.transcript.txt",
        f"{base}-3.transcript.txt",
        f"{base}.transcript.txt",
    ]
    for suffix, number in (("", 0), ("-2", 1), ("-3", 2)):
        text = (tmp_path / f"{base}{suffix}.transcript.txt").read_text()
        assert entries(text)[-1].endswith(f">> VERBOSE {number}")


def test_text_that_is_not_utf8_is_written_escaped(tmp_path: Path) -> None:
    # An AMI channel name or a script name decoded with surrogateescape.
    recorder = TranscriptDirectory(tmp_path).recorder("Async AGI Local/caf\udce9@x;2")
    recorder.environment_complete(environment())
    recorder.note("note \udcff")
    recorder.close()
    (name,) = transcripts(tmp_path)
    text = (tmp_path / name).read_text("utf-8")
    assert "# agikit transcript: Async AGI Local/caf\\udce9@x;2" in text
    assert "## note \\udcff" in text


# ------------------------------------------------------------------------------ failures


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "agikit.transcript"]


def test_an_unwritable_directory_is_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "file").write_text("")
    caplog.set_level(logging.WARNING, "agikit.transcript")
    session = TranscriptDirectory(tmp_path / "file" / "sub").session("FastAGI")
    session.receive_data(ENVIRONMENT)
    session.send_command(b"ANSWER")
    session.receive_data(b"200 result=0\n")
    session.recorder.close("done")
    (warning,) = warnings_of(caplog)
    assert warning.startswith("transcript not recorded: ")
    assert session.environment is not None and session.state is State.IDLE


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_is_one_warning_and_recording_stops(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "agikit.transcript")
    full = open("/dev/full", "w", buffering=1)  # noqa: SIM115 - closed below
    recorder = TranscriptRecorder(full, "full")
    for _ in range(3):
        recorder.sent(b"ANSWER\n")
        recorder.received(b"200 result=0\n")
    recorder.close("done")
    (warning,) = warnings_of(caplog)
    assert "No space left on device" in warning
    assert not full.closed  # not the recorder's to close
    with contextlib.suppress(OSError):
        full.close()


def test_a_file_that_fails_when_opened_later_is_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "agikit.transcript")

    def refuse(env: Environment | None) -> io.StringIO:
        raise PermissionError(13, "Permission denied", "/var/agi")

    recorder = TranscriptRecorder(refuse, "refused")
    recorder.received(b"agi_request: x\n")
    recorder.environment_complete(environment())
    recorder.sent(b"ANSWER\n")
    recorder.close("done")
    assert warnings_of(caplog) == [
        "transcript not recorded: [Errno 13] Permission denied: '/var/agi'"
    ]


# ------------------------------------------------------------------------------ read back

_line = st.one_of(
    st.binary(max_size=60),
    st.text(max_size=30).map(lambda text: text.encode("utf-8", "surrogatepass")),
).map(lambda data: data.replace(b"\n", b""))
_exchange = st.tuples(
    _line.filter(lambda data: data != b"HANGUP"),
    st.lists(_line.filter(lambda data: data != b"HANGUP"), min_size=1, max_size=3),
    st.integers(0, 80),
)


@given(st.lists(_exchange, max_size=6))
@example([(b"GET VARIABLE X", [b"200 result=1 (a [shown escaped: exact bytes = b'x'])"], 9)])
@example([(b"NOOP", ["200 result=1 (\u2028\x85\x1c)".encode(), b"  x  ", b""], 3)])
@example([(b"[shown escaped: exact bytes = b'\\n']\xff", [b"\xff   [shown escaped"], 0)])
@settings(max_examples=300, deadline=None)
def test_replies_read_back_are_the_bytes_recorded(
    exchanges: list[tuple[bytes, list[bytes], int]],
) -> None:
    stream = io.StringIO()
    session = RecordingSession(TranscriptRecorder(stream, "property"))
    session.receive_data(ENVIRONMENT)
    recorder = session.recorder
    for command, reply, cut in exchanges:
        recorder.sent(command + b"\n")
        data = b"".join(line + b"\n" for line in reply)
        recorder.received(data[:cut])  # the reply in two chunks, cut anywhere
        recorder.received(data[cut:])
    recorder.close("done")
    recording = parse_transcript(stream.getvalue())
    assert recording.env["agi_uniqueid"] == "1700000000.42"
    assert all(isinstance(step, Expect) for step in recording.steps)
    assert [(s.command, list(s.reply)) for s in recording.steps] == [  # type: ignore[union-attr]
        (command, reply) for command, reply, _ in exchanges
    ]


def test_hangups_read_back() -> None:
    stream = io.StringIO()
    session = RecordingSession(TranscriptRecorder(stream, "hangups"))
    session.receive_data(ENVIRONMENT)
    session.send_command(b'STREAM FILE beep ""')
    session.hangup_signalled()
    session.receive_data(b"200 result=-1 endpos=0\n")
    session.send_command(b"VERBOSE x 1")
    session.receive_data(b"200 result=1\n")
    session.recorder.note("hangup: the channel hung up")
    session.recorder.close()
    steps = parse_transcript(stream.getvalue()).steps
    assert [type(step) for step in steps] == [Expect, Expect, Hangup]
    first = steps[0]
    assert isinstance(first, Expect) and first.hangup_before_reply


def test_environment_values_that_are_not_plain_text_read_back_exactly() -> None:
    stream = io.StringIO()
    session = RecordingSession(TranscriptRecorder(stream, "latin-1"))
    session.receive_data(
        ENVIRONMENT.replace(b"agi_version", b"agi_calleridname: Jos\xe9\tR\nagi_version")
    )
    session.recorder.close()
    assert "<< agi_calleridname: Jos\\xe9\\tR   [shown escaped: " in stream.getvalue()
    recording = parse_transcript(stream.getvalue())
    assert recording.env["agi_calleridname"] == "Jos\udce9\tR"  # surrogateescape: the bytes
    assert recording.env["agi_version"] == "22.10.1"


def test_the_end_of_the_stream_comes_after_what_was_left_of_a_line() -> None:
    stream = io.StringIO()
    session = RecordingSession(recorder_on(stream))
    session.receive_data(ENVIRONMENT)
    session.send_command(b"ANSWER")
    session.receive_data(b"200 res")
    with pytest.raises(ConnectionClosed):
        session.receive_data(b"")
    session.recorder.close("closed")
    assert [line[10:] for line in entries(stream.getvalue())][-3:] == [
        "<< 200 res   [shown escaped: exact bytes = b'200 res']",
        "## EOF: the stream ended",
        "## closed",
    ]
