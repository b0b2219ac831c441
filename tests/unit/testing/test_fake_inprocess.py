"""The fake Asterisk over in-process pipes, driven by a raw line client."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from agikit.testing.fake import (
    DEAD_CHANNEL,
    NO_REPLY,
    Direction,
    FakeAsterisk,
    InProcessSession,
    Raw,
    Result,
    ScriptMismatch,
    close_stream,
    end_session,
    expect,
    expect_any,
    expect_rest,
    hangup,
    pause,
    send_raw,
    usage_reply,
)

from ._raw import RawClient

DEAD = DEAD_CHANNEL.encode()


def client(agi: InProcessSession) -> RawClient:
    raw = RawClient.over_pipes(agi.stdin, agi.stdout)
    raw.read_env()
    return raw


def test_happy_path_and_result() -> None:
    fake = FakeAsterisk(
        [
            expect("ANSWER"),
            expect('STREAM FILE hello-world ""', reply="200 result=0 endpos=8000"),
            expect("GET VARIABLE FOO", reply="200 result=1 (bar)"),
        ],
        args=["first arg", "second"],
        env={"callerid": "5551234"},
    )
    with fake.in_process(request="ivr.py") as agi:
        raw = client(agi)
        assert raw.env["agi_request"] == "ivr.py"
        assert raw.env["agi_callerid"] == "5551234"
        assert raw.env["agi_arg_1"] == "first arg"
        assert raw.command("ANSWER") == [b"200 result=0"]
        assert raw.command(b'STREAM FILE hello-world ""') == [b"200 result=0 endpos=8000"]
        assert raw.command("get variable FOO") == [b"200 result=1 (bar)"]
    result = agi.result
    assert result.assert_ok() is result
    assert result.ok and result.completed and result.steps_run == 3
    assert result.commands == ["ANSWER", 'STREAM FILE hello-world ""', "get variable FOO"]
    assert result.agi_status == "SUCCESS" and not result.hung_up
    assert result.environment is not None and result.environment.request == "ivr.py"
    received = [e for e in result.transcript if e.direction is Direction.FROM_AGI]
    assert [e.step for e in received] == [1, 2, 3]
    assert received[0].data == b"ANSWER\n"
    assert result.notes[-1] == "EOF from the AGI"
    times = [e.time for e in result.transcript]
    assert times == sorted(times)
    text = result.format_transcript()
    assert "+0000.0" in text and " >> ANSWER\n" in text and " << agi_request: ivr.py\n" in text
    assert "followed the script" in result.report()


def test_environment_is_written_line_by_line() -> None:
    with FakeAsterisk().in_process() as agi:
        client(agi)
    entries = agi.result.transcript
    env_entries = [e for e in entries if e.direction is Direction.TO_AGI]
    assert len(env_entries) == 21  # 20 lines and the empty line
    assert all(e.data.endswith(b"\n") and e.data.count(b"\n") == 1 for e in env_entries)


def test_mismatch_reports_step_expected_and_received() -> None:
    fake = FakeAsterisk(
        [expect("ANSWER"), expect('STREAM FILE hello-world ""'), expect("HANGUP")],
        timeout=2,
    )
    with fake.in_process() as agi:
        raw = client(agi)
        raw.command("ANSWER")
        assert raw.command('STREAM FILE hello_world ""') == []  # the fake closes the stream
    result = agi.result
    assert not result.ok and result.steps_run == 1 and not result.completed
    failure = result.failures[0]
    assert failure.step == 2
    assert failure.expected == 'STREAM FILE hello-world ""'
    assert failure.received == b'STREAM FILE hello_world ""'
    assert "word 3 (argument): expected 'hello-world', received 'hello_world'" in failure.detail
    assert "1 step(s) did not run: 3 (expect 'HANGUP')" in str(result.failures[1])
    with pytest.raises(ScriptMismatch) as caught:
        result.assert_ok()
    message = str(caught.value)
    assert isinstance(caught.value, AssertionError) and caught.value.result is result
    assert "in-process AGI: the AGI did not follow the script (1 of 3 steps ran)" in message
    assert "step 2: the AGI sent a different command" in message
    assert '  expected: STREAM FILE hello-world ""' in message
    assert '  received: STREAM FILE hello_world ""' in message
    assert "[environment block: 20 lines and the empty line]" in message
    assert '>> STREAM FILE hello_world ""' in message


def test_timeout_waiting_for_a_command() -> None:
    fake = FakeAsterisk([expect("ANSWER", timeout=0.2)])
    start = time.monotonic()
    with fake.in_process() as agi:
        raw = client(agi)
        assert raw.readline() == b""  # the fake gave up and closed
    assert time.monotonic() - start < 3
    failure = agi.result.failures[0]
    assert failure.step == 1
    assert failure.message == "nothing received within 0.2 s (expect 'ANSWER')"


def test_agi_closing_early() -> None:
    fake = FakeAsterisk([expect("ANSWER"), expect("NOOP")])
    with fake.in_process() as agi:
        raw = client(agi)
        raw.command("ANSWER")
        raw.send(b"NOO")  # half a line, then EOF
        agi.stdout.close()
    failure = agi.result.failures[0]
    assert failure.step == 2
    assert failure.message == "the AGI sent an incomplete line (no LF) and closed the stream"
    assert failure.received == b"NOO"


def test_extra_commands_after_the_script_are_failures_but_answered() -> None:
    fake = FakeAsterisk([expect("ANSWER")])
    with fake.in_process() as agi:
        raw = client(agi)
        raw.command("ANSWER")
        assert raw.command("NOOP") == [b"200 result=0"]
        assert raw.command("FOO") == [b"510 Invalid or unknown command"]
    result = agi.result
    assert result.completed and not result.ok
    (failure,) = result.failures
    assert failure.step is None
    assert failure.message == "the AGI sent 2 command line(s) after the script ended"
    assert failure.received == b"NOOP"


def test_agi_that_never_closes() -> None:
    fake = FakeAsterisk([expect("ANSWER")], timeout=0.3)
    with fake.in_process() as agi:
        raw = client(agi)
        raw.command("ANSWER")
        assert raw.readline() == b""  # the fake ended the session itself
    assert "did not close the stream within 0.3 s" in agi.result.failures[0].message


def test_default_replies() -> None:
    fake = FakeAsterisk(
        [
            expect("ANSWER"),
            expect("GET DATA beep 5000 4"),
            expect("GOSUB sub s 1"),
            expect("FOO BAR"),
            expect_any(),
        ]
    )
    with fake.in_process() as agi:
        raw = client(agi)
        assert raw.command("ANSWER") == [b"200 result=0"]
        assert raw.command("GET DATA beep 5000 4") == [b"200 result= (timeout)"]
        assert raw.command("GOSUB sub s 1") == [
            b"100 result=0 Trying...",
            b"200 result=0 Gosub complete",
        ]
        assert raw.command("FOO BAR") == [b"510 Invalid or unknown command"]
        assert raw.command("WAIT FOR DIGIT 100") == [b"200 result=0"]
    agi.result.assert_ok()


def test_special_replies() -> None:
    usage = usage_reply("Send the given file.\n  <literal>0</literal>")
    fake = FakeAsterisk(
        [
            expect("STREAM FILE", reply=usage),
            expect("GET VARIABLE X", reply=b"200 result=1 (caf\xe9 \xff)"),
            expect("GOSUB a b 1", reply="100 result=0 Trying...\n200 result=0 Gosub complete"),
            expect('STREAM FILE a ""', reply=NO_REPLY),
            expect("WAIT FOR DIGIT 1", reply=Raw(b"200 result=1\n200 result=2\n")),
        ]
    )
    with fake.in_process() as agi:
        raw = client(agi)
        assert raw.command("STREAM FILE") == list(usage)
        assert raw.command("GET VARIABLE X") == [b"200 result=1 (caf\xe9 \xff)"]
        assert raw.command("GOSUB a b 1")[0] == b"100 result=0 Trying..."
        raw.send(b'STREAM FILE a ""\n')  # no reply to this one
        assert raw.command("WAIT FOR DIGIT 1") == [b"200 result=1"]
        assert raw.reply() == [b"200 result=2"]
    agi.result.assert_ok()


def test_truncated_reply_then_close() -> None:
    fake = FakeAsterisk([expect("ANSWER", reply=Raw(b"200 res")), close_stream()])
    with fake.in_process() as agi:
        raw = client(agi)
        raw.send(b"ANSWER\n")
        assert agi.stdin.read() == b"200 res"
    result = agi.result
    result.assert_ok()
    assert result.notes[-1] == "Asterisk closes the stream"


def test_garbage_between_commands_and_hangup_twice() -> None:
    fake = FakeAsterisk(
        [
            expect("ANSWER"),
            send_raw(b"\xff\xfegarbage\n"),
            send_raw(b"HANGUP\nHANGUP\n"),
            expect("NOOP"),
        ]
    )
    with fake.in_process() as agi:
        raw = client(agi)
        raw.command("ANSWER")
        assert raw.readline() == b"\xff\xfegarbage\n"
        assert raw.command("NOOP") == [b"200 result=0"]
        assert raw.hangups == 2
    agi.result.assert_ok()


def test_one_mebibyte_line() -> None:
    big = b"200 result=1 (" + b"x" * 2**20 + b")"
    fake = FakeAsterisk([expect("GET VARIABLE BIG", reply=big)])
    with fake.in_process() as agi:
        raw = client(agi)
        assert raw.command("GET VARIABLE BIG") == [big]
    agi.result.assert_ok()
    assert "[shown escaped and cut" in agi.result.report()


def test_reply_the_agi_never_reads_times_out() -> None:
    big = b"x" * (4 * 2**20)
    fake = FakeAsterisk([send_raw(big)], timeout=0.3)
    with fake.in_process() as agi:
        client(agi)
        time.sleep(0.6)  # not reading
    assert "did not read what Asterisk sent within 0.3 s" in agi.result.failures[0].message


def test_long_command_lines_are_split_like_asterisk() -> None:
    long = b"NOOP " + b"a" * 9000
    fake = FakeAsterisk([expect_any(), expect_any()])
    with fake.in_process() as agi:
        raw = client(agi)
        raw.send(long + b"\n")
        assert raw.reply() == [b"200 result=0"]
        assert raw.reply() == [b"510 Invalid or unknown command"]
    result = agi.result
    result.assert_ok()
    assert [len(line) for line in result.raw_commands] == [8191, 9005 - 8191]
    assert any("line longer than 8190 bytes" in note for note in result.notes)


def test_older_versions_have_a_2k_line() -> None:
    fake = FakeAsterisk([expect_any(), expect_any()], env={"version": "18.20.0"})
    with fake.in_process() as agi:
        raw = client(agi)
        raw.send(b"NOOP " + b"a" * 3000 + b"\n")
        raw.reply()
        raw.reply()
    assert len(agi.result.raw_commands[0]) == 2047


def test_failure_line_ends_the_session() -> None:
    fake = FakeAsterisk([expect("ANSWER"), expect("failure"), expect("NOOP")])
    with fake.in_process() as agi:
        raw = client(agi)
        raw.command("ANSWER")
        raw.send(b"failure\n")
        assert raw.readline() == b""
    result = agi.result
    assert result.agi_status == "FAILURE"
    assert result.steps_run == 2
    assert "1 step(s) did not run: 3 (expect 'NOOP')" in result.failures[0].message


def test_unexpected_failure_line() -> None:
    fake = FakeAsterisk([expect("ANSWER")])
    with fake.in_process() as agi:
        raw = client(agi)
        raw.send(b"FAILURE: oops\n")
        assert raw.readline() == b""
    failure = agi.result.failures[0]
    assert failure.message == "the AGI sent a 'failure' line, which ends the session"
    assert agi.result.agi_status == "FAILURE"


class TestHangup:
    def test_between_commands_then_dead_channel(self) -> None:
        calls: list[float] = []
        fake = FakeAsterisk(
            [
                expect("ANSWER"),
                hangup(),
                expect('STREAM FILE beep ""'),
                expect("GET VARIABLE DIALSTATUS", reply="200 result=1 (ANSWER)"),
                expect("SET VARIABLE X 1"),
                expect("ANSWER", reply="200 result=-1"),  # an explicit reply wins
                expect("BOGUS"),
            ]
        )
        with fake.in_process(on_sighup=lambda: calls.append(time.monotonic())) as agi:
            raw = client(agi)
            raw.command("ANSWER")
            assert raw.command('STREAM FILE beep ""') == [DEAD]
            assert raw.command("GET VARIABLE DIALSTATUS") == [b"200 result=1 (ANSWER)"]
            assert raw.command("SET VARIABLE X 1") == [b"200 result=1"]
            assert raw.command("ANSWER") == [b"200 result=-1"]
            assert raw.command("BOGUS") == [b"510 Invalid or unknown command"]
        result = agi.result
        result.assert_ok()
        assert len(calls) == 1
        assert result.hung_up and result.agi_status == "HANGUP"
        assert "SIGHUP delivered to on_sighup" in result.notes

    def test_before_the_reply(self) -> None:
        fake = FakeAsterisk(
            [
                expect("WAIT FOR DIGIT 500", reply="200 result=-1"),
                expect("WAIT FOR DIGIT 500", hangup_before_reply=True),
            ]
        )
        with fake.in_process() as agi:
            raw = client(agi)
            raw.command("WAIT FOR DIGIT 500")
            assert raw.command("WAIT FOR DIGIT 500") == [DEAD]
        agi.result.assert_ok()
        sent = [e for e in agi.result.transcript if e.direction is not Direction.FROM_AGI]
        assert sent[-3].text == "SIGHUP not delivered: in-process AGI without on_sighup"
        assert sent[-2].data == DEAD + b"\n"

    def test_agisighup_no(self) -> None:
        called: list[int] = []
        fake = FakeAsterisk([hangup(), expect("ANSWER")], agisighup=False)
        with fake.in_process(on_sighup=lambda: called.append(1)) as agi:
            raw = client(agi)
            assert raw.command("ANSWER") == [DEAD]
        assert not called
        assert "hangup noticed; AGISIGHUP=no: no notification" in agi.result.notes
        agi.result.assert_ok()

    def test_exit_on_hangup_closes_the_stream(self) -> None:
        called: list[int] = []
        fake = FakeAsterisk([expect("ANSWER"), hangup(), expect("NOOP")], exit_on_hangup=True)
        with fake.in_process(on_sighup=lambda: called.append(1)) as agi:
            raw = client(agi)
            raw.command("ANSWER")
            assert raw.readline() == b""
        result = agi.result
        assert len(called) == 2  # the hangup, then the end of the session
        assert result.steps_run == 2 and result.agi_status == "HANGUP"
        assert "1 step(s) did not run: 3 (expect 'NOOP')" in result.failures[0].message

    def test_second_hangup_sends_nothing(self) -> None:
        called: list[int] = []
        fake = FakeAsterisk([hangup(), hangup()])
        with fake.in_process(on_sighup=lambda: called.append(1)) as agi:
            client(agi)
        assert called == [1]
        assert "hangup: the channel is already hung up, no new notification" in agi.result.notes

    def test_own_hangup_command_is_noticed(self) -> None:
        called: list[int] = []
        fake = FakeAsterisk(
            [
                expect("HANGUP PJSIP/bob-00000002"),  # another channel: still alive
                expect("ANSWER"),
                expect("HANGUP"),
                expect("ANSWER"),
            ]
        )
        with fake.in_process(on_sighup=lambda: called.append(1)) as agi:
            raw = client(agi)
            raw.command("HANGUP PJSIP/bob-00000002")
            assert raw.command("ANSWER") == [b"200 result=0"]
            assert raw.command("HANGUP") == [b"200 result=1"]
            assert raw.command("ANSWER") == [DEAD]
        agi.result.assert_ok()
        assert called == [1] and agi.result.hung_up

    def test_dead_from_the_start(self) -> None:
        called: list[int] = []
        fake = FakeAsterisk([expect("ANSWER"), expect("NOOP"), hangup()], dead=True)
        with fake.in_process(on_sighup=lambda: called.append(1)) as agi:
            raw = client(agi)
            assert raw.command("ANSWER") == [DEAD]
            assert raw.command("NOOP") == [b"200 result=0"]
        result = agi.result
        result.assert_ok()
        assert not called and not result.hung_up and result.agi_status == "SUCCESS"

    def test_hangup_while_idle_with_delay(self) -> None:
        fake = FakeAsterisk([expect("ANSWER"), hangup(delay=0.2), expect("NOOP")])
        with fake.in_process() as agi:
            raw = client(agi)
            raw.command("ANSWER")
            start = time.monotonic()
            raw.command("NOOP")
            assert time.monotonic() - start >= 0.15
        agi.result.assert_ok()


def test_end_session_after_failure_style() -> None:
    called: list[int] = []
    fake = FakeAsterisk([expect("ANSWER"), end_session()])
    with fake.in_process(on_sighup=lambda: called.append(1)) as agi:
        raw = client(agi)
        raw.command("ANSWER")
        assert raw.readline() == b""
    agi.result.assert_ok()
    assert called == [1]


def test_expect_rest() -> None:
    fake = FakeAsterisk([expect("ANSWER"), hangup(), expect_rest()])
    with fake.in_process() as agi:
        raw = client(agi)
        raw.command("ANSWER")
        assert raw.command('STREAM FILE x ""') == [DEAD]
        assert raw.command("VERBOSE bye") == [b"200 result=1"]
    agi.result.assert_ok()


def test_expect_rest_times_out() -> None:
    fake = FakeAsterisk([expect_rest(timeout=0.2)])
    with fake.in_process() as agi:
        client(agi)
        time.sleep(0.5)
    assert "did not close the stream within 0.2 s" in agi.result.failures[0].message


def test_delay_and_pause() -> None:
    fake = FakeAsterisk([expect("ANSWER", delay=0.2), pause(0.2), send_raw("X\n")])
    with fake.in_process() as agi:
        raw = client(agi)
        start = time.monotonic()
        raw.command("ANSWER")
        assert raw.readline() == b"X\n"
        assert time.monotonic() - start >= 0.35
    agi.result.assert_ok()


def test_wait_timeout_aborts() -> None:
    fake = FakeAsterisk([expect("ANSWER")], timeout=30)
    agi = fake.in_process()
    client(agi)
    start = time.monotonic()
    result = agi.wait(0.2)
    assert time.monotonic() - start < 5
    assert result.failures[0].message == "aborted: wait() timed out after 0.2 s"
    assert agi.stdin.read() == b""  # the fake closed its end
    agi.close()


def test_result_before_the_end() -> None:
    agi = FakeAsterisk([expect("ANSWER")]).in_process()
    with pytest.raises(RuntimeError, match="still running"):
        agi.result  # noqa: B018
    agi.abort()
    assert not agi.wait().ok
    agi.close()


def test_wait_async() -> None:
    fake = FakeAsterisk([expect("ANSWER")])
    agi = fake.in_process()

    async def main() -> Result:
        waiter = asyncio.ensure_future(agi.wait_async(5))
        raw = await asyncio.to_thread(client, agi)
        await asyncio.to_thread(raw.command, "ANSWER")
        agi.close()
        return await waiter

    assert asyncio.run(main()).ok


def test_in_process_eagi_audio() -> None:
    audio = bytes(range(256)) * 10
    fake = FakeAsterisk([expect("ANSWER")])
    with fake.in_process(eagi_audio=audio, eagi_frame_size=100) as agi:
        raw = client(agi)
        assert raw.env["agi_enhanced"] == "1.0"
        assert agi.audio is not None
        got = b""
        while len(got) < len(audio):
            got += agi.audio.read1(65536)
        assert got == audio
        raw.command("ANSWER")
        agi.stdout.close()
        assert agi.audio.read() == b""  # closed at the end of the session
    assert agi.result.audio_bytes_written == len(audio)


def test_reuse_runs_the_script_afresh() -> None:
    fake = FakeAsterisk([expect("ANSWER")])
    for _ in range(2):
        with fake.in_process() as agi:
            client(agi).command("ANSWER")
        agi.result.assert_ok()


def test_fds_are_not_leaked() -> None:
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        with FakeAsterisk([expect("ANSWER")], timeout=1).in_process(eagi_audio=b"x") as agi:
            client(agi).command("ANSWER")
    assert len(os.listdir("/proc/self/fd")) <= before + 1
