"""Shutdown: stop accepting, let calls finish within the grace period, cut off the rest."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import agikit
from agikit import Call
from agikit.app import App
from agikit.errors import ConnectionClosed
from agikit.testing.fake import FakeAsterisk, Result, expect, pause
from agikit.transports import fastagi

from ._support import RawClient, Runner, environment_bytes, eventually, serving, url

SRC = str(Path(agikit.__file__).resolve().parents[1])


def start_call(server: Any, script: list[Any], path: str = "x") -> Any:
    return FakeAsterisk(script, timeout=10).start_fastagi(url(server, path))


async def refused(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except ConnectionRefusedError:
        return True
    writer.close()
    return False


def test_drain_lets_calls_in_progress_finish(run: Runner[None]) -> None:
    finished: list[str] = []

    async def handler(call: Call) -> None:
        await call.answer()
        await asyncio.sleep(0.5)
        await call.set_variable("DONE", "yes")
        finished.append(call.env.uniqueid)

    async def main() -> None:
        async with serving(handler) as server:
            port = server.bound_port
            script = [expect("ANSWER"), expect("SET VARIABLE DONE yes")]
            sessions = [start_call(server, script) for _ in range(10)]
            await eventually(lambda: server.stats.running == 10)
            started = time.monotonic()
            shutdown = asyncio.create_task(server.shutdown(10))
            await asyncio.sleep(0.05)
            assert await refused(port)  # no new calls once the drain began
            await shutdown
            elapsed = time.monotonic() - started
            results: list[Result] = [await s.wait_async(10) for s in sessions]
            for result in results:
                result.assert_ok()
                assert result.agi_status == "SUCCESS"
            assert elapsed < 2, elapsed  # returned as soon as the calls were done
            assert server.stats.cancelled == 0 and server.stats.failed == 0
            assert not server.connections

    run(main())
    assert len(finished) == 10


def test_a_call_connected_before_the_drain_is_served(run: Runner[None]) -> None:
    """A connection accepted before the listening socket closed, whose environment arrives
    during the drain, is a call in progress: it is served, not dropped."""
    served: list[str] = []

    async def handler(call: Call) -> None:
        served.append(await call.get_variable("X") or "")

    async def main() -> None:
        async with serving(handler) as server:
            client = await RawClient.connect(server)
            await eventually(lambda: server.stats.active == 1)
            shutdown = asyncio.create_task(server.shutdown(5))
            await asyncio.sleep(0.2)
            await client.send(environment_bytes())
            assert await client.readline() == b"GET VARIABLE X\n"
            await client.send(b"200 result=1 (late)\n")
            assert await client.closed_by_server() == b""
            client.close()
            await shutdown

    run(main())
    assert served == ["late"]


def test_calls_beyond_the_grace_period_are_cut_off(run: Runner[None]) -> None:
    cleanup: list[Any] = []

    async def sleeper(call: Call) -> None:
        await call.answer()
        try:
            await asyncio.sleep(60)
        finally:
            try:
                await call.set_variable("CLEANUP", "x")
            except ConnectionClosed as exc:
                cleanup.append(exc)

    async def commander(call: Call) -> None:
        await call.exec("Dial", "Local/forever@far")

    handlers = {"sleeper": sleeper, "commander": commander}

    async def handler(call: Call) -> None:
        await handlers[call.env.script_path](call)

    async def main() -> None:
        async with serving(handler) as server:
            sessions = [
                start_call(server, [expect("ANSWER"), pause(1)], "sleeper"),
                start_call(server, [expect("ANSWER"), pause(1)], "sleeper"),
                start_call(
                    server,
                    [expect('EXEC Dial "Local/forever@far"', reply="200 result=0", delay=1.5)],
                    "commander",
                ),
            ]
            await eventually(lambda: server.stats.running == 3)
            await asyncio.sleep(0.2)
            idle = await RawClient.connect(server)  # no environment yet: just closed
            started = time.monotonic()
            await server.shutdown(0.3)
            assert time.monotonic() - started < 1.5
            assert not server.connections
            assert server.stats.cancelled == 3 and server.stats.running == 0
            assert await idle.closed_by_server() == b""
            idle.close()
            results = [await s.wait_async(10) for s in sessions]
            # Each Asterisk got the failure line: AGISTATUS=FAILURE, the dialplan goes on.
            assert [r.agi_status for r in results] == ["FAILURE"] * 3, [r.report() for r in results]

    run(main())
    assert len(cleanup) == 2


def test_a_handler_ignoring_its_cancellation_is_abandoned(
    run: Runner[None], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(fastagi, "_CANCEL_WAIT", 0.3)

    async def stubborn(call: Call) -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            await asyncio.sleep(2)

    async def main() -> None:
        async with serving(stubborn) as server:
            session = start_call(server, [expect("failure")])
            await eventually(lambda: server.stats.running == 1)
            started = time.monotonic()
            await server.shutdown(0.2)
            assert time.monotonic() - started < 1.5
            (await session.wait_async(10)).assert_ok()

    run(main())
    assert "ignored their cancellation" in caplog.text


def test_shutdown_twice_runs_the_hooks_once(run: Runner[None]) -> None:
    app = App()
    stopped: list[str] = []

    @app.fallback
    async def handler(call: Call) -> None:
        await asyncio.sleep(0.3)

    @app.on_shutdown
    async def hook() -> None:
        stopped.append("stopped")

    async def main() -> None:
        async with serving(app) as server:
            session = start_call(server, [])
            await eventually(lambda: server.stats.running == 1)
            await asyncio.gather(server.shutdown(5), server.shutdown(5))
            (await session.wait_async(10)).assert_ok()

    run(main())
    assert stopped == ["stopped"]


# -- serve(): signals, in a process of its own ----------------------------------------------

SERVE = textwrap.dedent(
    """
    import asyncio, logging, sys
    from agikit.transports.fastagi import serve

    async def handler(call):
        await call.answer()
        await asyncio.sleep(float(call.env.args[0]))
        await call.set_variable("DONE", "yes")

    logging.basicConfig(level=logging.INFO)
    serve(handler, port=int(sys.argv[1]), grace=float(sys.argv[2]))
    print("exited", flush=True)
    """
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _serve(grace: float) -> tuple[int, subprocess.Popen[str]]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(port), str(grace)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return port, process
        except OSError:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)


def _wait_started(process: subprocess.Popen[str], session: Any) -> None:
    # The fake answers ANSWER as soon as it arrives; give the handler time to be in its sleep.
    deadline = time.monotonic() + 5
    while not any(e.data.startswith(b"ANSWER") for e in session._engine.result.transcript):
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_sigterm_drains_and_exits_zero() -> None:
    port, process = _serve(grace=10)
    try:
        fake = FakeAsterisk([expect("ANSWER"), expect("SET VARIABLE DONE yes")], args=["1"])
        sessions = [fake.start_fastagi(f"agi://127.0.0.1:{port}/x") for _ in range(3)]
        for session in sessions:
            _wait_started(process, session)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert out == "exited\n"
    assert "draining 3 calls" in err
    for session in sessions:
        result = session.wait(10)
        result.assert_ok()
        assert result.agi_status == "SUCCESS"


def test_a_second_signal_cuts_off_the_drain() -> None:
    port, process = _serve(grace=60)
    try:
        fake = FakeAsterisk([expect("ANSWER"), expect("failure")], args=["60"], timeout=15)
        session = fake.start_fastagi(f"agi://127.0.0.1:{port}/x")
        _wait_started(process, session)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
        elapsed = time.monotonic() - started
        assert out == "exited\n"
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert elapsed < 3
    assert "cutting off 1 calls: second signal" in err
    result = session.wait(10)
    result.assert_ok()
    assert result.agi_status == "FAILURE"


def test_shutdown_logs(run: Runner[None], caplog: pytest.LogCaptureFixture) -> None:
    async def handler(call: Call) -> None:
        await asyncio.sleep(60)

    async def main() -> None:
        async with serving(handler) as server:
            session = start_call(server, [expect("failure")])
            await eventually(lambda: server.stats.running == 1)
            await server.shutdown(0.1)
            (await session.wait_async(10)).assert_ok()

    with caplog.at_level(logging.INFO, logger="agikit.fastagi"):
        run(main())
    assert "draining 1 calls" in caplog.text
    assert "cutting off 1 calls" in caplog.text
