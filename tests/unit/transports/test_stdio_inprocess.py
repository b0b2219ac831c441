"""The process-AGI transport (``agikit.serve``) against the fake Asterisk, in this process.

Every test handler is an ``async def`` run three ways (see ``_support.MODES``): through a
``SyncCall``, on an event loop, and loop-free. A hangup is a real SIGHUP to this process,
handled by ``serve`` (``handle_sighup=True``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from typing import Any

import pytest

import agikit
from agikit import _stdio as stdio  # the code of agikit.transports.stdio: patch it there
from agikit.errors import (
    AGIError,
    CommandFailed,
    CommandInFlight,
    ConnectionClosed,
    Hangup,
    InvalidCommand,
    ProtocolError,
    UsageError,
)
from agikit.testing.fake import (
    DEAD_CHANNEL,
    NO_REPLY,
    USAGE_NOT_AVAILABLE,
    FakeAsterisk,
    Raw,
    close_stream,
    end_session,
    expect,
    expect_rest,
    hangup,
    send_raw,
    usage_reply,
)

from ._support import MODES, serve_in_process

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# ------------------------------------------------------------------------------ results


def test_commands_return_typed_results(mode: str) -> None:
    fake = FakeAsterisk(
        [
            expect("ANSWER"),
            expect("STREAM FILE welcome #", reply="200 result=35 endpos=8000"),
            expect("GET VARIABLE FOO", reply="200 result=1 (a (b) c)"),
            expect("GET VARIABLE UNSET", reply="200 result=0"),
            expect("GET DATA enter 5000 4", reply="200 result=1234"),
            expect("GET DATA enter 5000 4", reply="200 result= (timeout)"),
            expect(
                "GOSUB sub s 1",
                reply=["100 result=0 Trying...", "200 result=0 Gosub complete"],
            ),
            expect("CHANNEL STATUS", reply="200 result=6"),
            expect('NEW COMMAND "x y"', reply="200 result=7 (data) k=v"),
            expect("SET VARIABLE X 1"),
        ],
        args=["first", "second arg"],
        env={"callerid": "5551234"},
    )
    seen: dict[str, Any] = {}

    async def handler(call: Any) -> str:
        seen["env"] = (call.env.request, list(call.env.args), call.env.callerid)
        seen["answer"] = await call.answer()
        seen["stream"] = await call.stream_file("welcome", "#")
        seen["var"] = await call.get_variable("FOO")
        seen["unset"] = await call.get_variable("UNSET")
        seen["data"] = await call.get_data("enter", 5, 4)
        seen["timeout"] = await call.get_data("enter", 5, 4)
        seen["gosub"] = await call.gosub("sub", "s", 1)
        seen["status"] = await call.channel_status()
        seen["raw"] = await call.raw("NEW COMMAND", "x y")
        seen["set"] = await call.set_variable("X", "1")
        seen["hung_up"] = call.hung_up
        return "ignored"

    served = serve_in_process(fake, handler, mode, request="ivr.py")
    served.result.assert_ok()
    assert served.status == 0
    assert seen["env"] == ("ivr.py", ["first", "second arg"], "5551234")
    assert seen["answer"] is None
    assert (seen["stream"].digit, seen["stream"].endpos) == ("#", 8000)
    assert seen["var"] == "a (b) c" and seen["unset"] is None
    assert (seen["data"].digits, seen["data"].timed_out) == ("1234", False)
    assert (seen["timeout"].digits, seen["timeout"].timed_out) == ("", True)
    assert seen["gosub"].returned is True
    assert seen["status"] == 6
    assert seen["raw"].code == 200 and seen["raw"].result == "7"
    assert seen["raw"].lines == (b"200 result=7 (data) k=v",)
    assert seen["hung_up"] is False


def test_error_replies_raise_typed_errors_and_the_stream_stays_in_step(mode: str) -> None:
    fake = FakeAsterisk(
        [
            expect("FOO BAR", reply="510 Invalid or unknown command"),
            expect("STREAM FILE", reply=usage_reply("Usage: STREAM FILE <filename>")),
            expect("SAY NUMBER x", reply=USAGE_NOT_AVAILABLE),
            expect("CHANNEL STATUS", reply=DEAD_CHANNEL),  # an intercept routine
            expect("GOSUB sub s 1", reply="503 result=-2 Memory allocation failure"),
            expect("NOOP"),  # the hangup probe after a live-channel failure
            expect("EXEC Nope", reply="200 result=-2"),  # dead-channel command: no probe
            expect("VERBOSE done 1"),
        ]
    )
    caught: list[tuple[type[BaseException], str, bytes | None, str]] = []

    async def handler(call: Any) -> None:
        attempts = [
            lambda: call.raw("FOO BAR"),
            lambda: call.raw("STREAM FILE"),
            lambda: call.raw("SAY NUMBER", "x"),
            lambda: call.channel_status(),
            lambda: call.gosub("sub", "s", 1),
            lambda: call.exec("Nope"),
        ]
        for attempt in attempts:
            try:
                await attempt()
            except AGIError as error:
                assert hasattr(error, "command"), error
                reply = error.reply.lines[-1] if error.reply is not None else None
                usage = error.usage if isinstance(error, UsageError) else ""
                caught.append((type(error), error.command, reply, usage))
            else:
                raise AssertionError("no error")
        await call.verbose("done", 1)

    served = serve_in_process(fake, handler, mode)
    served.result.assert_ok()
    assert served.status == 0
    assert caught == [
        (InvalidCommand, "FOO BAR", b"510 Invalid or unknown command", ""),
        (UsageError, "STREAM FILE", b"520 End of proper usage.", "Usage: STREAM FILE <filename>"),
        (UsageError, "SAY NUMBER x", USAGE_NOT_AVAILABLE.encode(), ""),
        (Hangup, "CHANNEL STATUS", DEAD_CHANNEL.encode(), ""),
        (CommandFailed, "GOSUB sub s 1", b"503 result=-2 Memory allocation failure", ""),
        (CommandFailed, "EXEC Nope", b"200 result=-2", ""),
    ]


def test_an_unknown_reply_code_is_a_protocol_error_and_ends_the_session(
    mode: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeAsterisk([expect("ANSWER", reply="600 result=0 what")], timeout=2)
    later: list[BaseException] = []

    async def handler(call: Any) -> None:
        try:
            await call.answer()
        finally:
            try:
                await call.noop()  # never sent: the session cannot be trusted any more
            except ProtocolError as error:
                later.append(error)

    served = serve_in_process(fake, handler, mode)
    assert served.status == 1
    assert served.sent() == ["ANSWER"]
    assert len(later) == 1
    err = capsys.readouterr().err
    assert "agikit.errors.ProtocolError" in err and "'ANSWER'" in err


# ------------------------------------------------------------------------------ hangups


def test_failure_then_hangup_before_the_probe_reply_raises_hangup(mode: str) -> None:
    fake = FakeAsterisk(
        [
            expect('STREAM FILE x ""', reply="200 result=-1 endpos=0"),
            expect("NOOP", hangup_before_reply=True),
            expect("SET VARIABLE CLEANUP done"),
        ]
    )
    errors: list[BaseException] = []

    async def handler(call: Any) -> None:
        try:
            await call.stream_file("x")
        except Hangup as error:
            errors.append(error)
            raise
        finally:
            await call.set_variable("CLEANUP", "done")  # allowed on a dead channel
            try:
                await call.answer()  # not sent: it needs a live channel
            except Hangup as error:
                errors.append(error)

    served = serve_in_process(fake, handler, mode)
    served.result.assert_ok()
    assert served.status == 0  # a hangup is a normal end
    probe, refused = errors
    assert probe.command == 'STREAM FILE x ""'
    assert probe.reply is not None and probe.reply.lines == (b"200 result=-1 endpos=0",)
    assert isinstance(probe.__cause__, CommandFailed)
    assert refused.command == "ANSWER" and refused.reply is None
    assert served.sent() == ['STREAM FILE x ""', "NOOP", "SET VARIABLE CLEANUP done"]


@pytest.mark.parametrize("blocking_mode", ["sync", "loop-free"])
def test_sighup_handled_just_after_the_failure_reply_raises_hangup(
    blocking_mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SIGHUP's Python handler runs at any bytecode: here after the transport read the reply
    # (so complete() is told "not hung up") but before it decides whether to probe.
    real_complete = stdio.complete

    def complete_then_sighup(request: Any, reply: Any, hung_up: bool) -> Any:
        signal.raise_signal(signal.SIGHUP)
        return real_complete(request, reply, hung_up)

    monkeypatch.setattr(stdio, "complete", complete_then_sighup)
    fake = FakeAsterisk(
        [
            expect('STREAM FILE x ""', reply="200 result=-1 endpos=0"),
            expect("SET VARIABLE CLEANUP done"),  # no NOOP probe: the hangup is known
        ]
    )
    errors: list[BaseException] = []

    async def handler(call: Any) -> None:
        try:
            await call.stream_file("x")
        except AGIError as error:
            errors.append(error)
        await call.set_variable("CLEANUP", "done")

    served = serve_in_process(fake, handler, blocking_mode)
    served.result.assert_ok()
    [error] = errors
    assert type(error) is Hangup
    assert isinstance(error.__cause__, CommandFailed)
    assert served.sent() == ['STREAM FILE x ""', "SET VARIABLE CLEANUP done"]


def test_failure_without_hangup_raises_the_original_command_failed(mode: str) -> None:
    fake = FakeAsterisk(
        [
            expect('STREAM FILE missing ""', reply="200 result=-1 endpos=0"),
            expect("NOOP"),
            expect("ANSWER"),
        ]
    )
    errors: list[BaseException] = []

    async def handler(call: Any) -> None:
        try:
            await call.stream_file("missing")
        except CommandFailed as error:
            errors.append(error)
        await call.answer()

    served = serve_in_process(fake, handler, mode)
    served.result.assert_ok()
    assert served.status == 0
    [error] = errors
    assert type(error) is CommandFailed
    assert error.command == 'STREAM FILE missing ""'
    assert error.reply is not None and error.reply.lines == (b"200 result=-1 endpos=0",)


def test_failure_when_the_session_ends_during_the_probe(mode: str) -> None:
    # AGIEXITONHANGUP: the notification, then Asterisk closes the pipes before answering NOOP.
    fake = FakeAsterisk(
        [
            expect('STREAM FILE x ""', reply="200 result=-1 endpos=0"),
            expect("NOOP", hangup_before_reply=True),
        ],
        exit_on_hangup=True,
    )
    errors: list[BaseException] = []

    async def handler(call: Any) -> None:
        try:
            await call.stream_file("x")
        except Hangup as error:
            errors.append(error)
            raise

    served = serve_in_process(fake, handler, mode)
    served.result.assert_ok()
    assert served.status == 0
    [error] = errors
    assert error.command == 'STREAM FILE x ""'


def test_dead_mode_sends_only_dead_channel_commands(mode: str) -> None:
    fake = FakeAsterisk(
        [
            expect("ANSWER", hangup_before_reply=True),  # 511: the channel is dead now
            expect("SET VARIABLE A 1"),
            expect("GET VARIABLE DIALSTATUS", reply="200 result=1 (ANSWER)"),
            expect("VERBOSE bye 1"),
            expect("DATABASE PUT f k v"),
            expect("NOOP"),
            expect("EXEC Log NOTICE,x"),
            expect("ANSWER"),  # raw() is always sent: Asterisk decides (511)
        ]
    )
    refused: list[str] = []
    seen: dict[str, Any] = {}

    async def handler(call: Any) -> None:
        try:
            await call.answer()
        except Hangup as error:
            seen["first"] = (error.reply.lines if error.reply else None, call.hung_up)
        for attempt in (
            lambda: call.answer(),
            lambda: call.stream_file("beep"),
            lambda: call.channel_status(),
            lambda: call.hangup(),
            lambda: call.say_digits("123"),
            lambda: call.wait_for_digit(1),
            lambda: call.set_context("x"),
            lambda: call.gosub("sub", "s", 1),
        ):
            try:
                await attempt()
            except Hangup as error:
                assert error.reply is None  # known without asking Asterisk
                refused.append(error.command)
        await call.set_variable("A", "1")
        seen["dialstatus"] = await call.get_variable("DIALSTATUS")
        await call.verbose("bye", 1)
        await call.database_put("f", "k", "v")
        await call.noop()
        seen["exec"] = await call.exec("Log", "NOTICE", "x")
        try:
            await call.raw("ANSWER")
        except Hangup as error:
            seen["raw"] = error.reply.lines if error.reply else None

    served = serve_in_process(fake, handler, mode)
    served.result.assert_ok()
    assert served.status == 0
    assert seen["first"] == ((DEAD_CHANNEL.encode(),), True)
    assert refused == [
        "ANSWER",
        'STREAM FILE beep ""',
        "CHANNEL STATUS",
        "HANGUP",
        'SAY DIGITS 123 ""',
        "WAIT FOR DIGIT 1000",
        "SET CONTEXT x",
        "GOSUB sub s 1",
    ]
    assert seen["dialstatus"] == "ANSWER" and seen["exec"] == 0
    assert seen["raw"] == (DEAD_CHANNEL.encode(),)
    assert served.result.hung_up and served.result.agi_status == "HANGUP"


def test_hangup_between_commands_is_seen_before_the_next_one(mode: str) -> None:
    fake = FakeAsterisk([expect("ANSWER"), hangup(), expect("VERBOSE gone 1")])

    async def handler(call: Any) -> None:
        await call.answer()
        deadline = time.monotonic() + 5
        while not call.hung_up and time.monotonic() < deadline:
            time.sleep(0.005)  # the signal handler runs in this (the main) thread
        assert call.hung_up
        await call.verbose("gone", 1)
        await call.stream_file("never-sent")

    served = serve_in_process(fake, handler, mode)
    served.result.assert_ok()
    assert served.status == 0
    assert served.sent() == ["ANSWER", "VERBOSE gone 1"]


def test_finally_blocks_run_when_the_hangup_ends_the_handler(mode: str) -> None:
    fake = FakeAsterisk(
        [
            expect('EXEC Dial "PJSIP/bob,30"', reply="200 result=-1", hangup_before_reply=True),
            expect("GET VARIABLE DIALSTATUS", reply="200 result=1 (CANCEL)"),
            expect("DATABASE PUT calls 1 CANCEL"),
        ]
    )
    order: list[str] = []

    async def handler(call: Any) -> None:
        try:
            try:
                await call.exec("Dial", "PJSIP/bob,30")
                await call.stream_file("after-dial")  # the channel is dead: Hangup, not sent
            finally:
                order.append("inner finally")
                status = await call.get_variable("DIALSTATUS")
                await call.database_put("calls", "1", status)
        finally:
            order.append("outer finally")

    served = serve_in_process(fake, handler, mode)
    served.result.assert_ok()
    assert served.status == 0
    assert order == ["inner finally", "outer finally"]


def test_sighup_handler_is_restored_after_serve() -> None:
    before = signal.getsignal(signal.SIGHUP)
    served = serve_in_process(FakeAsterisk([expect("NOOP")]), _noop_handler, "asyncio")
    assert served.status == 0
    assert signal.getsignal(signal.SIGHUP) is before


async def _noop_handler(call: Any) -> None:
    await call.noop()


def test_without_handle_sighup_serve_leaves_sighup_alone() -> None:
    before = signal.getsignal(signal.SIGHUP)
    seen: list[Any] = []

    def handler(call: agikit.SyncCall) -> None:
        seen.append(signal.getsignal(signal.SIGHUP))
        call.noop()

    served = serve_in_process(FakeAsterisk([expect("NOOP")]), handler, sighup=False)
    assert served.status == 0 and seen == [before]


# ------------------------------------------------------------------------------ exit status


@pytest.mark.parametrize(
    ("raised", "status"),
    [
        (None, 0),
        (Hangup("gone", command="ANSWER", reply=None), 0),
        (ValueError("a bug in the handler"), 1),
        (CommandFailed("no such file", command="STREAM FILE x", reply=None), 1),
        (ConnectionClosed("closed"), 1),
    ],
    ids=["return", "hangup", "bug", "command-failed", "closed"],
)
def test_exit_status(
    mode: str, raised: BaseException | None, status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    async def handler(call: Any) -> None:
        await call.noop()
        if raised is not None:
            raise raised

    served = serve_in_process(FakeAsterisk([expect("NOOP")]), handler, mode)
    served.result.assert_ok()
    assert served.status == status
    err = capsys.readouterr().err
    if status:
        assert "Traceback (most recent call last)" in err
        assert f"{type(raised).__name__}: {raised}" in err
    else:
        assert err == ""


def test_connection_closed_after_the_hangup_exits_0(mode: str) -> None:
    fake = FakeAsterisk([expect("NOOP", hangup_before_reply=True)])

    async def handler(call: Any) -> None:
        await call.noop()
        raise ConnectionClosed("Asterisk went away after the hangup")

    served = serve_in_process(fake, handler, mode)
    assert served.status == 0


def test_sync_handler_returning_an_awaitable_is_an_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def body(call: Any) -> None:
        await call.noop()

    def handler(call: agikit.SyncCall) -> Any:
        return body(call)  # a coroutine that would never run

    served = serve_in_process(FakeAsterisk(), handler)
    assert served.status == 1
    assert "an async def function" in capsys.readouterr().err


def test_functools_partial_of_an_async_handler_gets_a_call(mode: str) -> None:
    import functools

    seen: list[str] = []

    async def handler(call: Any, tag: str) -> None:
        seen.append(f"{tag}: {type(call).__name__}")
        await call.noop()

    served = serve_in_process(
        FakeAsterisk([expect("NOOP")]), functools.partial(handler, tag="p"), "asyncio"
    )
    served.result.assert_ok()
    assert seen == ["p: Call"]


# ------------------------------------------------------------------------------ async handlers


def test_concurrent_commands_raise_command_in_flight() -> None:
    fake = FakeAsterisk([expect("ANSWER", delay=0.2), expect("NOOP")])
    seen: list[Any] = []

    async def handler(call: agikit.Call) -> None:
        seen.extend(
            await asyncio.gather(call.answer(), call.get_variable("X"), return_exceptions=True)
        )
        await call.noop()  # the stream is still in step

    served = serve_in_process(fake, handler, "asyncio")
    served.result.assert_ok()
    assert served.status == 0
    assert seen[0] is None and isinstance(seen[1], CommandInFlight)
    assert "GET VARIABLE X" in str(seen[1])
    assert served.sent() == ["ANSWER", "NOOP"]


def test_after_a_cancelled_command_the_next_one_waits_for_its_reply() -> None:
    # A timeout stops the wait, not the command: Asterisk still sends STREAM FILE's reply, and
    # the next command goes only after it (else its reply would be taken for GET VARIABLE's).
    fake = FakeAsterisk(
        [
            expect('STREAM FILE long ""', delay=0.4, reply="200 result=0 endpos=100"),
            expect("GET VARIABLE X", reply="200 result=1 (mine)"),
        ]
    )
    seen: list[Any] = []

    async def handler(call: agikit.Call) -> None:
        started = time.monotonic()
        try:
            await asyncio.wait_for(call.stream_file("long"), 0.05)
        except TimeoutError:
            seen.append("timed out")
        seen.append(await call.get_variable("X"))
        seen.append(time.monotonic() - started >= 0.35)

    served = serve_in_process(fake, handler, "asyncio")
    served.result.assert_ok()
    assert seen == ["timed out", "mine", True]


def test_async_handler_with_tasks_and_timeouts_on_a_loop() -> None:
    fake = FakeAsterisk(
        [
            expect("ANSWER"),
            expect("GET VARIABLE A", reply="200 result=1 (1)"),
            expect("GET VARIABLE B", reply="200 result=1 (2)"),
            expect("VERBOSE x 1"),
        ]
    )
    seen: list[Any] = []

    async def handler(call: agikit.Call) -> None:
        await asyncio.sleep(0.01)
        await call.answer()
        seen.append(await asyncio.create_task(call.get_variable("A")))
        seen.append(await asyncio.wait_for(call.get_variable("B"), 5))
        other = threading.current_thread() is threading.main_thread()
        seen.append(other)
        await call.verbose("x", 1)

    served = serve_in_process(fake, handler, "asyncio")
    served.result.assert_ok()
    assert seen == ["1", "2", True]


def test_async_failure_with_hangup_on_a_loop_is_hangup() -> None:
    """On a loop the commands run on a thread while SIGHUP's handler runs on the main thread;
    however the two interleave, a failure that comes with a hangup notice is Hangup."""
    fake = FakeAsterisk(
        [
            expect('STREAM FILE x ""', reply="200 result=-1 endpos=0", hangup_before_reply=True),
            expect_rest(),  # NOOP: from the probe, if the thread had not seen the hangup yet
        ]
    )
    errors: list[BaseException] = []

    async def handler(call: agikit.Call) -> None:
        try:
            await call.stream_file("x")
        except Hangup as error:
            errors.append(error)
        assert call.hung_up

    served = serve_in_process(fake, handler, "asyncio")
    served.result.assert_ok()
    assert served.status == 0
    [error] = errors
    assert error.command == 'STREAM FILE x ""'
    assert error.reply is not None and error.reply.lines == (b"200 result=-1 endpos=0",)


def test_async_handler_without_asyncio_runs_loop_free() -> None:
    threads: list[bool] = []

    async def handler(call: agikit.Call) -> None:
        threads.append(threading.current_thread() is threading.main_thread())
        await call.answer()
        await call.noop()

    served = serve_in_process(
        FakeAsterisk([expect("ANSWER"), expect("NOOP")]), handler, "loop-free"
    )
    served.result.assert_ok()
    assert threads == [True]


def test_async_handler_audio_outside_eagi_is_a_clear_error(mode: str) -> None:
    errors: list[str] = []

    async def handler(call: Any) -> None:
        try:
            call.audio  # noqa: B018
        except (AGIError, AttributeError) as error:
            errors.append(f"{type(error).__name__}: {error}")

    served = serve_in_process(FakeAsterisk(), handler, mode)
    assert served.status == 0
    if mode == "sync":
        assert errors == ["AttributeError: 'SyncCall' object has no attribute 'audio'"]
    else:
        assert errors == ["AGIError: no caller audio: this is not an EAGI session (use EAGI())"]


# ------------------------------------------------------------------------------ broken peers


def test_a_stray_reply_between_commands_is_caught_before_the_next_command(
    mode: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # An extra reply (as EXEC of an application returning 1 sends): taken as the next
    # command's reply, it would shift every later reply by one.
    fake = FakeAsterisk([expect("ANSWER"), send_raw("200 result=1\n"), expect("NOOP")], timeout=2)

    async def handler(call: Any) -> None:
        await call.answer()
        time.sleep(0.2)  # the stray line is in the pipe now
        await call.noop()

    served = serve_in_process(fake, handler, mode)
    assert served.status == 1
    assert served.sent() == ["ANSWER"]  # NOOP was never sent
    err = capsys.readouterr().err
    assert "ProtocolError: a line arrived while no command was waiting" in err


def test_a_stray_partial_line_between_commands_is_caught(
    mode: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeAsterisk([expect("ANSWER"), send_raw("200 res"), expect("NOOP")], timeout=2)
    errors: list[BaseException] = []

    async def handler(call: Any) -> None:
        await call.answer()
        time.sleep(0.2)
        for _ in range(2):
            try:
                await call.noop()
            except ProtocolError as error:
                errors.append(error)

    served = serve_in_process(fake, handler, mode)
    assert served.status == 0
    assert served.sent() == ["ANSWER"]
    # The stray bytes arrive with ANSWER's reply or after it: caught at the next command.
    stray = "Asterisk sent data while no command was waiting for a reply: b'200 res'"
    assert len(errors) == 2 and all(stray in str(error) for error in errors)
    assert str(errors[1]) == f"the session is broken by an earlier error: {stray}"


def test_end_of_stream_between_commands_is_seen_before_sending(mode: str) -> None:
    fake = FakeAsterisk([expect("ANSWER"), close_stream()])
    errors: list[BaseException] = []

    async def handler(call: Any) -> None:
        await call.answer()
        time.sleep(0.2)
        try:
            await call.noop()
        except ConnectionClosed as error:
            errors.append(error)

    served = serve_in_process(fake, handler, mode)
    served.result.assert_ok()
    assert served.status == 0
    [error] = errors
    assert str(error) == "Asterisk has closed the AGI stream: 'NOOP' not sent"


@pytest.mark.parametrize(
    ("steps", "error", "message"),
    [
        (
            [expect("ANSWER", reply=Raw(b"200 res")), close_stream()],
            ConnectionClosed,
            "the stream ended inside a line: b'200 res' (awaiting the reply to 'ANSWER')",
        ),
        (
            [expect("ANSWER", reply=NO_REPLY), close_stream()],
            ConnectionClosed,
            "Asterisk closed the AGI stream while 'ANSWER' ran",
        ),
        (
            [expect("ANSWER", reply=usage_reply("x")[:2]), close_stream()],
            ConnectionClosed,
            "the stream ended inside a 520 usage block",
        ),
        (
            [expect("ANSWER", reply="garbage")],
            ProtocolError,
            "(awaiting the reply to 'ANSWER')",
        ),
        (
            [expect("ANSWER", reply=b"\xff\xfe not a reply")],
            ProtocolError,
            "(awaiting the reply to 'ANSWER')",
        ),
        (
            [expect("ANSWER", reply=b"x" * (2**20 + 1))],
            ProtocolError,
            "a line longer than 1048576 bytes",
        ),
        (
            [expect("ANSWER", reply=b"200 result=0 " + b"x" * 2**20)],
            ProtocolError,
            "a line longer than 1048576 bytes",
        ),
    ],
    ids=["mid-reply", "no-reply", "mid-usage", "garbage", "invalid-utf8", "1mib", "1mib-reply"],
)
def test_broken_replies_are_typed_errors(
    mode: str,
    steps: list[Any],
    error: type[BaseException],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake = FakeAsterisk(steps, timeout=2)
    caught: list[BaseException] = []

    async def handler(call: Any) -> None:
        try:
            await call.answer()
        except AGIError as exc:
            caught.append(exc)
            raise

    served = serve_in_process(fake, handler, mode)
    assert served.status == 1
    [exc] = caught
    assert type(exc) is error and message in str(exc)
    err = capsys.readouterr().err
    assert f"agikit.errors.{error.__name__}: " in err and message in err


def test_a_truncated_reply_does_not_hang(mode: str, capsys: pytest.CaptureFixture[str]) -> None:
    # The LF never comes: the fake gives up waiting for the next command and closes.
    fake = FakeAsterisk([expect("ANSWER", reply=Raw(b"200 result=0")), expect("NOOP")], timeout=0.5)

    async def handler(call: Any) -> None:
        await call.answer()

    started = time.monotonic()
    served = serve_in_process(fake, handler, mode, sighup=False)
    assert time.monotonic() - started < 5
    assert served.status == 1
    assert "the stream ended inside a line: b'200 result=0'" in capsys.readouterr().err


def test_big_and_undecodable_values_come_back_intact(mode: str) -> None:
    value = "v" * 1_000_000
    fake = FakeAsterisk(
        [
            expect("GET VARIABLE BIG", reply=f"200 result=1 ({value})"),
            expect("GET VARIABLE NAME", reply=b"200 result=1 (caf\xe9 \xff)"),
            expect(b'SET VARIABLE COPY "caf\xe9 \xff"', exact=True),
            expect(b'SET VARIABLE CID "J\xf6rg \xfe"', exact=True),
        ],
        env={"calleridname": "J\udcf6rg \udcfe"},
    )
    seen: list[Any] = []

    async def handler(call: Any) -> None:
        seen.append(await call.get_variable("BIG"))
        name = await call.get_variable("NAME")
        seen.append(name)
        await call.set_variable("COPY", name)
        seen.append(call.env.calleridname)
        await call.set_variable("CID", call.env.calleridname)

    served = serve_in_process(fake, handler, mode)
    served.result.assert_ok()
    assert seen == [value, "caf\udce9 \udcff", "J\udcf6rg \udcfe"]


def test_an_environment_cut_short_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    read_in, write_in = os.pipe()
    read_out, write_out = os.pipe()
    os.write(write_in, b"agi_request: x.py\nagi_chan")
    os.close(write_in)
    try:
        status = agikit.serve(lambda call: None, stdin=read_in, stdout=write_out)
    finally:
        for fd in (read_in, read_out, write_out):
            os.close(fd)
    assert status == 1
    assert "ConnectionClosed: the stream ended" in capsys.readouterr().err


def test_end_session_while_idle_ends_the_handler_cleanly(mode: str) -> None:
    # Asterisk ends the session (notification, then close) while the handler does other work.
    fake = FakeAsterisk([expect("ANSWER"), end_session()])

    async def handler(call: Any) -> None:
        await call.answer()
        time.sleep(0.2)
        await call.verbose("x", 1)

    served = serve_in_process(fake, handler, mode)
    assert served.status == 0


@pytest.mark.parametrize("hung_up", [False, True], ids=["closed", "hung-up"])
def test_a_write_to_a_closed_stream_ends_the_session(hung_up: bool) -> None:
    # Asterisk closed the pipe we write to, while the one we read stays open: every command
    # (the first, and a cleanup one after it) gets the same typed error, never CommandInFlight.
    read_in, write_in = os.pipe()
    read_out, write_out = os.pipe()
    os.write(write_in, FakeAsterisk().environment("x.py").to_bytes())
    os.close(read_out)
    errors: list[BaseException] = []

    def handler(call: agikit.SyncCall) -> None:
        if hung_up:
            os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(2):
            try:
                call.noop()
            except AGIError as error:
                errors.append(error)

    try:
        status = agikit.serve(handler, stdin=read_in, stdout=write_out, handle_sighup=True)
    finally:
        for fd in (read_in, write_in, write_out):
            os.close(fd)
    assert status == 0
    expected = Hangup if hung_up else ConnectionClosed
    assert [type(error) for error in errors] == [expected, expected]
    assert isinstance(errors[0].__cause__, BrokenPipeError)


@pytest.mark.parametrize("data", ["200 result=0\n", "200 res"], ids=["line", "partial"])
def test_stray_data_right_after_the_environment(mode: str, data: str) -> None:
    fake = FakeAsterisk([send_raw(data), expect("NOOP")], timeout=1)
    errors: list[BaseException] = []

    async def handler(call: Any) -> None:
        time.sleep(0.2)
        try:
            await call.noop()
        except ProtocolError as error:
            errors.append(error)

    served = serve_in_process(fake, handler, mode)
    assert served.sent() == []
    # With the environment, a complete line fails the session before the handler starts.
    assert len(errors) == 1 or (data.endswith("\n") and served.status == 1)
