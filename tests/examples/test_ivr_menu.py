"""examples/ivr_menu.py: against the fake Asterisk (FastAGI and process AGI), then against the
real one, with a far end pressing keys."""

from __future__ import annotations

import sys

import ivr_menu  # examples/ is on sys.path (conftest.py)

from agikit.testing.asterisk import Asterisk, FarEnd
from agikit.testing.asterisk.pytest_plugin import ScriptWriter
from agikit.testing.fake import FakeAsterisk, expect

from ._support import EXAMPLES, fastagi_server, run_fastagi

MENU = "GET DATA demo-instruct 5000 1"


def test_a_valid_key_on_the_first_try() -> None:
    fake = FakeAsterisk(
        [
            expect("ANSWER"),
            expect(MENU, reply="200 result=2"),
            expect("SET VARIABLE IVR_CHOICE support"),
            expect("SET VARIABLE IVR_TRIES 1"),
        ]
    )
    run_fastagi(ivr_menu.app, fake, "menu").assert_ok()


def test_a_wrong_key_then_a_valid_one() -> None:
    fake = FakeAsterisk(
        [
            expect("ANSWER"),
            expect(MENU, reply="200 result=9"),
            expect('STREAM FILE pm-invalid-option ""'),
            expect(MENU, reply="200 result=1"),
            expect("SET VARIABLE IVR_CHOICE sales"),
            expect("SET VARIABLE IVR_TRIES 2"),
        ]
    )
    run_fastagi(ivr_menu.app, fake, "menu").assert_ok()


def test_no_key_at_all_goes_to_the_operator_after_the_last_try() -> None:
    timeout = "200 result= (timeout)"
    fake = FakeAsterisk(
        [
            expect("ANSWER"),
            expect("GET DATA main-menu 2000 1", reply=timeout),
            expect('STREAM FILE please-try-again ""'),
            expect("GET DATA main-menu 2000 1", reply=timeout),
            expect('STREAM FILE transfer ""'),
            expect("SET VARIABLE IVR_CHOICE operator"),
            expect("SET VARIABLE IVR_TRIES 2"),
        ]
    )
    result = run_fastagi(ivr_menu.app, fake, "menu?retries=2&timeout=2&prompt=main-menu")
    result.assert_ok()


def test_a_caller_hanging_up_in_the_menu_ends_the_handler() -> None:
    fake = FakeAsterisk(
        [
            expect("ANSWER"),
            # The caller hangs up while the menu plays: HANGUP, then GET DATA's failure.
            expect(MENU, hangup_before_reply=True, reply="200 result=-1"),
        ]
    )
    result = run_fastagi(ivr_menu.app, fake, "menu")
    result.assert_ok()  # nothing more was sent after the hangup
    assert result.agi_status == "HANGUP"


def test_the_same_file_as_a_process_agi_script() -> None:
    fake = FakeAsterisk(
        [
            expect("ANSWER"),
            expect(MENU, reply="200 result=0"),
            expect("SET VARIABLE IVR_CHOICE operator"),
            expect("SET VARIABLE IVR_TRIES 1"),
        ],
        args=["/menu?retries=1"],  # AGI(ivr_menu.py,/menu?retries=1)
    )
    result = fake.run_process("ivr_menu.py", interpreter=[sys.executable], agi_dir=EXAMPLES)
    result.assert_ok()
    assert result.exit_status == 0


# -- the real Asterisk ------------------------------------------------------------------------


def test_fastagi_on_asterisk_a_wrong_key_then_support(asterisk: Asterisk) -> None:
    with fastagi_server(ivr_menu.app) as server:
        call = asterisk.originate_fastagi(
            server.bound_port,
            "menu?timeout=3",
            # The far end presses 9 while the menu plays, then 2 while it plays again (after the
            # 3 s "not a valid option").
            far_end=[FarEnd.wait(1.5), FarEnd.dtmf("9"), FarEnd.wait(5), FarEnd.dtmf("2")],
            report=["IVR_CHOICE", "IVR_TRIES"],
        )
        result = call.wait()
    assert result.agi_status == "SUCCESS", result.log_text()
    assert result.variables == {"IVR_CHOICE": "support", "IVR_TRIES": "2"}
    assert result.after_agi  # the dialplan went on after AGI()


def test_fastagi_on_asterisk_caller_hangs_up_in_the_menu(asterisk: Asterisk) -> None:
    with fastagi_server(ivr_menu.app) as server:
        call = asterisk.originate_fastagi(
            server.bound_port,
            "menu",
            far_end=[FarEnd.wait(1), FarEnd.hangup()],
            report=["IVR_CHOICE"],
        )
        result = call.wait()
    assert result.agi_status == "HANGUP", result.log_text()
    assert result.variables == {"IVR_CHOICE": ""}


def test_process_agi_on_asterisk_silence_goes_to_the_operator(
    asterisk: Asterisk, agi_script: ScriptWriter
) -> None:
    script = agi_script("ivr_menu.py", (EXAMPLES / "ivr_menu.py").read_text())
    call = asterisk.originate_process_agi(
        script,
        args=["/menu?retries=2&timeout=1&prompt=beep"],
        far_end=[FarEnd.wait(30)],  # a caller who never presses a key
        report=["IVR_CHOICE", "IVR_TRIES"],
    )
    result = call.wait()
    assert result.agi_status == "SUCCESS", result.log_text()
    assert result.variables == {"IVR_CHOICE": "operator", "IVR_TRIES": "2"}
