"""Process AGI on a real Asterisk 22: agikit scripts run by AGI() inside the harness."""

from __future__ import annotations

import pytest

from agikit.testing.asterisk import Asterisk, FarEnd
from agikit.testing.asterisk.pytest_plugin import ScriptWriter

from .agiscript import run_script

HOSTILE_VALUES = [
    "",
    " ",
    "plain",
    "two words",
    '"quoted"',
    'say "hi" \\o/',
    "back\\slash",
    "\\",
    '\\"',
    "trailing backslash\\",
    "$dollar ${NOT_EXPANDED} $[1+1]",
    "comma,separated,values",
    "pipe|and;semicolon",
    "(parentheses) ) ((",
    ")",
    "tab\there",
    "'single' `back`",
    "ünïcødé € 日本語 🎉",
    "  leading and trailing  ",
    "x" * 1000,
]


def test_sync_handler_basic(asterisk: Asterisk, agi_script: ScriptWriter) -> None:
    run = run_script(
        asterisk,
        agi_script,
        """
        def main(call):
            record("request", call.env.request)
            record("args", list(call.env.args))
            call.answer()
            record("channel", call.get_variable("CHANNEL"))
            call.set_variable("FROM_SCRIPT", "set by agikit")
            played = call.stream_file("beep")
            record("endpos", played.endpos)
            record("digit", played.digit)
            call.verbose("hello from agikit", 1)

        agikit.run(main)
        """,
        args=["first arg", ""],
        report=["FROM_SCRIPT"],
    )
    assert run.call.agi_status == "SUCCESS", run.call.log_text()
    assert run.recorded["args"] == ["first arg", ""]
    assert run.recorded["channel"] == run.call.channel
    assert run.recorded["digit"] is None
    assert run.recorded["endpos"] > 0
    assert run.call.variables["FROM_SCRIPT"] == "set by agikit"


def test_async_handler_without_event_loop_and_with_one(
    asterisk: Asterisk, agi_script: ScriptWriter
) -> None:
    run = run_script(
        asterisk,
        agi_script,
        """
        import sys

        async def main(call):
            await call.answer()
            record("asyncio_loaded_before_sleep", "asyncio" in sys.modules)
            import asyncio
            await asyncio.sleep(0.01)  # moves the session onto an event loop
            record("value", await call.get_variable("AGIKIT_CALL_ID"))
            await call.set_variable("AFTER_LOOP", "yes")

        agikit.run(main)
        """,
        report=["AFTER_LOOP", "AGIKIT_CALL_ID"],
    )
    assert run.call.agi_status == "SUCCESS", run.call.log_text()
    assert run.recorded["asyncio_loaded_before_sleep"] is False
    assert run.recorded["value"] == run.call.variables["AGIKIT_CALL_ID"]
    assert run.call.variables["AFTER_LOOP"] == "yes"


def test_stray_output_and_input_do_not_touch_the_protocol(
    asterisk: Asterisk, agi_script: ScriptWriter
) -> None:
    run = run_script(
        asterisk,
        agi_script,
        """
        import os, subprocess

        def main(call):
            print("a stray print")
            print("ANSWER")  # would be a command if it reached Asterisk
            sys.stdout.flush()
            os.write(1, b"failure\\n")  # would end the AGI if it reached Asterisk
            subprocess.run(["sh", "-c", "echo from a child; read x"], check=False)
            record("stdin", sys.stdin.read())
            call.set_variable("STILL_FINE", "yes")

        agikit.run(main)
        """,
        report=["STILL_FINE"],
    )
    assert run.call.agi_status == "SUCCESS", run.call.log_text()
    assert run.call.variables["STILL_FINE"] == "yes"
    assert run.recorded["stdin"] == ""
    assert not any("AGI Rx << ANSWER" in line for line in run.call.log)


def test_hostile_values_round_trip(asterisk: Asterisk, agi_script: ScriptWriter) -> None:
    run = run_script(
        asterisk,
        agi_script,
        f"""
        VALUES = {HOSTILE_VALUES!r}

        def main(call):
            back = []
            for index, value in enumerate(VALUES):
                call.set_variable(f"HOSTILE_{{index}}", value)
                back.append(call.get_variable(f"HOSTILE_{{index}}"))
                call.database_put("agikit-test", f"key {{index}}", value)
                back.append(call.database_get("agikit-test", f"key {{index}}"))
            record("back", back)
            call.database_deltree("agikit-test")

        agikit.run(main)
        """,
        report=[f"HOSTILE_{i}" for i in range(len(HOSTILE_VALUES))],
    )
    assert run.call.agi_status == "SUCCESS", run.call.log_text()
    expected = [value for value in HOSTILE_VALUES for _ in range(2)]
    assert run.recorded["back"] == expected
    for index, value in enumerate(HOSTILE_VALUES):
        assert run.call.variables[f"HOSTILE_{index}"] == value


def test_dtmf_through_wait_for_digit_get_data_and_stream_file(
    asterisk: Asterisk, agi_script: ScriptWriter
) -> None:
    # The far end starts when ANSWER completes; each DTMF is timed to land while the AGI runs
    # the command that collects it (DTMF between commands is discarded by Asterisk).
    run = run_script(
        asterisk,
        agi_script,
        """
        def main(call):
            call.answer()
            record("wait", call.wait_for_digit(5))
            record("data", repr(call.get_data("beep", timeout=3, max_digits=3)))
            played = call.stream_file("demo-congrats", escape_digits="#5")
            record("stream", [played.digit, played.endpos])

        agikit.run(main)
        """,
        far_end=[
            FarEnd.wait(1),
            FarEnd.dtmf("7"),
            FarEnd.wait(1.5),
            FarEnd.dtmf("123"),
            FarEnd.wait(2.5),
            FarEnd.dtmf("5"),
        ],
    )
    assert run.call.agi_status == "SUCCESS", run.call.log_text()
    assert run.recorded["wait"] == "7"
    assert "'123'" in run.recorded["data"] and "timed_out=False" in run.recorded["data"]
    digit, endpos = run.recorded["stream"]
    assert digit == "5" and endpos > 0


@pytest.mark.parametrize(
    ("variables", "expect_sighup"),
    [({}, True), ({"AGISIGHUP": "no"}, False), ({"AGIEXITONHANGUP": "yes"}, True)],
    ids=["sighup-default", "sighup-no", "exit-on-hangup"],
)
def test_far_end_hangup_mid_command(
    asterisk: Asterisk,
    agi_script: ScriptWriter,
    variables: dict[str, str],
    expect_sighup: bool,
) -> None:
    run = run_script(
        asterisk,
        agi_script,
        """
        import signal

        def main(call):
            call.answer()
            try:
                call.wait_for_digit(10)
                record("outcome", "returned")
            except agikit.Hangup as exc:
                record("outcome", "Hangup")
            except agikit.CommandFailed as exc:
                record("outcome", "CommandFailed")
            finally:
                record("hung_up_seen", call.hung_up)
                try:
                    record("status", call.get_variable("DIALSTATUS_PROBE") or "unset")
                    call.set_variable("CLEANUP", "ran")
                    record("cleanup", "ok")
                except agikit.Hangup:
                    record("cleanup", "Hangup")
            try:
                call.stream_file("beep")
                record("after", "played")
            except agikit.Hangup:
                record("after", "Hangup")

        agikit.run(main)
        """,
        far_end=[FarEnd.wait(1), FarEnd.hangup()],
        variables=variables,
        report=["CLEANUP"],
    )
    recorded = run.recorded
    assert run.call.agi_status == "HANGUP", run.call.log_text()
    if expect_sighup:
        assert recorded["outcome"] == "Hangup"
        assert recorded["hung_up_seen"] is True
    else:
        # Without SIGHUP nothing tells the script; the -1 is a plain failure ...
        assert recorded["outcome"] == "CommandFailed"
    if variables.get("AGIEXITONHANGUP") == "yes":
        # ... Asterisk closed the session: nothing more can be sent.
        assert recorded["cleanup"] == "Hangup"
    else:
        # ... but dead-channel commands still run, and the others get 511 -> Hangup.
        assert recorded["cleanup"] == "ok"
        assert run.call.variables["CLEANUP"] == "ran"
    assert recorded["after"] == "Hangup"


def test_far_end_hangup_between_commands(asterisk: Asterisk, agi_script: ScriptWriter) -> None:
    run = run_script(
        asterisk,
        agi_script,
        """
        import time

        def main(call):
            call.answer()
            deadline = time.monotonic() + 10
            while not call.hung_up and time.monotonic() < deadline:
                time.sleep(0.05)  # SIGHUP arrives while no command runs
            record("hung_up", call.hung_up)
            record("noop", repr(call.noop()))
            try:
                call.answer()
            except agikit.Hangup as exc:
                record("answer", str(exc))

        agikit.run(main)
        """,
        far_end=[FarEnd.wait(0.5), FarEnd.hangup()],
    )
    assert run.call.agi_status == "HANGUP", run.call.log_text()
    assert run.recorded["hung_up"] is True
    assert "Hangup" not in run.recorded["noop"]
    assert "hung up" in run.recorded["answer"]


@pytest.mark.parametrize(
    ("target", "dialstatus"),
    [("answer", "ANSWER"), ("ring", "CANCEL")],
    ids=["answered", "ringing"],
)
def test_dialstatus_is_readable_after_the_caller_hangs_up(
    asterisk: Asterisk, agi_script: ScriptWriter, target: str, dialstatus: str
) -> None:
    run = run_script(
        asterisk,
        agi_script,
        f"""
        def main(call):
            call.answer()
            try:
                record("dial", call.exec("Dial", "Local/{target}@agikit-dial,20"))
            finally:
                # The caller hung up during the Dial: the channel is dead, and DIALSTATUS is
                # what the call flow needs to know.
                record("dialstatus", call.get_variable("DIALSTATUS"))
                record("hung_up", call.hung_up)

        agikit.run(main)
        """,
        far_end=[FarEnd.wait(2), FarEnd.hangup()],
    )
    assert run.recorded["dialstatus"] == dialstatus, run.call.log_text()
    assert run.recorded["dial"] == -1
    assert run.recorded["hung_up"] is True
