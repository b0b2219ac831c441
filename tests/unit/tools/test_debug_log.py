"""Asterisk's AGI debug log (``agi set debug on``) read as transcripts, one call at a time.

``data/`` holds excerpts of the logs of the real Asterisk 22 the project tests against.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agikit.testing._fake_replay import parse_transcript
from agikit.testing._fake_script import Expect, Hangup
from agikit.testing.debug_log import (
    DebugLogError,
    is_debug_log,
    read_debug_log,
    select_call,
)
from agikit.testing.fake import FakeAsterisk

from ._support import DATA

FASTAGI = DATA / "fastagi-debug.log"
PROCAGI = DATA / "procagi-hupbusy-debug.log"
ASYNCAGI = DATA / "asyncagi-debug.log"
BASIC = "Local/basic@fastagi-00000000;2"
HUPBUSY = "Local/hupbusy@fastagi-00000001;2"


def test_the_sessions_of_a_log() -> None:
    calls = read_debug_log(FASTAGI)
    assert [call.channel for call in calls] == [BASIC, HUPBUSY]
    basic = calls[0]
    assert basic.network and not basic.async_agi
    assert basic.request == "agi://127.0.0.1:4573/basic?origin=dialplan&n=1"
    assert basic.uniqueid == "1795794709.1"
    assert basic.completed and basic.returned == 4
    assert len(basic.commands) == 17 and basic.commands[0] == "ANSWER"
    assert "17 commands" in basic.describe() and BASIC in basic.describe()
    assert BASIC in repr(basic)


def test_fastagis_first_lines_are_logged_without_the_channel() -> None:
    environment = read_debug_log(FASTAGI)[0].environment
    assert list(environment)[:3] == ["agi_network", "agi_network_script", "agi_request"]
    assert environment["agi_network_script"] == "basic?origin=dialplan&n=1"
    assert environment["agi_accountcode"] == ""  # the trailing space of an empty value


def test_a_multi_line_write_keeps_its_lines() -> None:
    basic = read_debug_log(FASTAGI)[0]
    usage = next(line for line in basic.lines if line.text.startswith("Send the given file"))
    assert usage.sent and usage.text.count("\n") == 4
    assert usage.text.endswith("    <value>FAILED</value>")


def test_what_asterisk_sends_after_the_agi_ended_is_left_out() -> None:
    basic = read_debug_log(FASTAGI)[0]
    assert [line.text for line in basic.lines[-3:]] == [
        "HANGUP",
        "GET VARIABLE HARNESS_VAR",
        "200 result=1 (hello-from-dialplan)",
    ]
    transcript = basic.to_transcript()
    assert transcript.rstrip().endswith("## EOF from the AGI (Asterisk: AGI Script completed)")


def test_a_log_call_becomes_a_script() -> None:
    recording = parse_transcript(read_debug_log(FASTAGI)[0].to_transcript())
    assert recording.network and recording.args == ["first arg", "second"]
    assert recording.env["agi_callerid"] == "1000"
    expects = [step for step in recording.steps if isinstance(step, Expect)]
    assert len(expects) == 17
    assert expects[0].command == b"ANSWER" and expects[0].reply == (b"200 result=0",)
    usage = next(step for step in expects if step.command == b"STREAM FILE")
    assert isinstance(usage.reply, tuple) and len(usage.reply) == 7  # 520: 2 + 5 usage lines
    assert any(isinstance(step, Hangup) for step in recording.steps)


def test_a_process_agis_sighup_is_inferred_from_the_first_511() -> None:
    (call,) = read_debug_log(PROCAGI)
    assert not call.network and call.request == "hupbusy.py"
    transcript = call.to_transcript().splitlines()
    note = transcript.index("+0002.034 ## SIGHUP received (inferred: not in Asterisk's log)")
    assert transcript[note - 1].endswith(">> WAIT FOR DIGIT 500")
    assert "511 Command Not Permitted" in transcript[note + 1]
    steps = parse_transcript(call.to_transcript()).steps
    assert sum(1 for step in steps if isinstance(step, Expect) and step.hangup_before_reply) == 1


def test_choosing_a_call() -> None:
    calls = read_debug_log(FASTAGI)
    assert select_call(calls, BASIC) is calls[0]
    assert select_call(calls, "1795794720.3") is calls[1]  # the unique ID
    assert select_call(calls, "hupbusy") is calls[1]  # part of the name
    assert select_call(calls, "hupbusy#1") is calls[1]
    assert select_call(calls[:1]) is calls[0]  # the only one
    with pytest.raises(DebugLogError, match="holds 2 AGI sessions") as listing:
        select_call(calls)
    assert BASIC in str(listing.value) and HUPBUSY in str(listing.value)
    with pytest.raises(DebugLogError, match="matches 2 AGI sessions"):
        select_call(calls, "fastagi")
    with pytest.raises(DebugLogError, match="no AGI session of 'PJSIP/nobody'"):
        select_call(calls, "PJSIP/nobody")
    with pytest.raises(DebugLogError, match="not #3"):
        select_call(calls, "hupbusy#3")
    with pytest.raises(DebugLogError, match="agi set debug on"):
        select_call([])


def test_a_channel_running_agi_twice_gives_two_sessions() -> None:
    text = FASTAGI.read_text()
    basic = "".join(line for line in text.splitlines(keepends=True) if "C-00000001" in line)
    calls = read_debug_log(basic.replace("completed, returning 4", "x") * 2)
    assert [call.channel for call in calls] == [BASIC, BASIC]
    assert select_call(calls, f"{BASIC}#2") is calls[1]


def test_a_console_capture_without_timestamps() -> None:
    console = "\n".join(
        [
            '    -- Executing [600@default:1] AGI("PJSIP/alice-00000001", "ivr.py")',
            "<PJSIP/alice-00000001>AGI Tx >> agi_request: ivr.py",
            "<PJSIP/alice-00000001>AGI Tx >> agi_channel: PJSIP/alice-00000001",
            "<PJSIP/alice-00000001>AGI Tx >> ",
            "<PJSIP/alice-00000001>AGI Rx << STREAM FILE",
            "<PJSIP/alice-00000001>AGI Tx >> 520-Invalid command syntax.  Proper usage follows:",
            "<PJSIP/alice-00000001>AGI Tx >> Send the given file.",
            "  More usage.",
            "<PJSIP/alice-00000001>AGI Tx >> 520 End of proper usage.",
            "  == Spawn extension (default, 600, 1) exited non-zero",
        ]
    )
    assert is_debug_log(console)
    (call,) = read_debug_log(console)
    assert call.commands == ["STREAM FILE"]
    assert call.lines[-2].text == "Send the given file.\n  More usage."
    assert call.lines[0].time is None and "+0000.000 >> STREAM FILE" in call.to_transcript()


def test_async_agi_cannot_be_replayed() -> None:
    calls = read_debug_log(ASYNCAGI)
    assert calls and calls[0].async_agi and "Async AGI" in calls[0].describe()
    with pytest.raises(ValueError, match="Async AGI session"):
        FakeAsterisk.from_transcript(ASYNCAGI, channel="async@asyncagi")


def test_the_fake_reads_a_log_directly(tmp_path: Path) -> None:
    fake = FakeAsterisk.from_transcript(FASTAGI, channel="basic")
    assert fake.recorded_request == "agi://127.0.0.1:4573/basic?origin=dialplan&n=1"
    assert fake.args == ("first arg", "second")
    assert fake.env["agi_uniqueid"] == "1795794709.1"
    assert "agi_network" not in fake.env  # the transport's to send
    with pytest.raises(DebugLogError):
        FakeAsterisk.from_transcript(FASTAGI)  # two calls: which one?
    transcript = tmp_path / "t.txt"
    transcript.write_text(read_debug_log(FASTAGI)[0].to_transcript())
    assert FakeAsterisk.from_transcript(transcript).script == fake.script
    with pytest.raises(ValueError, match="channel= picks a call"):
        FakeAsterisk.from_transcript(transcript, channel="basic")
