"""``--record DIR`` on ``agikit serve`` and ``agikit asyncagi``, and ``agikit replay`` of a
transcript a server recorded."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import agikit.ami
import agikit.log
from agikit.cli import build_parser, main
from agikit.testing.fake import FakeAsterisk, expect
from agikit.transports import asyncagi, fastagi

from ._support import app

pytestmark = pytest.mark.timeout(60)

APP = "tests.unit.tools._support:app"


def test_record_parses(tmp_path: Path) -> None:
    parser = build_parser()
    assert parser.parse_args(["serve"]).record is None
    assert parser.parse_args(["serve", APP, "--record", str(tmp_path)]).record == str(tmp_path)
    args = parser.parse_args(["asyncagi", APP, "--user", "agi", "--record", "/var/tmp/agi"])
    assert args.record == "/var/tmp/agi"
    assert parser.parse_args(["asyncagi", APP, "--user", "agi"]).record is None


def test_serve_passes_record_to_the_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    given: dict[str, Any] = {}
    monkeypatch.setattr(agikit.log, "configure", lambda *args: None)
    monkeypatch.setattr(fastagi, "serve", lambda handler, **options: given.update(options))
    assert main(["serve", APP, "--record", str(tmp_path)]) == 0
    assert given["record"] == str(tmp_path)


def test_asyncagi_passes_record_to_the_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    given: dict[str, Any] = {}

    class Ami:
        def __init__(self, *args: Any, **options: Any) -> None:
            pass

        async def connect(self) -> None:
            pass

    class Server:
        def __init__(self, handler: Any, ami: Any, **options: Any) -> None:
            given.update(options)

        async def start(self) -> None:
            raise KeyboardInterrupt  # stop here: the test has what it wants

    monkeypatch.setattr(agikit.log, "configure", lambda *args: None)
    monkeypatch.setenv("AGIKIT_AMI_SECRET", "secret")
    monkeypatch.setattr(agikit.ami, "AmiClient", Ami)
    monkeypatch.setattr(asyncagi, "AsyncAGIServer", Server)
    with pytest.raises(KeyboardInterrupt):
        main(["asyncagi", APP, "--user", "agi", "--record", str(tmp_path)])
    assert given == {"record": str(tmp_path)}


def test_replay_a_call_a_server_recorded(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    async def record() -> None:
        async with fastagi.FastAGIServer(app, port=0, record=tmp_path) as server:
            fake = FakeAsterisk(
                [
                    expect("ANSWER"),
                    expect("SET VARIABLE CHANNEL(language) en"),
                    expect('STREAM FILE main-menu "12"', reply="200 result=49 endpos=800"),
                    expect("GET DATA enter-account 5000 6", reply="200 result=123456"),
                    expect("SET VARIABLE ACCOUNT 123456"),
                ]
            )
            url = f"agi://127.0.0.1:{server.bound_port}/menu"
            (await fake.start_fastagi(url).wait_async(10)).assert_ok()

    asyncio.run(record())
    (path,) = tmp_path.iterdir()
    assert main(["replay", str(path), APP]) == 0
    out = capsys.readouterr().out
    assert "replaying the transcript (5 commands, agi://127.0.0.1:" in out
    assert "the app followed the recording: 5 commands (5 recorded)" in out
