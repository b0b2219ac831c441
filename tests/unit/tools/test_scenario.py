"""``Scenario``: the fake Asterisk's answers to what a script leaves open."""

from __future__ import annotations

from typing import Any

import pytest

from agikit import SyncCall
from agikit.protocol.quoting import split_command_line
from agikit.testing.fake import FakeAsterisk, ScriptError, expect, expect_rest
from agikit.testing.scenario import Scenario
from agikit.testing.tester import AgiTester

pytestmark = pytest.mark.timeout(30)


def answer(scenario: Scenario, line: str, *, dead: bool = False) -> Any:
    """The reply lines (or ``None``: Asterisk's default) a fresh state gives to ``line``."""
    response = scenario.start().respond(split_command_line(line.encode()), dead=dead)
    return None if response is None else response.lines


def test_keys_stop_the_commands_listening_for_them() -> None:
    scenario = Scenario(digits="5")
    assert answer(scenario, 'SAY DIGITS 123 "5"') == (b"200 result=53",)
    assert answer(scenario, 'SAY NUMBER 42 ""') == (b"200 result=0",)
    assert answer(scenario, 'GET OPTION menu "45" 2000') == (b"200 result=53 endpos=0",)
    assert answer(scenario, 'CONTROL STREAM FILE x "5"') == (b"200 result=53 endpos=0",)
    assert answer(scenario, 'RECORD FILE /tmp/x wav "5" 5000') == (
        b"200 result=53 (dtmf) endpos=0",
    )
    assert answer(scenario, 'RECORD FILE /tmp/x wav "#" 5000') is None  # Asterisk's default


def test_keys_are_consumed_in_order() -> None:
    state = Scenario(digits="1#").start()
    first = state.respond(split_command_line(b"WAIT FOR DIGIT 100"), dead=False)
    assert first is not None and first.lines == (b"200 result=49",)
    assert state.digits == "#"
    state.respond(split_command_line(b"GET DATA x 100 4"), dead=False)
    assert state.digits == "" and state.count == 2


def test_a_dead_channel_gets_asterisks_own_replies() -> None:
    scenario = Scenario(digits="1", variables={"X": "1"})
    assert answer(scenario, "WAIT FOR DIGIT 100", dead=True) is None  # 511 by default
    assert answer(scenario, "GET VARIABLE X", dead=True) == (b"200 result=1 (1)",)
    assert answer(scenario, "NO SUCH COMMAND") is None  # 510 by default


def test_hangup_during_a_command_gets_the_interrupted_reply() -> None:
    def during(line: str) -> Any:
        response = (
            Scenario(hangup_during=1).start().respond(split_command_line(line.encode()), dead=False)
        )
        assert response is not None and response.hangup == "during"
        return response.lines

    assert during('STREAM FILE x ""') == (b"200 result=-1 endpos=0",)
    assert during("RECORD FILE x wav # 1000") == (b"200 result=-1 (hangup) endpos=0",)
    assert during("GOSUB ctx s 1") == (
        b"100 result=0 Trying...",
        b"200 result=0 Gosub complete (abnormal exit)",
    )
    assert during("EXEC Dial PJSIP/bob") == (b"200 result=-1",)
    assert during("WAIT FOR DIGIT 100") == (b"200 result=-1",)
    assert during("GET VARIABLE X") == (b"200 result=0",)  # dead-channel commands complete


def test_failures_by_command() -> None:
    scenario = Scenario(fail=["STREAM FILE", "EXEC Foo", "DATABASE PUT", "GET DATA"])
    assert answer(scenario, 'STREAM FILE x ""') == (b"200 result=-1 endpos=0",)
    assert answer(scenario, "EXEC Foo bar") == (b"200 result=-2",)
    assert answer(scenario, "EXEC Bar") is None
    assert answer(scenario, "DATABASE PUT a b c") == (b"200 result=0",)
    assert answer(scenario, "GET DATA x") == (b"200 result=-1",)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"digits": "12x"}, "'x' is not a key"),
        ({"fail": "STREAM FILE"}, "not one string"),
        ({"hangup_after": 0}, "counts commands from 1"),
        ({"database": {"nofamily": "1"}}, "family/key"),
        ({"replies": {"": "200 result=0"}}, "an empty command"),
        ({"replies": {"NOOP": []}}, "NO_REPLY"),
    ],
)
def test_a_scenario_that_cannot_run_is_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ScriptError, match=message):
        Scenario(**options)


def test_the_scenario_answers_steps_without_a_reply_and_sees_every_command() -> None:
    def handler(call: SyncCall) -> Any:
        call.set_variable("A", "scripted")
        return call.get_variable("A"), call.wait_for_digit(1), call.get_variable("B")

    fake = FakeAsterisk(
        [
            expect("SET VARIABLE A scripted", reply="200 result=1"),
            expect("GET VARIABLE A"),  # no reply: the scenario's
            expect("WAIT FOR DIGIT 1000"),
            expect_rest(),
        ],
        scenario=Scenario(digits="7", variables={"B": "b"}),
    )
    from agikit.transports.stdio import serve

    with fake.in_process() as session:
        serve(handler, stdin=session.stdin, stdout=session.stdout)
    result = session.result.assert_ok()
    assert result.scenario is not None and result.scenario.variables == {"A": "scripted", "B": "b"}
    assert "scenario=" in repr(fake)


def test_each_session_starts_from_the_scenario_afresh() -> None:
    agi = AgiTester()

    def handler(call: SyncCall) -> Any:
        seen = call.get_variable("N")
        call.set_variable("N", "changed")
        return seen, call.wait_for_digit(1)

    first = agi.run(handler, variables={"N": "start"}, digits="1")
    second = agi.run(handler, variables={"N": "start"}, digits="1")
    assert first.returned == second.returned == ("start", "1")
