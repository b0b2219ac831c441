"""Calls on the FastAGI server: timeouts per command and per call, failures, one command at a
time, and hangups; driven by the fake Asterisk or by a raw client where timing must be exact."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from agikit import Call
from agikit.errors import CommandFailed, CommandInFlight, ConnectionClosed, Hangup
from agikit.testing.fake import NO_REPLY, FakeAsterisk, Result, expect, hangup, pause

from ._support import RawClient, Runner, environment_bytes, eventually, serving, url


async def fake_call(server: Any, script: list[Any], *, timeout: float = 5.0) -> Result:
    fake = FakeAsterisk(script, timeout=timeout)
    return await fake.start_fastagi(url(server, "test")).wait_async(timeout + 5)


# -- a deadline on one command --------------------------------------------------------------


def test_cancelled_wait_drops_the_late_reply_and_the_next_command_waits_for_it(
    run: Runner[None],
) -> None:
    """``asyncio.timeout`` around a command: the wait ends, Asterisk's late reply is dropped,
    and the next command is sent only after it (never pipelined), then works."""
    seen: dict[str, Any] = {}

    async def handler(call: Call) -> None:
        started = time.monotonic()
        try:
            async with asyncio.timeout(0.2):
                await call.wait_for_digit(5)
        except TimeoutError:
            seen["timed out after"] = time.monotonic() - started
        seen["value"] = await call.get_variable("X")
        seen["sent after"] = time.monotonic() - started

    async def main() -> None:
        async with serving(handler) as server:
            client = await RawClient.connect(server)
            await client.send(environment_bytes())
            assert await client.readline() == b"WAIT FOR DIGIT 5000\n"
            assert await client.nothing_for(0.6)  # the timeout passed: nothing else was sent
            await client.send(b"200 result=0\n")  # the late reply
            assert await client.readline() == b"GET VARIABLE X\n"
            await client.send(b"200 result=1 (fresh)\n")
            assert await client.closed_by_server() == b""
            client.close()
            assert server.stats.failed == 0

    run(main())
    assert seen["timed out after"] < 0.5
    assert seen["value"] == "fresh"  # not the late "200 result=0"
    assert seen["sent after"] > 0.6


@pytest.mark.parametrize("late", [b"200 result=0\n", b"200 result=-1\n"], ids=["ok", "failed"])
def test_a_late_reply_while_no_command_waits_is_dropped(run: Runner[None], late: bytes) -> None:
    """The reply of a command whose wait was cancelled arrives before the next command: it is
    dropped (a failure too: no NOOP probes a command nobody waits for any more)."""
    seen: dict[str, Any] = {}

    async def handler(call: Call) -> None:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await call.wait_for_digit(5)
        await asyncio.sleep(0.5)  # the late reply arrives meanwhile
        seen["value"] = await call.get_variable("X")

    async def main() -> None:
        async with serving(handler) as server:
            client = await RawClient.connect(server)
            await client.send(environment_bytes())
            assert await client.readline() == b"WAIT FOR DIGIT 5000\n"
            await asyncio.sleep(0.3)
            await client.send(late)
            assert await client.readline() == b"GET VARIABLE X\n"
            await client.send(b"200 result=1 (fresh)\n")
            assert await client.closed_by_server() == b""
            client.close()
            assert server.stats.failed == 0

    run(main())
    assert seen["value"] == "fresh"


def test_a_command_after_the_handler_returned_raises_at_once(run: Runner[None]) -> None:
    """A task the handler left behind sends after the handler returned (the socket is closing):
    ConnectionClosed at once, and nothing reaches Asterisk."""
    errors: list[BaseException] = []
    leftover: list[asyncio.Task[None]] = []

    async def later(call: Call) -> None:
        await asyncio.sleep(0)  # the handler returns meanwhile
        try:
            await asyncio.wait_for(call.answer(), 2)
        except BaseException as error:
            errors.append(error)

    async def handler(call: Call) -> None:
        leftover.append(asyncio.create_task(later(call)))

    async def main() -> None:
        async with serving(handler) as server:
            client = await RawClient.connect(server)
            await client.send(environment_bytes())
            assert await client.closed_by_server() == b""
            client.close()
            await asyncio.wait_for(leftover[0], 5)
            assert server.stats.failed == 0

    run(main())
    assert len(errors) == 1 and isinstance(errors[0], ConnectionClosed), errors


def test_wait_for_timeout_then_normal_commands(run: Runner[None]) -> None:
    seen: list[Any] = []

    async def handler(call: Call) -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(call.stream_file("long-prompt", escape_digits="#"), 0.1)
        seen.append(await call.get_variable("A"))
        await call.set_variable("B", "2")
        seen.append(await call.get_variable("B"))

    async def main() -> None:
        async with serving(handler) as server:
            result = await fake_call(
                server,
                [
                    expect(
                        'STREAM FILE long-prompt "#"', reply="200 result=0 endpos=80", delay=0.4
                    ),
                    expect("GET VARIABLE A", reply="200 result=1 (one)"),
                    expect("SET VARIABLE B 2"),
                    expect("GET VARIABLE B", reply="200 result=1 (2)"),
                ],
            )
            result.assert_ok()

    run(main())
    assert seen == ["one", "2"]


def test_cancelled_twice_then_works(run: Runner[None]) -> None:
    """A wait for the late reply can itself be cancelled; the session still stays in step."""
    seen: list[Any] = []

    async def handler(call: Call) -> None:
        for _ in range(2):
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.1):
                    await call.wait_for_digit(1)
        seen.append(await call.get_variable("X"))

    async def main() -> None:
        async with serving(handler) as server:
            result = await fake_call(
                server,
                [
                    expect("WAIT FOR DIGIT 1000", reply="200 result=0", delay=0.4),
                    expect("GET VARIABLE X", reply="200 result=1 (ok)"),
                ],
            )
            result.assert_ok()

    run(main())
    assert seen == ["ok"]


def test_hangup_while_a_cancelled_command_runs(run: Runner[None]) -> None:
    """HANGUP arrives with the late reply: the next live-channel command raises Hangup without
    being sent, a dead-channel command still works."""
    seen: list[Any] = []

    async def handler(call: Call) -> None:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await call.wait_for_digit(5)
        with pytest.raises(Hangup):
            await call.answer()
        seen.append(await call.get_variable("DIALSTATUS"))

    async def main() -> None:
        async with serving(handler) as server:
            result = await fake_call(
                server,
                [
                    expect("WAIT FOR DIGIT 5000", hangup_before_reply=True, delay=0.3),
                    expect("GET VARIABLE DIALSTATUS", reply="200 result=1 (CANCEL)"),
                ],
            )
            result.assert_ok()

    run(main())
    assert seen == ["CANCEL"]


# -- one command at a time ------------------------------------------------------------------


def test_concurrent_commands_in_one_call_raise_command_in_flight(run: Runner[None]) -> None:
    errors: list[BaseException] = []

    async def handler(call: Call) -> None:
        first = asyncio.create_task(call.wait_for_digit(1))
        await asyncio.sleep(0.05)
        try:
            await call.answer()
        except CommandInFlight as exc:
            errors.append(exc)
        await first
        # After a cancelled wait, a command waiting for the late reply is in flight too.
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await call.wait_for_digit(1)
        second = asyncio.create_task(call.get_variable("X"))
        await asyncio.sleep(0.05)
        try:
            await call.answer()
        except CommandInFlight as exc:
            errors.append(exc)
        assert await second == "x"

    async def main() -> None:
        async with serving(handler) as server:
            result = await fake_call(
                server,
                [
                    expect("WAIT FOR DIGIT 1000", reply="200 result=0", delay=0.2),
                    expect("WAIT FOR DIGIT 1000", reply="200 result=0", delay=0.3),
                    expect("GET VARIABLE X", reply="200 result=1 (x)"),
                ],
            )
            result.assert_ok()  # ANSWER was never sent
            assert server.stats.failed == 0

    run(main())
    assert len(errors) == 2


# -- a deadline on the whole call -----------------------------------------------------------


def test_call_timeout_cancels_the_handler_and_fails_the_call(run: Runner[None]) -> None:
    cleanup: list[str] = []

    async def handler(call: Call) -> None:
        await call.answer()
        try:
            await asyncio.sleep(30)
        finally:
            # No command was running: clean-up commands still work before the socket closes.
            await call.set_variable("CLEANUP", "ran")
            cleanup.append("ran")

    async def main() -> None:
        async with serving(handler, call_timeout=0.3) as server:
            started = time.monotonic()
            result = await fake_call(
                server, [expect("ANSWER"), expect("SET VARIABLE CLEANUP ran"), expect("failure")]
            )
            assert time.monotonic() - started < 2
            result.assert_ok()
            assert result.agi_status == "FAILURE"
            assert server.stats.timed_out == 1 and server.stats.failed == 0

    run(main())
    assert cleanup == ["ran"]


def test_call_timeout_during_a_command(run: Runner[None]) -> None:
    """The deadline passes while Asterisk runs a command: clean-up commands cannot wait for its
    reply (that could take an hour), so they raise TimeoutError at once; the call fails."""
    cleanup: list[BaseException] = []

    async def handler(call: Call) -> None:
        try:
            await call.wait_for_digit(10)
        finally:
            try:
                await call.set_variable("CLEANUP", "ran")
            except TimeoutError as exc:
                cleanup.append(exc)

    async def main() -> None:
        async with serving(handler, call_timeout=0.3) as server:
            client = await RawClient.connect(server)
            await client.send(environment_bytes())
            assert await client.readline() == b"WAIT FOR DIGIT 10000\n"
            started = time.monotonic()
            assert await client.closed_by_server() == b"failure\n"
            assert time.monotonic() - started < 1
            client.close()
            await eventually(lambda: not server.connections)
            assert server.stats.timed_out == 1

    run(main())
    assert len(cleanup) == 1


def test_no_default_deadline_on_commands(run: Runner[None]) -> None:
    async def handler(call: Call) -> None:
        await call.exec("Dial", "Local/long@far")

    async def main() -> None:
        async with serving(handler, environment_timeout=0.2) as server:
            result = await fake_call(
                server, [expect('EXEC Dial "Local/long@far"', reply="200 result=0", delay=1.0)]
            )
            result.assert_ok()
            assert server.stats.timed_out == 0

    run(main())


# -- failures -------------------------------------------------------------------------------


def test_a_handler_that_raises_fails_the_call(run: Runner[None]) -> None:
    async def handler(call: Call) -> None:
        await call.answer()
        raise RuntimeError("bug in the app")

    async def main() -> None:
        async with serving(handler) as server:
            result = await fake_call(server, [expect("ANSWER"), expect("failure")])
            result.assert_ok()
            assert result.agi_status == "FAILURE"
            assert server.stats.failed == 1
            await eventually(lambda: not server.connections)

    run(main())


def test_a_handler_that_raises_its_own_timeout_fails_the_call(run: Runner[None]) -> None:
    async def handler(call: Call) -> None:
        async with asyncio.timeout(0.05):
            await asyncio.sleep(1)

    async def main() -> None:
        async with serving(handler) as server:
            result = await fake_call(server, [expect("failure")])
            result.assert_ok()
            assert server.stats.failed == 1 and server.stats.timed_out == 0

    run(main())


def test_a_failed_command_without_hangup_is_command_failed(run: Runner[None]) -> None:
    errors: list[BaseException] = []

    async def handler(call: Call) -> None:
        try:
            await call.stream_file("missing")
        except CommandFailed as exc:
            errors.append(exc)

    async def main() -> None:
        async with serving(handler) as server:
            result = await fake_call(
                server,
                [expect('STREAM FILE missing ""', reply="200 result=-1 endpos=0"), expect("NOOP")],
            )
            result.assert_ok()

    run(main())
    assert len(errors) == 1 and not isinstance(errors[0], Hangup)


# -- hangups --------------------------------------------------------------------------------


@pytest.mark.parametrize("reply", ["511 Command Not Permitted", "200 result=-1"])
def test_hangup_before_the_reply(run: Runner[None], reply: str) -> None:
    outcome: list[Any] = []

    async def handler(call: Call) -> None:
        try:
            await call.wait_for_digit(5)
        except Hangup as exc:
            outcome.append(exc)
        outcome.append(await call.get_variable("DIALSTATUS"))

    async def main() -> None:
        async with serving(handler) as server:
            result = await fake_call(
                server,
                [
                    expect("WAIT FOR DIGIT 5000", reply=reply, hangup_before_reply=True),
                    expect("GET VARIABLE DIALSTATUS", reply="200 result=1 (ANSWER)"),
                ],
            )
            result.assert_ok()  # no NOOP probe: the HANGUP line came first
            assert result.agi_status == "HANGUP"

    run(main())
    assert isinstance(outcome[0], Hangup) and outcome[1] == "ANSWER"


def test_hangup_after_a_failed_reply_is_found_by_the_noop_probe(run: Runner[None]) -> None:
    outcome: list[Any] = []

    async def handler(call: Call) -> None:
        try:
            await call.stream_file("beep")
        except Hangup as exc:
            outcome.append(exc)
        try:
            await call.stream_file("beep")
        except Hangup as exc:  # not sent: the channel is known to be dead
            outcome.append(exc)
        await call.set_variable("CLEANUP", "done")

    async def main() -> None:
        async with serving(handler) as server:
            result = await fake_call(
                server,
                [
                    expect('STREAM FILE beep ""', reply="200 result=-1 endpos=0"),
                    hangup(),
                    expect("NOOP"),
                    expect("SET VARIABLE CLEANUP done"),
                ],
            )
            result.assert_ok()

    run(main())
    assert len(outcome) == 2 and all(isinstance(e, Hangup) for e in outcome)
    assert outcome[1].reply is None


def test_hangup_line_cancels_nothing(run: Runner[None]) -> None:
    """The HANGUP line while the handler does other work: nothing is cancelled, the call is in
    dead mode, clean-up runs, and the socket closes only when the handler returns."""
    seen: list[Any] = []

    async def handler(call: Call) -> None:
        await call.answer()
        try:
            await asyncio.sleep(0.4)  # the caller hangs up meanwhile
            seen.append(call.hung_up)
            try:
                await call.stream_file("goodbye")
            except Hangup:
                seen.append("Hangup")
        finally:
            seen.append(await call.get_variable("DIALSTATUS"))
            await asyncio.sleep(0.2)
            await call.verbose("last words")
        seen.append("returned")

    async def main() -> None:
        async with serving(handler) as server:
            result = await fake_call(
                server,
                [
                    expect("ANSWER"),
                    hangup(),
                    expect("GET VARIABLE DIALSTATUS", reply="200 result=1 (NOANSWER)"),
                    expect('VERBOSE "last words"'),
                ],
            )
            result.assert_ok()
            assert result.agi_status == "HANGUP"
            assert server.stats.hung_up == 0 and server.stats.failed == 0

    run(main())
    assert seen == [True, "Hangup", "NOANSWER", "returned"]


def test_exit_on_hangup_closes_under_the_handler(run: Runner[None]) -> None:
    outcome: list[Any] = []

    async def handler(call: Call) -> None:
        await call.answer()
        await asyncio.sleep(0.3)
        try:
            await call.set_variable("X", "1")
        except (Hangup, ConnectionClosed) as exc:
            outcome.append(exc)
            raise

    async def main() -> None:
        async with serving(handler) as server:
            fake = FakeAsterisk([expect("ANSWER"), hangup()], exit_on_hangup=True, timeout=5)
            result = await fake.start_fastagi(url(server, "x")).wait_async(10)
            result.assert_ok()
            await eventually(lambda: not server.connections)
            assert server.stats.hung_up == 1 and server.stats.failed == 0

    run(main())
    assert isinstance(outcome[0], Hangup)


def test_asterisk_closing_mid_reply(run: Runner[None]) -> None:
    errors: list[BaseException] = []

    async def handler(call: Call) -> None:
        try:
            await call.get_variable("X")
        except ConnectionClosed as exc:
            errors.append(exc)

    async def main() -> None:
        async with serving(handler) as server:
            client = await RawClient.connect(server)
            await client.send(environment_bytes())
            assert await client.readline() == b"GET VARIABLE X\n"
            await client.send(b"200 resu")
            client.close()
            await eventually(lambda: not server.connections)

    run(main())
    assert len(errors) == 1


def test_no_reply_and_no_deadline_is_held_until_shutdown(run: Runner[None]) -> None:
    """A peer that never answers holds its call (commands have no default deadline); the
    shutdown's grace period is what ends it."""

    async def handler(call: Call) -> None:
        await call.answer()

    async def main() -> None:
        async with serving(handler) as server:
            session = FakeAsterisk([expect("ANSWER", reply=NO_REPLY), pause(3)]).start_fastagi(
                url(server, "x")
            )
            await eventually(lambda: server.stats.running == 1)
            await asyncio.sleep(0.3)
            assert server.stats.running == 1
            started = time.monotonic()
            await server.shutdown(0.2)
            assert time.monotonic() - started < 1.5
            assert server.stats.cancelled == 1
            session.abort()

    run(main())
