"""examples/call_screening.py: against the fake Asterisk, then against the real one, where
the callee is one of the harness's ``agikit-dial`` extensions (busy, answer, ring)."""

from __future__ import annotations

import call_screening  # examples/ is on sys.path (conftest.py)

from agikit.testing.asterisk import Asterisk, FarEnd
from agikit.testing.fake import FakeAsterisk, expect

from ._support import fastagi_server, run_fastagi

CALLER = {"callerid": "5551234", "uniqueid": "1700000000.42"}


def _start(*steps: object) -> FakeAsterisk:
    return FakeAsterisk(
        [
            expect("ANSWER"),
            expect("DATABASE GET blocked 5551234"),  # default reply: no such key
            expect('STREAM FILE pls-hold-while-try ""'),
            *steps,  # type: ignore[list-item]
        ],
        env=CALLER,
    )


def test_an_answered_call_is_logged() -> None:
    fake = _start(
        expect("EXEC Dial PJSIP/bob,30", reply="200 result=0"),
        expect("GET VARIABLE DIALSTATUS", reply="200 result=1 (ANSWER)"),
        expect("SET VARIABLE SCREEN_RESULT ANSWER"),
        expect("DATABASE PUT screening 1700000000.42 ANSWER"),
    )
    run_fastagi(call_screening.app, fake, "screen/PJSIP/bob").assert_ok()


def test_dialstatus_is_read_after_the_caller_hung_up_during_dial() -> None:
    fake = _start(
        # The caller hangs up while it rings: Asterisk sends HANGUP, then Dial's -1.
        expect("EXEC Dial PJSIP/bob,30", hangup_before_reply=True, reply="200 result=-1"),
        # On the dead channel these still work (the fake answers 511 to any other command).
        expect("GET VARIABLE DIALSTATUS", reply="200 result=1 (CANCEL)"),
        expect("SET VARIABLE SCREEN_RESULT CANCEL"),
        expect("DATABASE PUT screening 1700000000.42 CANCEL"),
    )
    result = run_fastagi(call_screening.app, fake, "screen/PJSIP/bob")
    result.assert_ok()
    assert result.agi_status == "HANGUP"


def test_a_busy_callee_and_the_caller_hears_so() -> None:
    fake = _start(
        expect("EXEC Dial Local/busy@agikit-dial,5", reply="200 result=0"),
        expect("GET VARIABLE DIALSTATUS", reply="200 result=1 (BUSY)"),
        expect("SET VARIABLE SCREEN_RESULT BUSY"),
        expect("DATABASE PUT screening 1700000000.42 BUSY"),
        expect('STREAM FILE vm-nobodyavail ""'),
    )
    run_fastagi(call_screening.app, fake, "screen/Local/busy@agikit-dial?ring=5").assert_ok()


def test_a_blocked_caller_is_never_put_through() -> None:
    fake = FakeAsterisk(
        [
            expect("ANSWER"),
            expect("DATABASE GET blocked 5551234", reply="200 result=1 (1)"),
            expect('STREAM FILE ss-noservice ""'),
            expect("SET VARIABLE SCREEN_RESULT BLOCKED"),
        ],
        env=CALLER,
    )
    run_fastagi(call_screening.app, fake, "screen/PJSIP/bob").assert_ok()


# -- the real Asterisk ------------------------------------------------------------------------


def _logged(asterisk: Asterisk, uniqueid: str) -> str:
    output = asterisk.ami.command(f"database get screening {uniqueid}")
    return output.split("Value:", 1)[1].strip() if "Value:" in output else ""


def test_on_asterisk_a_busy_callee(asterisk: Asterisk) -> None:
    with fastagi_server(call_screening.app) as server:
        call = asterisk.originate_fastagi(
            server.bound_port,
            "screen/Local/busy@agikit-dial?ring=10",
            far_end=[FarEnd.wait(30)],
            report=["SCREEN_RESULT"],
        )
        result = call.wait()
    assert result.agi_status == "SUCCESS", result.log_text()
    assert result.variables == {"SCREEN_RESULT": "BUSY"}
    assert _logged(asterisk, result.uniqueid) == "BUSY"
    assert "vm-nobodyavail" in result.log_text()


def test_on_asterisk_the_caller_hangs_up_while_it_rings(asterisk: Asterisk) -> None:
    with fastagi_server(call_screening.app) as server:
        call = asterisk.originate_fastagi(
            server.bound_port,
            "screen/Local/ring@agikit-dial?ring=20",  # rings and never answers
            # 2.4 s of "please hold", then about 2 s of ringing before the caller gives up.
            far_end=[FarEnd.wait(4.5), FarEnd.hangup()],
            report=["SCREEN_RESULT"],
        )
        result = call.wait()
    assert result.agi_status == "HANGUP", result.log_text()
    assert result.variables == {"SCREEN_RESULT": "CANCEL"}  # set on the dead channel
    assert _logged(asterisk, result.uniqueid) == "CANCEL"


def test_on_asterisk_a_blocked_caller(asterisk: Asterisk) -> None:
    asterisk.ami.action("DBPut", [("Family", "blocked"), ("Key", "5550666"), ("Val", "1")])
    try:
        with fastagi_server(call_screening.app) as server:
            call = asterisk.originate_fastagi(
                server.bound_port,
                "screen/Local/answer@agikit-dial",
                caller_id="5550666",
                far_end=[FarEnd.wait(30)],
                report=["SCREEN_RESULT", "DIALSTATUS"],
            )
            result = call.wait()
    finally:
        asterisk.ami.action("DBDel", [("Family", "blocked"), ("Key", "5550666")], check=False)
    assert result.agi_status == "SUCCESS", result.log_text()
    assert result.variables == {"SCREEN_RESULT": "BLOCKED", "DIALSTATUS": ""}  # never dialled
