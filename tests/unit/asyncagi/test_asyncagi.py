"""AsyncAGIServer against a simulated Asterisk (no AMI socket, no Asterisk)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import urllib.parse
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agikit
from agikit.ami import AmiClient, AmiDisconnected
from agikit.app import call_environment
from agikit.errors import (
    CommandFailed,
    CommandInFlight,
    ConnectionClosed,
    Hangup,
    InvalidCommand,
    ProtocolError,
    UsageError,
)
from agikit.transports.asyncagi import MAX_COMMAND_BYTES, AsyncAGIServer

from ..ami import _transcripts
from ..ami._fakeami import FakeAmiServer, run
from ._sim import Outcome, SimAmi, SimChannel, environment

Handler = Callable[[agikit.Call], Any]


@contextlib.asynccontextmanager
async def serving(handler: Handler, *, delay: float = 0.0) -> AsyncIterator[SimAmi]:
    """An AsyncAGIServer on a simulated AMI; on exit, waits for every call to be done."""
    ami = SimAmi(delay)
    server = AsyncAGIServer(handler, ami)  # type: ignore[arg-type]
    await server.start()
    ami.server = server  # type: ignore[attr-defined]
    yield ami
    await asyncio.wait_for(server._idle.wait(), 5)
    await server.stop(1)
    assert not server._tasks or all(t.done() for t in server._tasks)


def server_of(ami: SimAmi) -> AsyncAGIServer:
    return ami.server  # type: ignore[attr-defined,no-any-return]


def test_session_commands_and_break() -> None:
    seen: dict[str, Any] = {}

    async def handler(call: agikit.Call) -> None:
        seen["args"] = call.env.args
        seen["channel"] = call.env.channel
        await call.answer()
        await call.set_variable("FLOW", "value")
        seen["flow"] = await call.get_variable("FLOW")
        seen["missing"] = await call.get_variable("MISSING")
        with pytest.raises(InvalidCommand):
            await call.raw("FOO BAR")
        with pytest.raises(UsageError) as usage:
            await call.raw("STREAM FILE")
        seen["usage"] = usage.value.usage
        seen["after"] = await call.get_full_variable("${FLOW}-x")

    async def main() -> None:
        async with serving(handler) as ami:
            channel = ami.asterisk.start("first", "second")
        assert ami.agi_commands(channel)[-1] == "ASYNCAGI BREAK"
        assert channel.executed[-1] == "ASYNCAGI BREAK" and not channel.in_async
        # Addressed by unique ID, one CommandID each.
        actions = ami.asterisk.actions
        assert {a["channel"] for a in actions} == {channel.uniqueid}
        assert len({a["commandid"] for a in actions}) == len(actions)
        assert not server_of(ami).channels

    run(main())
    assert seen["args"] == ("first", "second")
    assert seen["flow"] == "value" and seen["missing"] is None
    assert "Proper usage follows" not in seen["usage"] and "PLAYBACKSTATUS" in seen["usage"]
    assert seen["after"] == "value-x"


def test_real_session_transcript_environment() -> None:
    (start,) = _transcripts.events("asyncagi_session.txt", "AsyncAGIStart")
    env = urllib.parse.unquote_to_bytes(start["Env"])
    seen: list[Any] = []

    async def handler(call: agikit.Call) -> None:
        # call_environment: for log records (agikit.log)
        environment = call_environment.get()
        seen.append((call.env.uniqueid, call.env.args, call.env.version, environment is call.env))

    async def main() -> None:
        async with serving(handler) as ami:
            ami.asterisk.start(env=env, uniqueid="1795797623.3")

    run(main())
    version = "22.10.1+dfsg+~cs6.17.60671434-1"
    assert seen == [("1795797623.3", ("amisess", "second"), version, True)]


# -- bytes split and cut by Asterisk ----------------------------------------------------------
def test_environment_spill_is_flushed_before_the_first_command() -> None:
    args = ("a" * 300, "b" * 300, "c" * 300)
    seen: list[Any] = []

    async def handler(call: agikit.Call) -> None:
        seen.append(call.env.args)
        seen.append(await call.get_variable("V"))

    async def main() -> None:
        async with serving(handler) as ami:
            channel = ami.asterisk.start(*args, variables={"V": "1"})
            assert len(environment(channel.uniqueid, channel.name, *args)) > 1024
        # A NOOP brought the rest of the environment (and its reply was dropped).
        assert ami.agi_commands() == ["NOOP", "GET VARIABLE V", "ASYNCAGI BREAK"]

    run(main())
    assert seen == [args, "1"]


@pytest.mark.parametrize(
    ("command", "flushes"),
    [
        ("GET VARIABLE LONGVAR", 1),  # 1039 bytes: its end comes with the next Result
        ("GET FULL VARIABLE ${LONGVAR}", 2),  # 3016 bytes: over three Results
        ("GET VARIABLE SHORT1K", 0),  # 1016 bytes: one Result
    ],
)
def test_long_results_are_reassembled(command: str, flushes: int) -> None:
    long = "".join(f"{n:04d}-" for n in range(0, 3000, 5))
    values = {"LONGVAR": long, "SHORT1K": long[:1000]}
    seen: list[Any] = []

    async def handler(call: agikit.Call) -> None:
        name = command.split()[-1]
        if command.startswith("GET FULL"):
            seen.append(await call.get_full_variable(name))
        else:
            seen.append(await call.get_variable(name))
        seen.append(await call.get_variable("SHORT"))

    async def main() -> None:
        async with serving(handler) as ami:
            ami.asterisk.start(variables={**values, "SHORT": "s"})
        assert ami.agi_commands() == [
            command,
            *["NOOP"] * flushes,
            "GET VARIABLE SHORT",
            "ASYNCAGI BREAK",
        ]

    run(main())
    expected = {"GET VARIABLE LONGVAR": long[:1023], "GET FULL VARIABLE ${LONGVAR}": long}
    assert seen == [expected.get(command, long[:1000]), "s"]


def test_the_encoding_cap_fails_the_command_and_the_next_one_works() -> None:
    seen: list[Any] = []

    async def handler(call: agikit.Call) -> None:
        for name in ("SLASHES", "SLASHES", "LONGSLASHES"):
            try:
                await call.get_full_variable("${" + name + "}")
            except ProtocolError as exc:
                seen.append(str(exc))
            seen.append(await call.get_variable("SHORT"))

    async def main() -> None:
        async with serving(handler) as ami:
            channel = ami.asterisk.start(
                variables={"SLASHES": "/" * 900, "LONGSLASHES": "/" * 2500, "SHORT": "ok"}
            )
        commands = ami.agi_commands(channel)
        syncs = [c for c in commands if c.startswith("GET FULL VARIABLE agikit-sync-")]
        # One per cut; the long one's rest (1492 bytes) is cut once more while resyncing.
        assert len(syncs) == 4

    run(main())
    assert [s if s == "ok" else "truncated" in s for s in seen] == [True, "ok"] * 3


def test_environment_cut_by_the_encoding_cap_with_spill() -> None:
    """The transcript's slashes1000 case: 1000 '/' in the caller name."""
    seen: list[Any] = []

    async def handler(call: agikit.Call) -> None:
        seen.append(call.env.args)
        seen.append(call.env.calleridname.strip("/"))
        seen.append(await call.get_variable("V"))

    async def main() -> None:
        async with serving(handler) as ami:
            env = environment("1.1", "Local/x@y;2", "arg", "second", callername="/" * 1000)
            ami.asterisk.start(env=env, uniqueid="1.1", variables={"V": "v"})

    run(main())
    assert seen == [("arg", "second"), "", "v"]


def test_environment_cut_by_the_encoding_cap_without_spill() -> None:
    """Under 1024 bytes, but over 2047 once encoded: the end is lost and nothing spills. (The
    NOOP flushes never brought it: each reply was read as an environment line, forever.)"""
    seen: list[Any] = []

    async def handler(call: agikit.Call) -> None:
        seen.append(call.env.uniqueid)
        seen.append(await call.get_variable("V"))

    async def main() -> None:
        async with serving(handler) as ami:
            env = environment("1.2", "Local/x@y;2", "arg", callername="/" * 590)
            assert len(env) < 1024
            channel = ami.asterisk.start(env=env, uniqueid="1.2", variables={"V": "v"})
        assert len(ami.agi_commands(channel)) == 3  # sync, GET VARIABLE, BREAK

    run(main())
    assert seen == ["1.2", "v"]


def test_garbage_in_a_result_fails_that_command_only() -> None:
    seen: list[Any] = []

    def garbage(channel: SimChannel, line: str) -> bytes | None:
        return b"hello there\n" if line == "NOOP garbage" else None

    async def handler(call: agikit.Call) -> None:
        with pytest.raises(ProtocolError, match="hello there"):
            await call.raw("NOOP garbage")
        seen.append(await call.get_variable("V"))

    async def main() -> None:
        async with serving(handler) as ami:
            channel = ami.asterisk.start(variables={"V": "v"})
            channel.script.append(garbage)

    run(main())
    assert seen == ["v"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.integers(0, 3500), st.floats(0, 1), st.sampled_from(["GET", "FULL"])),
        min_size=1,
        max_size=6,
    ),
    st.integers(0, 2),
)
def test_any_reply_size_either_arrives_whole_or_fails_and_resyncs(
    values: list[tuple[int, float, str]], env_args: int
) -> None:
    """Replies of any length and any density of bytes that URL-encode to three characters."""
    rng = random.Random(len(values))
    variables = {}
    for number, (size, density, _) in enumerate(values):
        variables[f"V{number}"] = "".join(
            "/" if rng.random() < density else "x" for _ in range(size)
        )
    outcomes: list[Any] = []

    async def handler(call: agikit.Call) -> None:
        for number, (_, _, kind) in enumerate(values):
            try:
                if kind == "GET":
                    outcomes.append((number, kind, await call.get_variable(f"V{number}")))
                else:
                    outcomes.append((number, kind, await call.get_full_variable(f"${{V{number}}}")))
            except ProtocolError as exc:
                assert "truncated" in str(exc)
                outcomes.append((number, kind, None))
            assert await call.get_variable("CHECK") == "check"

    async def main() -> None:
        async with serving(handler) as ami:
            ami.asterisk.start(*["y" * 400] * env_args, variables={**variables, "CHECK": "check"})

    run(main())
    assert len(outcomes) == len(values)
    for number, kind, value in outcomes:
        full = variables[f"V{number}"]
        if value is not None:
            assert value == (full[:1023] if kind == "GET" else full)


# -- the session ends -------------------------------------------------------------------------
@pytest.mark.parametrize("late_end", [False, True])
def test_failed_command_ends_the_session(late_end: bool) -> None:
    seen: list[Any] = []

    async def handler(call: agikit.Call) -> None:
        with pytest.raises(CommandFailed):
            await call.stream_file("no-such-file")
        with pytest.raises(ConnectionClosed):
            await call.get_variable("V")
        seen.append("done")

    async def main() -> None:
        async with serving(handler) as ami:
            if late_end:  # AsyncAGIEnd in a later read than the failed command's AsyncAGIExec
                ami.asterisk.end_delay = 0.05
            channel = ami.asterisk.start(variables={"V": "v"})
        # Nothing was queued after the failure: not the GET VARIABLE, not ASYNCAGI BREAK.
        assert ami.agi_commands(channel) == ['STREAM FILE no-such-file ""']

    run(main())
    assert seen == ["done"]


def test_hangup_events_before_the_failing_exec_give_hangup() -> None:
    seen: list[Any] = []

    def wait(channel: SimChannel, line: str) -> Outcome | None:
        if line.startswith("WAIT FOR DIGIT"):
            return Outcome(b"200 result=-1\n", code="-1", ends=True, hangup=True)
        return None

    async def handler(call: agikit.Call) -> None:
        await call.answer()
        with pytest.raises(Hangup):
            await call.wait_for_digit(10)
        assert call.hung_up
        with pytest.raises(Hangup):
            await call.get_variable("CHANNEL")  # allowed when dead, but the session is over
        with pytest.raises(Hangup):
            await call.answer()
        seen.append("done")

    async def main() -> None:
        async with serving(handler) as ami:
            channel = ami.asterisk.start()
            channel.script.append(wait)
        assert ami.agi_commands(channel) == ["ANSWER", "WAIT FOR DIGIT 10000"]

    run(main())
    assert seen == ["done"]


def test_hangup_between_commands() -> None:
    seen: list[Any] = []
    box: dict[str, asyncio.Event] = {}

    async def handler(call: agikit.Call) -> None:
        await call.answer()
        await box["gate"].wait()
        assert call.hung_up
        with pytest.raises(Hangup):
            await call.get_variable("V")
        seen.append("done")

    async def main() -> None:
        box["gate"] = asyncio.Event()
        async with serving(handler) as ami:
            channel = ami.asterisk.start()
            while "ANSWER" not in channel.executed:
                await asyncio.sleep(0.001)
            ami.asterisk.hangup(channel)
            box["gate"].set()
        assert ami.agi_commands(channel) == ["ANSWER"]

    run(main())
    assert seen == ["done"]


@pytest.mark.parametrize("own", [False, True], ids=["on-return", "by-the-handler"])
def test_asyncagi_break(own: bool) -> None:
    seen: list[Any] = []

    async def handler(call: agikit.Call) -> None:
        await call.answer()
        if own:
            await call.asyncagi_break()
            with pytest.raises(ConnectionClosed):
                await call.get_variable("V")
            seen.append("closed")

    async def main() -> None:
        async with serving(handler) as ami:
            channel = ami.asterisk.start()
        assert ami.agi_commands(channel) == ["ANSWER", "ASYNCAGI BREAK"]
        assert not channel.in_async

    run(main())
    assert seen == (["closed"] if own else [])


@pytest.mark.parametrize(
    ("how", "error"),
    [("gone", Hangup), ("never-async", ConnectionClosed)],
)
def test_channel_gone_is_a_clean_error(how: str, error: type[Exception]) -> None:
    seen: list[Any] = []
    box: dict[str, asyncio.Event] = {}

    async def handler(call: agikit.Call) -> None:
        await call.answer()
        await box["gate"].wait()
        with pytest.raises(error, match=r"does not exist|Failed to add|hung up"):
            await call.get_variable("V")
        with pytest.raises(error):
            await call.get_variable("V")
        seen.append("done")

    async def main() -> None:
        box["gate"] = asyncio.Event()
        async with serving(handler) as ami:
            channel = ami.asterisk.start()
            while "ANSWER" not in channel.executed:
                await asyncio.sleep(0.001)
            if how == "gone":
                ami.asterisk.vanish(channel)  # no event came (missed, or AMI filters)
            else:
                channel.entered_async = False
            box["gate"].set()
        commands = ami.agi_commands(channel)
        assert commands == ["ANSWER", "GET VARIABLE V"]  # refused, then never sent again

    run(main())
    assert seen == ["done"]


def test_redirect_gives_a_new_session_and_stale_results_are_ignored() -> None:
    seen: list[Any] = []
    box: dict[str, asyncio.Event] = {}

    async def handler(call: agikit.Call) -> None:
        seen.append(call.env.args)
        if call.env.args == ("first",):
            await call.answer()
            await box["gate"].wait()
            with pytest.raises(ConnectionClosed):
                await call.get_variable("V")
        else:
            seen.append(await call.get_variable("V"))

    async def main() -> None:
        box["gate"] = asyncio.Event()
        async with serving(handler) as ami:
            sim = ami.asterisk
            channel = sim.start("first", variables={"V": "v"})
            while "ANSWER" not in channel.executed:
                await asyncio.sleep(0.001)
            # Someone else queued a command on the channel; then an AMI Redirect.
            sim.agi({"Channel": channel.uniqueid, "Command": "NOOP other", "CommandID": "x1"})
            sim.leave(channel)
            sim.enter(channel, environment(channel.uniqueid, channel.name, "second"))
            box["gate"].set()

    run(main())
    assert seen == [("first",), ("second",), "v"]


def test_foreign_results_are_ignored() -> None:
    seen: list[Any] = []

    async def handler(call: agikit.Call) -> None:
        await call.answer()
        seen.append(await call.get_variable("V"))

    async def main() -> None:
        async with serving(handler, delay=0.01) as ami:
            channel = ami.asterisk.start(variables={"V": "v"})
            ami.asterisk.agi(
                {
                    "Channel": channel.uniqueid,
                    "Command": "GET VARIABLE V",
                    "CommandID": "someone-else",
                }
            )

    run(main())
    assert seen == ["v"]


# -- concurrency ------------------------------------------------------------------------------
def test_many_channels_interleaved() -> None:
    count = 60
    done: dict[str, Any] = {}

    async def handler(call: agikit.Call) -> None:
        uid = call.env.uniqueid
        await call.answer()
        await call.set_variable("MINE", uid)
        long = await call.get_full_variable("${LONG}")
        mine = await call.get_variable("MINE")
        done[uid] = (mine, len(long or ""), call.env.args)

    async def main() -> None:
        async with serving(handler, delay=0.001) as ami:
            sim = ami.asterisk
            for number in range(count):
                size = 100 + 50 * number
                sim.start(
                    str(number), *(["z" * 200] * (number % 7)), variables={"LONG": "L" * size}
                )
                if number % 5 == 0:
                    await asyncio.sleep(0.001)

    run(main())
    assert len(done) == count
    for uid, (mine, size, args) in done.items():
        assert mine == uid
        assert size == 100 + 50 * int(args[0])


def test_command_in_flight_is_refused() -> None:
    async def handler(call: agikit.Call) -> None:
        first = asyncio.ensure_future(call.get_variable("V"))
        await asyncio.sleep(0)
        with pytest.raises(CommandInFlight):
            await call.get_variable("V")
        assert await first == "v"

    async def main() -> None:
        async with serving(handler, delay=0.01) as ami:
            ami.asterisk.start(variables={"V": "v"})

    run(main())


def test_a_deadline_on_one_command_keeps_the_session_in_step() -> None:
    seen: list[Any] = []

    async def handler(call: agikit.Call) -> None:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await call.get_variable("A")
        seen.append(await call.get_variable("B"))  # not A's late reply

    async def main() -> None:
        async with serving(handler, delay=0.05) as ami:
            channel = ami.asterisk.start(variables={"A": "a", "B": "b"})
        assert ami.agi_commands(channel) == ["GET VARIABLE A", "GET VARIABLE B", "ASYNCAGI BREAK"]

    run(main())
    assert seen == ["b"]


def test_line_limit_of_the_agi_action() -> None:
    async def handler(call: agikit.Call) -> None:
        room = MAX_COMMAND_BYTES - len("SET VARIABLE X ")
        await call.set_variable("X", "y" * room)
        with pytest.raises(agikit.ArgumentError, match=str(MAX_COMMAND_BYTES)):
            await call.set_variable("X", "y" * (room + 1))

    async def main() -> None:
        async with serving(handler) as ami:
            ami.asterisk.start()

    run(main())


# -- the AMI connection and the server's life -------------------------------------------------
def test_ami_loss_ends_handlers_and_breaks_their_channels_once_back() -> None:
    seen: list[Any] = []

    async def handler(call: agikit.Call) -> None:
        await call.answer()
        with pytest.raises(ConnectionClosed, match="AMI connection was lost"):
            await call.get_variable("V")
        seen.append("closed")

    def stall(channel: SimChannel, line: str) -> Outcome | None:
        if line == "GET VARIABLE V":
            channel.sim.emit([("Event", "AgikitDisconnected"), ("Synthetic", "agikit")])
        return None

    async def main() -> None:
        async with serving(handler) as ami:
            channel = ami.asterisk.start(variables={"V": "v"})
            channel.script.append(stall)
            while not seen:
                await asyncio.sleep(0.001)
            assert ami.agi_commands(channel) == ["ANSWER", "GET VARIABLE V"]
            ami.synthetic("AgikitReconnected")
            while channel.in_async:
                await asyncio.sleep(0.001)
        assert ami.agi_commands(channel)[-1] == "ASYNCAGI BREAK"

    run(main())
    assert seen == ["closed"]


def test_action_failure_of_the_ami_client_ends_the_call() -> None:
    seen: list[Any] = []

    box: dict[str, SimAmi] = {}

    async def handler(call: agikit.Call) -> None:
        await call.answer()
        box["ami"].refuse = AmiDisconnected("not connected to AMI")
        with pytest.raises(ConnectionClosed, match="not connected"):
            await call.get_variable("V")
        seen.append("closed")

    async def main() -> None:
        async with serving(handler) as ami:
            box["ami"] = ami
            ami.asterisk.start()

    run(main())
    assert seen == ["closed"]


def test_stop_lets_running_calls_finish_and_ignores_new_ones() -> None:
    seen: list[Any] = []

    async def handler(call: agikit.Call) -> None:
        await call.answer()
        await asyncio.sleep(0.05)
        seen.append(await call.get_variable("V"))  # while the server stops

    async def main() -> None:
        ami = SimAmi()
        server = AsyncAGIServer(handler, ami)  # type: ignore[arg-type]
        await server.start()
        first = ami.asterisk.start(variables={"V": "v"})
        await asyncio.sleep(0.01)
        stopping = asyncio.ensure_future(server.stop(5))
        await asyncio.sleep(0.01)
        late = ami.asterisk.start()
        await stopping
        assert ami.agi_commands(first) == ["ANSWER", "GET VARIABLE V", "ASYNCAGI BREAK"]
        assert ami.agi_commands(late) == []
        assert not ami.callbacks

    run(main())
    assert seen == ["v"]


def test_stop_grace_cancels_and_hands_channels_back() -> None:
    async def handler(call: agikit.Call) -> None:
        await call.answer()
        await asyncio.sleep(60)

    async def main() -> None:
        ami = SimAmi()
        server = AsyncAGIServer(handler, ami)  # type: ignore[arg-type]
        await server.start()
        channel = ami.asterisk.start()
        await asyncio.sleep(0.01)
        await server.stop(0.05)
        assert ami.agi_commands(channel) == ["ANSWER", "ASYNCAGI BREAK"]
        assert not server.channels

    run(main())


def test_handler_errors_are_logged_and_the_channel_is_handed_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def handler(call: agikit.Call) -> None:
        raise RuntimeError("handler bug")

    async def main() -> None:
        async with serving(handler) as ami:
            channel = ami.asterisk.start()
        assert ami.agi_commands(channel) == ["ASYNCAGI BREAK"]

    with caplog.at_level(logging.ERROR, "agikit.asyncagi"):
        run(main())
    assert "handler bug" in caplog.text


def test_end_before_the_environment_completes_forgets_the_channel() -> None:
    async def handler(call: agikit.Call) -> None:
        raise AssertionError("never runs")

    async def main() -> None:
        async with serving(handler, delay=0.05) as ami:
            channel = ami.asterisk.start("q" * 700, "r" * 500)  # spills: a flush is queued
            ami.asterisk.hangup(channel)  # before it runs

    run(main())


# -- over a real AMI client and a loopback AMI server -----------------------------------------
def test_over_loopback_ami() -> None:
    done: list[Any] = []

    async def handler(call: agikit.Call) -> None:
        await call.answer()
        value = await call.get_full_variable("${LONG}")
        done.append((call.env.args, len(value or "")))

    async def main() -> None:
        async with FakeAmiServer() as ami_server:
            client = AmiClient(
                "127.0.0.1", ami_server.port, "harness", "harness-secret", timeout=2.0
            )
            from ._sim import SimAsterisk, encode

            sim = SimAsterisk(lambda headers: ami_server.broadcast(encode(*headers)))
            sim.serve(ami_server)
            async with client:
                server = AsyncAGIServer(handler, client)
                await server.start()
                for number in range(20):
                    sim.start(str(number), variables={"LONG": "xy" * (200 * number)})
                async with asyncio.timeout(10):
                    while len(done) < 20 or server.channels:
                        await asyncio.sleep(0.01)
                await server.stop(1)

    run(main())
    assert sorted(done) == sorted(((str(n),), 400 * n) for n in range(20))
