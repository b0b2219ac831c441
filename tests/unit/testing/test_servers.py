"""agikit.testing.servers: a server in a background thread for blocking tests."""

from __future__ import annotations

import threading

import pytest

import agikit
from agikit.testing.fake import FakeAsterisk, expect
from agikit.testing.servers import background, fastagi_server


def test_fastagi_server_serves_the_fake_on_a_free_port() -> None:
    threads: list[str] = []

    async def handler(call: agikit.Call) -> None:
        threads.append(threading.current_thread().name)
        await call.answer()

    with fastagi_server(handler) as server:
        assert server.bound_port > 0
        url = f"agi://127.0.0.1:{server.bound_port}/x"
        FakeAsterisk([expect("ANSWER")]).run_fastagi(url).assert_ok()
    assert threads == ["agikit-test-server"]
    assert server.sockets == ()  # shut down at the end of the block


def test_an_error_starting_the_service_is_raised_in_the_test() -> None:
    async def start() -> None:
        raise OSError("address in use")

    async def stop(service: None) -> None:
        raise AssertionError("never started: nothing to stop")

    with pytest.raises(OSError, match="address in use"), background(start, stop):
        pass


def test_an_error_stopping_the_service_is_raised_at_the_end_of_the_block() -> None:
    async def start() -> str:
        return "service"

    async def stop(service: str) -> None:
        raise RuntimeError(f"{service} failed to stop")

    seen = []
    with (
        pytest.raises(RuntimeError, match="service failed to stop"),
        background(start, stop) as service,
    ):
        seen.append(service)
    assert seen == ["service"]
