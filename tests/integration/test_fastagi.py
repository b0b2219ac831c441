"""FastAGI on a real Asterisk 22: agikit's server handling calls from AGI(agi://...)."""

from __future__ import annotations

import asyncio
import threading

import pytest

import agikit
from agikit.testing.asterisk import Asterisk, FarEnd, fastagi_server

from .test_process_agi import HOSTILE_VALUES


def test_environment_query_and_args(asterisk: Asterisk) -> None:
    seen: dict[str, object] = {}

    async def handler(call: agikit.Call) -> None:
        seen["script"] = call.env.script_path
        seen["query"] = call.env.query
        seen["args"] = call.env.args
        seen["network"] = call.env.network
        await call.answer()
        await call.set_variable("FROM_FASTAGI", "yes")

    with fastagi_server(handler) as server:
        call = asterisk.originate_fastagi(
            server.bound_port, "ivr/en?x=1&x=2&y=", args=["a b", "c,d", ""], report=["FROM_FASTAGI"]
        )
        result = call.wait()
    assert result.agi_status == "SUCCESS", result.log_text()
    assert result.variables["FROM_FASTAGI"] == "yes"
    assert seen == {
        "script": "ivr/en",
        "query": {"x": ["1", "2"], "y": [""]},
        "args": ("a b", "c,d", ""),
        "network": True,
    }


def test_hostile_values_round_trip(asterisk: Asterisk) -> None:
    back: list[object] = []

    async def handler(call: agikit.Call) -> None:
        for index, value in enumerate(HOSTILE_VALUES):
            await call.set_variable(f"HOSTILE_{index}", value)
            back.append(await call.get_variable(f"HOSTILE_{index}"))

    with fastagi_server(handler) as server:
        result = asterisk.originate_fastagi(server.bound_port).wait()
    assert result.agi_status == "SUCCESS", result.log_text()
    assert back == HOSTILE_VALUES


@pytest.mark.parametrize(
    "variables",
    [{}, {"AGISIGHUP": "no"}, {"AGIEXITONHANGUP": "yes"}],
    ids=["sighup-default", "sighup-no", "exit-on-hangup"],
)
def test_far_end_hangup_mid_command(asterisk: Asterisk, variables: dict[str, str]) -> None:
    outcome: dict[str, object] = {}

    async def handler(call: agikit.Call) -> None:
        await call.answer()
        try:
            await call.wait_for_digit(10)
            outcome["wait"] = "returned"
        except agikit.Hangup:
            outcome["wait"] = "Hangup"
        except agikit.CommandFailed:
            outcome["wait"] = "CommandFailed"
        try:
            await call.set_variable("CLEANUP", "ran")
            outcome["cleanup"] = "ok"
        except agikit.Hangup:
            outcome["cleanup"] = "Hangup"
        try:
            await call.stream_file("beep")
        except agikit.Hangup:
            outcome["after"] = "Hangup"

    with fastagi_server(handler) as server:
        result = asterisk.originate_fastagi(
            server.bound_port,
            far_end=[FarEnd.wait(1), FarEnd.hangup()],
            variables=variables,
            report=["CLEANUP"],
        ).wait()
    assert result.agi_status == "HANGUP", result.log_text()
    if variables.get("AGISIGHUP") == "no":
        assert outcome["wait"] == "CommandFailed"  # nothing tells the server: a plain failure
    else:
        assert outcome["wait"] == "Hangup"  # the HANGUP line arrived before NOOP's reply
    if variables.get("AGIEXITONHANGUP") == "yes":
        assert outcome["cleanup"] == "Hangup"  # Asterisk closed the connection
    else:
        assert outcome["cleanup"] == "ok"
        assert result.variables["CLEANUP"] == "ran"
    assert outcome["after"] == "Hangup"


def test_max_calls_refuses_with_agistatus_failure(asterisk: Asterisk) -> None:
    release = threading.Event()

    async def handler(call: agikit.Call) -> None:
        while not release.is_set():
            await asyncio.sleep(0.05)

    with fastagi_server(handler, max_calls=1) as server:
        first = asterisk.originate_fastagi(server.bound_port)
        first.wait_started()
        second = asterisk.originate_fastagi(server.bound_port, report=["AGISTATUS"]).wait()
        release.set()
        first_result = first.wait()
        assert server.stats.rejected_busy == 1
    assert second.agi_status == "FAILURE", second.log_text()
    assert second.after_agi  # the dialplan went on after AGI(), as a fallback would
    assert first_result.agi_status == "SUCCESS"
