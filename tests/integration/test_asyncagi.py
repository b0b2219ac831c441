"""Async AGI on a real Asterisk 22: the same handlers as FastAGI, driven over one AMI session."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import agikit
from agikit.ami import AmiClient
from agikit.errors import ProtocolError
from agikit.testing.asterisk import Asterisk, FarEnd, async_agi_server, fastagi_server
from agikit.transports.asyncagi import AsyncAGIServer
from agikit.transports.fastagi import Handler


def wait_until_forgotten(server: AsyncAGIServer, timeout: float = 10.0) -> None:
    """The server learns of each call's end from its own AMI connection, maybe after the
    harness did: give it time to forget the channels."""
    deadline = time.monotonic() + timeout
    while server.channels and time.monotonic() < deadline:
        time.sleep(0.02)


def _flow(results: list[dict[str, Any]]) -> Handler:
    async def handler(call: agikit.Call) -> None:
        seen: dict[str, Any] = {"args": call.env.args}
        await call.answer()
        seen["var"] = await call.get_variable("AGIKIT_CALL_ID") is not None
        await call.set_variable("FLOW", 'a "quoted" value, with $ and (parens)')
        seen["back"] = await call.get_variable("FLOW")
        seen["digit"] = await call.wait_for_digit(5)
        played = await call.stream_file("beep", escape_digits="#")
        seen["played"] = (played.digit, played.endpos > 0)
        seen["db"] = await call.database_get("agikit-none", "missing")
        results.append(seen)

    return handler


def test_same_handler_same_results_as_fastagi(asterisk: Asterisk) -> None:
    far_end = [FarEnd.wait(1.5), FarEnd.dtmf("7")]
    fastagi_results: list[dict[str, Any]] = []
    with fastagi_server(_flow(fastagi_results)) as server:
        fast = asterisk.originate_fastagi(server.bound_port, args=["x", "y"], far_end=far_end)
        assert fast.wait().agi_status == "SUCCESS"
    async_results: list[dict[str, Any]] = []
    with async_agi_server(asterisk, _flow(async_results)):
        call = asterisk.originate_async_agi(args=["x", "y"], far_end=far_end, report=["FLOW"])
        result = call.wait()
    # The handler returned without hanging up: ASYNCAGI BREAK, and the dialplan went on.
    assert result.agi_status == "SUCCESS", result.log_text()
    assert result.after_agi
    assert async_results == fastagi_results
    assert async_results[0]["digit"] == "7"


def test_long_environment_and_results_are_reassembled(asterisk: Asterisk) -> None:
    seen: dict[str, Any] = {}
    piece = "".join(chr(0x41 + i % 26) for i in range(900))
    long_value = piece * 3

    async def handler(call: agikit.Call) -> None:
        seen["args"] = call.env.args
        try:
            await call.set_variable("LONG", long_value)
        except agikit.ArgumentError as exc:  # an AMI header line holds at most 1024 bytes
            seen["too long"] = str(exc)
        await call.set_variable("PIECE", piece)
        await call.set_variable("LONG", "${PIECE}${PIECE}${PIECE}")
        seen["full"] = await call.get_full_variable("${PIECE}${PIECE}${PIECE}")
        seen["cut"] = await call.get_variable("LONG")  # not expanded by SET VARIABLE
        await call.set_variable("SLASHES", "/" * 900)
        try:
            await call.get_full_variable("${SLASHES}")
        except ProtocolError as exc:
            seen["capped"] = str(exc)
        seen["after"] = await call.get_variable("AGIKIT_CALL_ID") is not None

    with async_agi_server(asterisk, handler):
        # Over 1024 bytes of environment; each AMI header line must stay under 1024 bytes.
        args = ["a" * 300, "b" * 300, "c" * 300]
        result = asterisk.originate_async_agi(args=args).wait()
    assert result.agi_status == "SUCCESS", result.log_text()
    assert seen["args"] == tuple(args)
    assert "1013" in seen["too long"]
    assert seen["full"] == long_value
    assert seen["cut"] == "${PIECE}${PIECE}${PIECE}"
    assert "truncated" in seen["capped"]
    assert seen["after"] is True


def test_hangup_mid_command(asterisk: Asterisk) -> None:
    seen: dict[str, Any] = {}

    async def handler(call: agikit.Call) -> None:
        await call.answer()
        try:
            await call.wait_for_digit(10)
        except agikit.Hangup:
            seen["wait"] = "Hangup"
        try:
            await call.get_variable("CHANNEL")
        except agikit.Hangup:
            seen["after"] = "Hangup"

    with async_agi_server(asterisk, handler) as server:
        result = asterisk.originate_async_agi(far_end=[FarEnd.wait(1), FarEnd.hangup()]).wait()
        wait_until_forgotten(server)
        assert not server.channels
    assert result.agi_status == "HANGUP"
    assert seen == {"wait": "Hangup", "after": "Hangup"}


def test_two_commands_queued_back_to_back_run_in_order(asterisk: Asterisk) -> None:
    async def main() -> list[str]:
        ami = AmiClient("127.0.0.1", asterisk.ami_port, asterisk.ami_user, asterisk.ami_secret)
        async with ami, ami.subscribe("AsyncAGIStart", "AsyncAGIExec") as events:
            call = await asyncio.to_thread(asterisk.originate_async_agi)
            start = await asyncio.wait_for(events.get(), 10)
            channel = start["Channel"]
            for number, command in enumerate(("SET VARIABLE Q 1", "GET VARIABLE Q")):
                await ami.action(
                    "AGI", {"Channel": channel, "Command": command, "CommandID": f"q{number}"}
                )
            results = []
            while len(results) < 2:
                event = await asyncio.wait_for(events.get(), 10)
                if event.event == "AsyncAGIExec":
                    results.append(f"{event['CommandId']}:{event['Result']}")
            await ami.action("AGI", {"Channel": channel, "Command": "ASYNCAGI BREAK"})
            await asyncio.to_thread(call.wait)
            return results

    assert asyncio.run(main()) == ["q0:200%20result%3D1%0A", "q1:200%20result%3D1%20(1)%0A"]


@pytest.mark.parametrize("count", [200])
def test_many_concurrent_calls_on_one_ami_connection(asterisk: Asterisk, count: int) -> None:
    done: list[str] = []

    async def handler(call: agikit.Call) -> None:
        await call.answer()
        await call.set_variable("CONCURRENT", call.env.uniqueid)
        value = await call.get_variable("CONCURRENT")
        done.append(value or "")

    with async_agi_server(asterisk, handler) as server:
        calls = [
            asterisk.originate_async_agi(far_end=[FarEnd.tone()], report=["CONCURRENT"])
            for _ in range(count)
        ]
        results = [call.wait(120) for call in calls]
        wait_until_forgotten(server)
        assert not server.channels
    assert all(r.agi_status == "SUCCESS" for r in results)
    assert sorted(done) == sorted(r.variables["CONCURRENT"] for r in results)
    assert len(set(done)) == count
