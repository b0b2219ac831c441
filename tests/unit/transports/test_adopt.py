"""The asyncio side of process AGI: the worker thread that runs commands for a loop."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import agikit
from agikit.errors import CommandFailed, CommandInFlight, ConnectionClosed, Hangup
from agikit.testing.fake import FakeAsterisk
from agikit.transports._adopt import _Worker

ENVIRONMENT = FakeAsterisk().environment("x.py")


class _Runner:
    """Stands for ``StdioRunner``: ``run`` blocks on the worker thread like a real exchange.

    ``hangup_after`` simulates SIGHUP whose Python handler runs on the main thread only once
    the thread is done with the reply (which it may, when the signal went to the thread).
    """

    def __init__(
        self,
        outcome: BaseException | None = None,
        hangup_after: bool = False,
        probe_finds_hangup: bool = False,
        probe_closes: bool = False,
    ) -> None:
        self.probe_closes = probe_closes
        self.outcome = outcome
        self.hangup_after = hangup_after
        self.probe_finds_hangup = probe_finds_hangup
        self.hung_up = False
        self.sent: list[bytes] = []

    def run(self, request: Any, probe: bool = True) -> Any:
        assert not probe, "the worker leaves the hangup probe to the loop's thread"
        self.sent.append(request.line)
        if self.hangup_after:
            self.hung_up = True
        if self.outcome is not None:
            raise self.outcome
        return None

    def probe_hangup(self) -> None:
        self.sent.append(b"NOOP")
        if self.probe_finds_hangup:
            self.hung_up = True
        if self.probe_closes:
            raise ConnectionClosed("Asterisk closed the AGI stream while 'NOOP' ran")


class _View:
    def __init__(self, worker: _Worker, runner: _Runner) -> None:
        self._worker = worker
        self._runner = runner
        self.environment = ENVIRONMENT

    @property
    def hung_up(self) -> bool:
        return self._runner.hung_up

    def run(self, request: Any) -> Any:
        return self._worker.command(request)


def _run(runner: _Runner, body: Any) -> Any:
    async def main() -> Any:
        worker = _Worker(runner)  # type: ignore[arg-type]
        try:
            return await body(agikit.Call(_View(worker, runner)))  # type: ignore[arg-type]
        finally:
            worker.stop()

    return asyncio.run(main())


def test_a_failure_becomes_hangup_when_the_hangup_is_recorded_late() -> None:
    failure = CommandFailed("playback failed", command='STREAM FILE x ""', reply=None)
    runner = _Runner(failure, hangup_after=True)

    async def body(call: agikit.Call) -> BaseException:
        with pytest.raises(Hangup) as info:
            await call.stream_file("x")
        return info.value

    error = _run(runner, body)
    assert error.command == 'STREAM FILE x ""' and error.__cause__ is failure

    assert runner.sent == [b'STREAM FILE x ""']  # known by then: no probe


@pytest.mark.parametrize("hangup", [True, False], ids=["hangup", "no-hangup"])
def test_an_unexplained_failure_is_probed_then_decided(hangup: bool) -> None:
    failure = CommandFailed("playback failed", command='STREAM FILE x ""', reply=None)
    runner = _Runner(failure, probe_finds_hangup=hangup)

    async def body(call: agikit.Call) -> BaseException:
        with pytest.raises((CommandFailed, Hangup)) as info:
            await call.stream_file("x")
        return info.value

    error = _run(runner, body)
    assert runner.sent == [b'STREAM FILE x ""', b"NOOP"]
    if hangup:
        assert type(error) is Hangup and error.__cause__ is failure
    else:
        assert error is failure


@pytest.mark.parametrize("hangup", [True, False], ids=["hangup", "no-hangup"])
def test_a_probe_ended_by_the_end_of_the_stream(hangup: bool) -> None:
    # AGIEXITONHANGUP: SIGHUP, then Asterisk closes before it answers the probe.
    failure = CommandFailed("playback failed", command='STREAM FILE x ""', reply=None)
    runner = _Runner(failure, probe_finds_hangup=hangup, probe_closes=True)

    async def body(call: agikit.Call) -> BaseException:
        with pytest.raises((Hangup, ConnectionClosed)) as info:
            await call.stream_file("x")
        return info.value

    error = _run(runner, body)
    if hangup:
        assert type(error) is Hangup and error.__cause__ is failure
    else:
        assert type(error) is ConnectionClosed


def test_end_of_stream_becomes_hangup_when_the_hangup_is_recorded_late() -> None:
    runner = _Runner(ConnectionClosed("closed"), hangup_after=True)

    async def body(call: agikit.Call) -> BaseException:
        with pytest.raises(Hangup) as info:
            await call.noop()
        return info.value

    error = _run(runner, body)
    assert error.command == "NOOP" and isinstance(error.__cause__, ConnectionClosed)


def test_a_dead_channel_command_failing_stays_command_failed() -> None:
    failure = CommandFailed("no such application", command="EXEC Nope", reply=None)
    runner = _Runner(failure, hangup_after=True)

    async def body(call: agikit.Call) -> None:
        with pytest.raises(CommandFailed) as info:
            await call.exec("Nope")
        assert type(info.value) is CommandFailed

    _run(runner, body)


def test_without_hangup_errors_pass_through() -> None:
    failure = CommandFailed("playback failed", command='STREAM FILE x ""', reply=None)
    runner = _Runner(failure)

    async def body(call: agikit.Call) -> None:
        with pytest.raises(CommandFailed) as info:
            await call.stream_file("x")
        assert info.value is failure

    _run(runner, body)


def test_known_hangup_refuses_live_commands_on_the_loop() -> None:
    runner = _Runner()
    runner.hung_up = True

    async def body(call: agikit.Call) -> None:
        with pytest.raises(Hangup):
            await call.answer()
        await call.noop()

    _run(runner, body)
    assert runner.sent == [b"NOOP"]


def test_second_command_while_one_runs_is_refused() -> None:
    import threading

    gate = threading.Event()

    class Slow(_Runner):
        def run(self, request: Any, probe: bool = True) -> Any:
            gate.wait(5)
            return super().run(request, probe)

    runner = Slow()

    async def body(call: agikit.Call) -> list[Any]:
        first = asyncio.ensure_future(call.answer())
        await asyncio.sleep(0.01)
        with pytest.raises(CommandInFlight, match="NOOP"):
            await call.noop()
        gate.set()
        await first
        await call.noop()  # free again
        return runner.sent

    assert _run(runner, body) == [b"ANSWER", b"NOOP"]


def test_after_a_cancelled_command_the_next_one_is_queued_behind_it() -> None:
    import threading

    gate = threading.Event()
    order: list[str] = []

    class Slow(_Runner):
        def run(self, request: Any, probe: bool = True) -> Any:
            order.append(f"start {request.line.decode()}")
            if request.line == b"ANSWER":
                gate.wait(5)
            order.append(f"end {request.line.decode()}")
            return super().run(request, probe)

    runner = Slow()

    async def body(call: agikit.Call) -> None:
        first = asyncio.ensure_future(call.answer())
        await asyncio.sleep(0.01)
        first.cancel()
        second = asyncio.ensure_future(call.noop())
        await asyncio.sleep(0.05)
        assert not second.done()  # waits for ANSWER's exchange to end
        gate.set()
        await second

    _run(runner, body)
    assert order == ["start ANSWER", "end ANSWER", "start NOOP", "end NOOP"]
