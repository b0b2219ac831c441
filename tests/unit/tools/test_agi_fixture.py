"""The ``agi`` fixture (``agikit.testing.tester.AgiTester``): handlers and apps against the fake
Asterisk, with scripted replies, and assertions on the commands sent."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import agikit
from agikit import App, Call, SyncCall
from agikit.testing.fake import ScriptMismatch, expect, expect_rest, hangup
from agikit.testing.tester import AgiRun, AgiTester

from ._support import DATA, app, as_debug_log

pytestmark = pytest.mark.timeout(30)


def greet(call: SyncCall) -> None:
    call.answer()
    call.stream_file("hello-world")
    call.set_variable("GREETED", "yes")


async def greet_async(call: Call) -> None:
    await call.answer()
    await call.stream_file("hello-world")
    await call.set_variable("GREETED", "yes")


# ------------------------------------------------------------------------------ running


@pytest.mark.parametrize("handler", [greet, greet_async], ids=["sync", "async"])
def test_a_handler_runs_and_its_commands_are_recorded(agi: AgiTester, handler: Any) -> None:
    run = agi.run(handler)
    assert run.commands == ["ANSWER", 'STREAM FILE hello-world ""', "SET VARIABLE GREETED yes"]
    agi.assert_commands(["answer", 'stream file hello-world ""', "SET VARIABLE GREETED yes"])
    assert run.ok and run.agi_status == "SUCCESS" and not run.hung_up
    assert run.variables == {"GREETED": "yes"}
    assert agi.last is run and agi.runs == [run]


def test_the_call_has_the_given_args_env_and_request(agi: AgiTester) -> None:
    seen: dict[str, Any] = {}

    def handler(call: SyncCall) -> str:
        seen.update(args=call.env.args, callerid=call.env.callerid, request=call.env.request)
        return "done"

    run = agi.run(handler, args=["sales", "42"], env={"callerid": "5551234"}, request="ivr.py")
    assert seen == {"args": ("sales", "42"), "callerid": "5551234", "request": "ivr.py"}
    assert run.returned == "done"


def test_defaults_given_to_the_tester_apply_to_every_run(agi: AgiTester) -> None:
    tester = AgiTester(env={"callerid": "999"}, variables={"X": "1"})

    def handler(call: SyncCall) -> Any:
        return call.env.callerid, call.get_variable("X")

    assert tester.run(handler).returned == ("999", "1")
    assert tester.run(handler, variables={"X": "2"}).returned == ("999", "2")
    with pytest.raises(TypeError, match="unknown option"):
        AgiTester(colour="blue")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unknown option"):
        agi.run(greet, digit="1")  # type: ignore[call-arg]


# ------------------------------------------------------------------------------ the scenario


def test_digits_feed_the_commands_that_read_keys(agi: AgiTester) -> None:
    def handler(call: SyncCall) -> list[Any]:
        return [
            call.wait_for_digit(5),  # 1
            call.stream_file("menu", escape_digits="#"),  # 2 is not an escape digit: left
            call.get_data("account", timeout=5, max_digits=4),  # 2345
            call.get_data("pin", timeout=5),  # 67 then #
            call.get_data("more", timeout=5),  # a pause ends it: 8 (timeout)
            call.wait_for_digit(5),  # . : a timeout (the pause before it is passed over)
            call.stream_file("again", escape_digits="9"),  # 9
            call.wait_for_digit(5),  # nothing left
        ]

    run = agi.run(handler, digits="12345 67# 8 .9")
    digit, played, account, pin, more, timeout, again, nothing = run.returned
    assert digit == "1" and played.digit is None
    assert (account.digits, account.timed_out) == ("2345", False)
    assert (pin.digits, pin.timed_out) == ("67", False)
    assert (more.digits, more.timed_out) == ("8", True)
    assert timeout is None and again.digit == "9" and nothing is None
    assert run.digits_left == ""


def test_variables_are_read_set_and_expanded(agi: AgiTester) -> None:
    def handler(call: SyncCall) -> list[Any]:
        before = call.get_variable("LANG")
        call.set_variable("LANG", "fr")
        return [before, call.get_variable("LANG"), call.get_full_variable("${LANG}-${NONE}")]

    run = agi.run(handler, variables={"LANG": "en"})
    assert run.returned == ["en", "fr", "fr-"]
    assert run.variables == {"LANG": "fr"}
    assert agi.run(lambda call: call.get_variable("NOT_SET")).returned is None


def test_the_astdb_is_read_and_written(agi: AgiTester) -> None:
    def handler(call: SyncCall) -> list[Any]:
        found = call.database_get("cust", "555")
        call.database_put("cust", "556", "bob")
        call.database_del("cust", "555")
        gone = call.database_deltree("old")
        return [found, gone, call.database_deltree("none")]

    run = agi.run(handler, database={"cust/555": "alice", "old/a": "1", "old/b/c": "2"})
    assert run.returned == ["alice", True, False]
    assert run.database == {"cust/556": "bob"}


def test_replies_override_by_the_longest_matching_start(agi: AgiTester) -> None:
    def handler(call: SyncCall) -> list[Any]:
        return [
            call.exec("Dial", "PJSIP/bob,30"),
            call.exec("Playback", "x"),
            call.get_variable("DIALSTATUS"),
        ]

    run = agi.run(
        handler,
        replies={
            "EXEC": "200 result=0",
            "exec Dial": "200 result=-1",
            "GET VARIABLE": lambda line: f"200 result=1 ({line.split()[-1].lower()})",
        },
    )
    assert run.returned == [-1, 0, "dialstatus"]


def test_a_failing_command_raises_in_the_handler_and_out_of_the_run(agi: AgiTester) -> None:
    with pytest.raises(agikit.CommandFailed) as raised:
        agi.run(greet, fail=["STREAM FILE hello-world"])
    notes = "\n".join(getattr(raised.value, "__notes__", []))
    assert "STREAM FILE hello-world" in notes and "200 result=-1 endpos=0" in notes
    # agikit asked whether the channel hung up (a NOOP): it had not, so CommandFailed.
    assert agi.last.commands == ["ANSWER", 'STREAM FILE hello-world ""', "NOOP"]


def test_check_false_returns_the_error_instead(agi: AgiTester) -> None:
    run = agi.run(greet, fail=["STREAM FILE"], check=False)
    assert isinstance(run.error, agikit.CommandFailed) and not run.ok
    with pytest.raises(agikit.CommandFailed):
        run.assert_ok()


def test_hangup_after_a_command_then_cleanup_on_the_dead_channel(agi: AgiTester) -> None:
    def handler(call: SyncCall) -> None:
        call.answer()
        try:
            while True:
                call.wait_for_digit(1)
        finally:
            call.set_variable("CLEANED", call.get_variable("DIALSTATUS") or "none")

    run = agi.run(handler, hangup_after=3, variables={"DIALSTATUS": "BUSY"})
    # The SIGHUP came after the 3rd command: the 4th WAIT FOR DIGIT raised Hangup, unsent.
    agi.assert_commands(
        ["ANSWER", "WAIT FOR DIGIT 1000", "WAIT FOR DIGIT 1000", ..., "SET VARIABLE CLEANED BUSY"]
    )
    assert run.commands.count("WAIT FOR DIGIT 1000") == 2
    assert run.hung_up and run.agi_status == "HANGUP" and run.error is None
    assert run.variables["CLEANED"] == "BUSY"


@pytest.mark.parametrize("handler", [greet, greet_async], ids=["sync", "async"])
def test_hangup_during_a_command(agi: AgiTester, handler: Any) -> None:
    run = agi.run(handler, hangup_during=2)
    # On an event loop the SIGHUP may be seen only after the reply: a NOOP then tells.
    assert run.commands[:2] == ["ANSWER", 'STREAM FILE hello-world ""']
    assert run.commands[2:] in ([], ["NOOP"])
    assert run.hung_up and run.error is None and "GREETED" not in run.variables


def test_hangup_over_fastagi_is_a_hangup_line(agi: AgiTester) -> None:
    run = agi.run(greet_async, transport="fastagi", hangup_during=2)
    assert b"HANGUP\n" in run.result.sent
    assert run.hung_up and run.error is None


# ------------------------------------------------------------------------------ scripts


def test_a_script_is_followed_step_by_step(agi: AgiTester) -> None:
    run = agi.run(
        greet,
        [
            expect("ANSWER"),
            expect('STREAM FILE hello-world ""', reply="200 result=0 endpos=8000"),
            expect("SET VARIABLE GREETED yes"),
        ],
    )
    assert run.result.completed and run.variables == {"GREETED": "yes"}


def test_a_script_with_a_hangup(agi: AgiTester) -> None:
    # hangup() between two commands races with the next one, as a real SIGHUP does: the
    # handler may send it before it knows (Asterisk answers 511), or not at all.
    run = agi.run(greet, [expect("ANSWER"), hangup(), expect_rest()])
    assert run.commands in (["ANSWER"], ["ANSWER", 'STREAM FILE hello-world ""'])
    assert run.hung_up and run.error is None
    # Notified before the reply, the handler knows at once.
    run = agi.run(greet, [expect("ANSWER", "200 result=0", hangup_before_reply=True)])
    assert run.commands == ["ANSWER"] and run.hung_up


def test_a_departure_from_the_script_raises_script_mismatch(agi: AgiTester) -> None:
    script = [expect("ANSWER"), expect('STREAM FILE goodbye ""'), expect("HANGUP")]
    with pytest.raises(ScriptMismatch) as raised:
        agi.run(greet, script)
    report = str(raised.value)
    assert "step 2: the AGI sent a different command" in report
    assert "expected 'goodbye', received 'hello-world'" in report
    run = agi.run(greet, script, check=False)
    assert not run.ok and run.result.failures


# ------------------------------------------------------------------------------ assert_commands


def test_assert_commands_shows_a_diff(agi: AgiTester) -> None:
    agi.run(greet)
    with pytest.raises(AssertionError) as raised:
        agi.assert_commands(["ANSWER", 'STREAM FILE goodbye ""', "HANGUP"])
    message = str(raised.value)
    assert "- differences marked" in message
    assert '  -     STREAM FILE goodbye ""' in message
    assert '  +   2 STREAM FILE hello-world ""' in message
    assert (
        "^ first difference: word 3 (argument): expected 'goodbye', sent 'hello-world'" in message
    )
    assert "  +   3 SET VARIABLE GREETED yes" in message
    assert "  -     HANGUP" in message
    agi.assert_commands([...])
    agi.assert_commands(["ANSWER", ...])
    agi.assert_commands([..., "set variable GREETED yes"])
    with pytest.raises(TypeError):
        agi.assert_commands("ANSWER")


def test_assert_commands_needs_a_run() -> None:
    with pytest.raises(RuntimeError, match="nothing has run yet"):
        AgiTester().assert_commands([])


# ------------------------------------------------------------------------------ errors


def test_the_handlers_exception_comes_out_with_the_conversation(agi: AgiTester) -> None:
    def broken(call: SyncCall) -> None:
        call.answer()
        raise KeyError("no such menu")

    with pytest.raises(KeyError) as raised:
        agi.run(broken)
    assert "the call as the fake Asterisk saw it" in "\n".join(raised.value.__notes__)
    assert agi.last.commands == ["ANSWER"]


def test_a_sync_handler_returning_a_coroutine_is_an_error(agi: AgiTester) -> None:
    def wrong(call: SyncCall) -> Any:
        return greet_async(call)  # type: ignore[arg-type]

    with pytest.raises(TypeError, match="an awaitable"):
        agi.run(wrong)


def test_fastagi_needs_an_async_handler(agi: AgiTester) -> None:
    with pytest.raises(TypeError, match="not an async handler"):
        agi.run(greet, transport="fastagi")
    with pytest.raises(ValueError, match="transport"):
        agi.run(greet, transport="carrier-pigeon")


# ------------------------------------------------------------------------------ apps


def test_run_app_routes_over_fastagi(agi: AgiTester) -> None:
    run = agi.run_app(app, "/menu?lang=fr", digits="1 123456#")
    agi.assert_commands(
        [
            "ANSWER",
            "SET VARIABLE CHANNEL(language) fr",
            'STREAM FILE main-menu "12"',
            "GET DATA enter-account 5000 6",
            "SET VARIABLE ACCOUNT 123456",
        ]
    )
    assert run.transport == "fastagi" and run.result.environment is not None
    assert run.result.environment.network_script == "menu?lang=fr"


def test_run_app_as_a_process_agi(agi: AgiTester) -> None:
    run = agi.run_app(app, "/menu", transport="process", digits="2")
    agi.assert_commands([..., 'STREAM FILE goodbye ""'])
    assert run.transport == "process" and run.result.environment is not None
    assert run.result.environment.args == ("/menu",)


def test_a_failing_route_handler(agi: AgiTester) -> None:
    with pytest.raises(RuntimeError, match="the handler broke"):
        agi.run_app(app, "/fail")
    run = agi.run_app(app, "/fail", check=False)
    assert run.agi_status == "FAILURE" and isinstance(run.error, RuntimeError)
    run = agi.run_app(app, "/nowhere", check=False)
    assert isinstance(run.error, agikit.RouteError) and run.commands == []
    with pytest.raises(ValueError, match="starting with '/'"):
        agi.run_app(app, "menu")


def test_the_app_hooks_run_around_the_call(agi: AgiTester) -> None:
    events: list[str] = []
    hooked = App()

    @hooked.on_startup
    async def up() -> None:
        events.append("start")

    @hooked.on_shutdown
    async def down() -> None:
        events.append("stop")

    @hooked.route("/")
    async def root(call: Call) -> None:
        events.append("call")

    agi.run_app(hooked, "/")
    assert events == ["start", "call", "stop"]


def test_arun_serves_on_the_running_loop() -> None:
    tester = AgiTester()

    async def scenario() -> AgiRun:
        with pytest.raises(RuntimeError, match="arun"):
            tester.run(greet_async, transport="fastagi")
        await tester.arun(greet_async)
        return await tester.arun_app(app, "/menu", digits="2")

    run = asyncio.run(scenario())
    assert run.transport == "fastagi"
    tester.assert_commands([..., 'STREAM FILE goodbye ""'])
    assert tester.runs[0].commands[0] == "ANSWER"


# ------------------------------------------------------------------------------ replays


def test_a_recorded_transcript_replays_as_a_regression_test(agi: AgiTester, tmp_path: Path) -> None:
    recorded = agi.run_app(app, "/menu?lang=de", digits="1 42#")
    path = tmp_path / "menu.transcript.txt"
    path.write_text(recorded.result.format_transcript())

    replayed = agi.replay(app, path)
    assert replayed.transport == "fastagi" and replayed.commands == recorded.commands

    @app.route("/menu-changed")
    async def changed(call: Call) -> None:
        await call.answer()

    with pytest.raises(ScriptMismatch, match="step 2"):
        agi.replay(changed, path)


def test_a_call_from_asterisks_debug_log_replays(agi: AgiTester) -> None:
    run = agi.replay(app, DATA / "fastagi-debug.log", channel="basic@fastagi")
    assert run.transport == "fastagi" and len(run.commands) == 17
    assert run.result.environment is not None
    assert run.result.environment.args == ("first arg", "second")
    # A raw client made this recording: agikit sends a NOOP after result=-1, it did not.
    with pytest.raises(ScriptMismatch, match="expected: WAIT FOR DIGIT 500"):
        agi.replay(app, DATA / "fastagi-debug.log", channel="hupbusy")


def test_a_process_agi_from_a_debug_log_replays_with_its_hangup(agi: AgiTester) -> None:
    def waiter(call: SyncCall) -> None:
        call.answer()
        try:
            while True:
                call.wait_for_digit(0.5)
        finally:
            call.verbose("cleanup")

    recorded = agi.run(waiter, hangup_after=3, request="waiter.py")
    assert "VERBOSE cleanup" in recorded.commands[-1]
    log = as_debug_log(recorded.result, "PJSIP/alice-0000002a")
    run = agi.replay(waiter, log)
    assert run.transport == "process" and run.commands == recorded.commands
    assert run.result.environment is not None and run.result.environment.request == "waiter.py"
