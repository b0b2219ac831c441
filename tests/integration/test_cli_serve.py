"""``agikit serve`` as operators run it: the demo app answering real calls, workers, drain."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from agikit.testing.asterisk import Asterisk, FarEnd


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def agikit_serve(*args: str) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "agikit", "serve", "--port", str(port), *args],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "agikit serve did not start listening"
            time.sleep(0.05)
    try:
        yield port, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


@pytest.mark.parametrize("workers", [1, 2])
def test_demo_app_answers_and_drains_on_sigterm(asterisk: Asterisk, workers: int) -> None:
    with agikit_serve("--workers", str(workers), "--log-format", "json") as (port, process):
        calls = [
            asterisk.originate_fastagi(
                port,
                "demo",
                far_end=[FarEnd.wait(2.5), FarEnd.dtmf("42#")],
                report=["AGIKIT_DEMO_DIGITS"],
            )
            for _ in range(4)
        ]
        for call in calls:
            call.wait_started()
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)  # calls in progress must still finish
        results = [call.wait(30) for call in calls]
        assert process.wait(30) == 0
        log = process.stderr.read() if process.stderr else ""
    for result in results:
        assert result.variables["AGIKIT_DEMO_DIGITS"] == "42", result.log_text()
    assert '"level": "INFO"' in log and "draining" in log


def test_asyncagi_command_runs_the_demo_app(asterisk: Asterisk) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "agikit", "asyncagi", "agikit.demo:app",
         "--ami", f"127.0.0.1:{asterisk.ami_port}", "--user", asterisk.ami_user],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "AGIKIT_AMI_SECRET": asterisk.ami_secret},
    )  # fmt: skip
    try:
        time.sleep(1.0)  # log in
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        call = asterisk.originate_async_agi(
            args=["/demo"],
            far_end=[FarEnd.wait(3), FarEnd.dtmf("42#")],
            report=["AGIKIT_DEMO_DIGITS"],
        )
        result = call.wait(30)
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert result.variables["AGIKIT_DEMO_DIGITS"] == "42", result.log_text()
    assert asterisk.ami_secret not in (process.stderr.read() if process.stderr else "")
