"""Log records carry the call they belong to: uniqueid and channel for any handler, the route
and path too under an App (agikit.log's CallContextFilter)."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from agikit import Call
from agikit.app import App, call_context, call_environment
from agikit.log import CallContextFilter, JSONFormatter, TextFormatter
from agikit.testing.fake import FakeAsterisk
from agikit.transports.fastagi import FastAGIServer

log = logging.getLogger("agikit.tests.log_context")


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(CallContextFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> list[logging.LogRecord]:
    handler = Records()
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield handler.records  # type: ignore[misc]
    finally:
        log.removeHandler(handler)


def call_through(handler: object, path: str) -> None:
    async def main() -> None:
        async with FastAGIServer(handler, port=0) as server:  # type: ignore[arg-type]
            fake = FakeAsterisk([], env={"uniqueid": "1700000000.42"}, timeout=5)
            url = f"agi://127.0.0.1:{server.bound_port}/{path}"
            result = await fake.start_fastagi(url).wait_async()
            result.assert_ok()
            assert call_environment.get() is None  # the server's own context: no call

    asyncio.run(main())


def test_a_plain_handler_logs_with_its_call(records: list[logging.LogRecord]) -> None:
    async def handler(call: Call) -> None:
        assert call_environment.get() is call.env
        log.info("in the call")

    call_through(handler, "plain")
    log.info("outside any call")
    inside, outside = records
    assert (inside.uniqueid, inside.route) == ("1700000000.42", None)  # type: ignore[attr-defined]
    assert inside.channel == "PJSIP/alice-00000001"  # type: ignore[attr-defined]
    assert (outside.uniqueid, outside.channel, outside.route) == (None, None, None)  # type: ignore[attr-defined]
    line = TextFormatter().format(inside)
    assert line.endswith(" INFO agikit.tests.log_context [1700000000.42] in the call")


def test_an_app_adds_its_route(records: list[logging.LogRecord]) -> None:
    app = App()

    @app.route("/ivr/{lang}")
    async def ivr(call: Call, lang: str) -> None:
        context = call_context.get()
        assert context is not None and context["path"] == "/ivr/en"
        log.info("routed")

    call_through(app, "ivr/en")
    (record,) = records
    assert (record.uniqueid, record.route) == ("1700000000.42", "/ivr/{lang}")  # type: ignore[attr-defined]
    entry = json.loads(JSONFormatter().format(record))
    assert entry["uniqueid"] == "1700000000.42" and entry["route"] == "/ivr/{lang}"
    assert entry["channel"] == record.channel  # type: ignore[attr-defined]
