"""examples/async_agi_takeover.py: the handler against the fake Asterisk (an App runs the same
under every transport), the AMI side against a stand-in manager, then the whole takeover on
the real Asterisk."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import async_agi_takeover as takeover  # examples/ is on sys.path (conftest.py)
import pytest

from agikit import Call, Hangup
from agikit.ami import AmiClient
from agikit.testing.asterisk import Asterisk, FarEnd, agi_data
from agikit.testing.asterisk._instance import AMI_USER
from agikit.testing.fake import FakeAsterisk, expect, expect_any
from agikit.transports.asyncagi import AsyncAGIServer

from ._ami_stub import AmiStub
from ._support import fastagi_server, run_fastagi

CALLER = {"callerid": "5550100"}


def test_the_caller_takes_the_call_back() -> None:
    fake = FakeAsterisk(
        [
            expect("GET DATA callback-offer 5000 1", reply="200 result=1"),
            expect_any(),  # DATABASE PUT callback 5550100 <time>
            expect('STREAM FILE auth-thankyou ""'),
            expect("HANGUP"),
        ],
        env=CALLER,
    )
    result = run_fastagi(takeover.app, fake, "callback-offer")
    result.assert_ok()
    family, key, stamp = result.commands[1].split()[2:]
    assert (family, key) == ("callback", "5550100") and stamp.isdigit()


def test_the_caller_declines_and_the_handler_returns() -> None:
    fake = FakeAsterisk([expect("GET DATA callback-offer 5000 1", reply="200 result=2")])
    run_fastagi(takeover.app, fake, "callback-offer").assert_ok()


def _watch(stub: AmiStub, after: float) -> tuple[AmiClient, asyncio.Task[None]]:
    ami = AmiClient("127.0.0.1", stub.port, "takeover", "secret", ping_interval=None)
    return ami, asyncio.get_running_loop().create_task(takeover.watch_hold(ami, after))


def _newexten(
    channel: str, uniqueid: str, context: str, priority: str
) -> tuple[tuple[str, str], ...]:
    return (
        ("Event", "Newexten"),
        ("Channel", channel),
        ("Uniqueid", uniqueid),
        ("Context", context),
        ("Exten", "s"),
        ("Priority", priority),
    )


def test_a_call_on_hold_is_redirected_after_the_wait() -> None:
    async def main() -> None:
        async with AmiStub() as stub:
            ami, watcher = _watch(stub, after=0.2)
            async with ami:
                await asyncio.sleep(0.05)  # subscribed
                stub.event(*_newexten("PJSIP/alice-01", "1.1", "queue-hold", "1"))
                stub.event(*_newexten("PJSIP/bob-02", "1.2", "queue-hold", "2"))  # offered once
                stub.event(*_newexten("PJSIP/carol-03", "1.3", "sales", "1"))  # not on hold
                await asyncio.wait_for(stub.redirected.wait(), 2)
                await asyncio.sleep(0.3)  # nothing else follows
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
        [redirect] = stub.actions
        assert [redirect.get(h) for h in ("Action", "Channel", "Context", "Exten", "Priority")] == [
            "Redirect",
            "PJSIP/alice-01",
            "agikit-takeover",
            "s",
            "1",
        ]

    asyncio.run(main())


def test_a_caller_who_hangs_up_first_is_left_alone() -> None:
    async def main() -> None:
        async with AmiStub() as stub:
            ami, watcher = _watch(stub, after=0.3)
            async with ami:
                await asyncio.sleep(0.05)
                stub.event(*_newexten("PJSIP/alice-01", "1.1", "queue-hold", "1"))
                await asyncio.sleep(0.1)
                stub.event(("Event", "Hangup"), ("Channel", "PJSIP/alice-01"), ("Uniqueid", "1.1"))
                await asyncio.sleep(0.5)
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
        assert stub.actions == []

    asyncio.run(main())


def test_take_over_reports_a_channel_that_is_gone() -> None:
    async def main() -> tuple[bool, bool]:
        async with AmiStub() as stub:
            stub.gone.add("PJSIP/gone-01")
            async with AmiClient("127.0.0.1", stub.port, "u", "s", ping_interval=None) as ami:
                return (
                    await takeover.take_over(ami, "PJSIP/here-01"),
                    await takeover.take_over(ami, "PJSIP/gone-01"),
                )

    assert asyncio.run(main()) == (True, False)


# -- the real Asterisk ------------------------------------------------------------------------


@contextlib.contextmanager
def _asyncagi_app(asterisk: Asterisk, after: float) -> Iterator[None]:
    """This example's AMI side, on its own event loop in a thread: the Async AGI server and
    the hold watcher, logged in to the harness Asterisk."""
    ready, box = threading.Event(), {}

    def run() -> None:
        async def main() -> None:
            ami = AmiClient("127.0.0.1", asterisk.ami_port, AMI_USER, asterisk.ami_secret)
            async with ami:
                server = AsyncAGIServer(takeover.app, ami)
                await server.start()
                watcher = asyncio.create_task(takeover.watch_hold(ami, after, "agikit-async"))
                box["loop"], box["stop"] = asyncio.get_running_loop(), asyncio.Event()
                ready.set()
                await box["stop"].wait()
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
                await server.stop(5)

        asyncio.run(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(15)


def _on_hold(prompt: str) -> Callable[[Call], Awaitable[None]]:
    """Stands in for [queue-hold] (the harness has no such context): a FastAGI session that
    waits, after pointing the harness's [agikit-async] context (where the takeover sends the
    call) at the offer. Asterisk ends the session when the Redirect takes the channel away."""

    async def hold(call: Call) -> None:
        await call.answer()
        offer = agi_data("agi:async", [f"/callback-offer?prompt={prompt}"])
        await call.set_variable("AGIKIT_AGI_DATA", offer)
        with contextlib.suppress(Hangup):
            while True:
                await call.wait_for_digit(1)

    return hold


@pytest.mark.parametrize("accepts", [True, False], ids=["accepts", "declines"])
def test_on_asterisk_a_call_on_hold_is_taken_over(
    asterisk: Asterisk, monkeypatch: pytest.MonkeyPatch, accepts: bool
) -> None:
    # The harness call runs AGI() at priority 2 of [agikit-fastagi]: call that the hold.
    monkeypatch.setattr(takeover, "HOLD_CONTEXT", "agikit-fastagi")
    monkeypatch.setattr(takeover, "HOLD_PRIORITY", "2")
    caller = "5550101" if accepts else "5550102"
    far_end: list[Any] = [FarEnd.wait(5), FarEnd.dtmf("1")] if accepts else [FarEnd.wait(30)]
    prompt = "demo-instruct" if accepts else "beep"  # the caller presses 1 while it plays
    with fastagi_server(_on_hold(prompt)) as hold, _asyncagi_app(asterisk, after=2):
        call = asterisk.originate_fastagi(
            hold.bound_port, caller_id=caller, far_end=far_end, report=["AGISTATUS"]
        )
        result = call.wait(60)
    log = result.log_text()
    assert 'AGI("Local/' in log and "agi:async" in log, log  # it did enter Async AGI
    logged = asterisk.ami.command(f"database get callback {caller}")
    if accepts:
        assert result.agi_status == "HANGUP", log  # the handler hung up the call
        assert not result.after_agi
        assert "Value:" in logged, logged
        asterisk.ami.command(f"database del callback {caller}")
    else:
        assert result.agi_status == "SUCCESS", log
        assert result.after_agi  # ASYNCAGI BREAK: back to the dialplan
        assert "Value:" not in logged
