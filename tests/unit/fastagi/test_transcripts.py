"""FastAGIServer(record=DIR): one transcript per call, with the server's notes, that the fake
Asterisk replays against the same handler."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

import agikit
from agikit import Call
from agikit.testing.fake import FakeAsterisk, Result, expect
from agikit.transports.fastagi import FastAGIServer

from ._support import RawClient, Runner, environment_bytes, eventually, normal_call, serving, url

pytestmark = pytest.mark.timeout(60)


async def handler(call: Call) -> None:
    """answer, get_variable, a prompt the caller hangs up on, clean-up; ``boom`` raises."""
    if call.env.script_path == "boom":
        await call.answer()
        await call.set_variable("STEP", "1")
        raise RuntimeError("the handler broke")
    await call.answer()
    value = await call.get_variable("X")
    try:
        await call.stream_file("beep")
    except agikit.Hangup:
        pass
    finally:
        await call.set_variable("CLEANUP", f"done {value}")


SCRIPT = [
    expect("ANSWER"),
    expect("GET VARIABLE X", reply="200 result=1 (x \u00e9)"),
    expect('STREAM FILE beep ""', reply="200 result=-1 endpos=0", hangup_before_reply=True),
    expect('SET VARIABLE CLEANUP "done x \u00e9"'),
]


async def call(server: FastAGIServer, fake: FakeAsterisk, script: str) -> Result:
    result = await fake.start_fastagi(url(server, script)).wait_async(15)
    await eventually(lambda: not server.connections)  # the transcript is closed then
    return result


def entries(path: Path, *, environment: bool = False) -> list[str]:
    """The entries without their times, the port of the peer, nor (by default) the environment."""
    found = []
    for line in path.read_text().splitlines():
        if line.startswith("+") and (environment or " << agi_" not in line):
            entry = line[10:]
            found.append(entry.rpartition(":")[0] if "connection from" in entry else entry)
    return found


def transcripts(directory: Path) -> list[Path]:
    return sorted(directory.iterdir(), key=lambda path: path.stat().st_mtime_ns)


def test_a_recorded_call_replays_against_its_handler(run: Runner[None], tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(handler, record=tmp_path) as server:
            fake = FakeAsterisk(SCRIPT, env={"uniqueid": "1700000000.7"}, timeout=5)
            result = await call(server, fake, "ivr")
            result.assert_ok()
            assert result.agi_status == "HANGUP"
            (path,) = transcripts(tmp_path)
            assert path.name.endswith("-1700000000.7.transcript.txt")
            assert path.read_text().startswith("# agikit transcript: FastAGI\n")
            recorded = entries(path)
            assert recorded == [
                "## connection from 127.0.0.1",
                "<< ",
                ">> ANSWER",
                "<< 200 result=0",
                ">> GET VARIABLE X",
                "<< 200 result=1 (x \u00e9)",
                '>> STREAM FILE beep ""',
                "<< HANGUP",
                "<< 200 result=-1 endpos=0",
                '>> SET VARIABLE CLEANUP "done x \u00e9"',
                "<< 200 result=1",
                "## EOF: the stream ended",
                "## the connection is closed",
            ]

            replay = FakeAsterisk.from_transcript(path)
            assert replay.recorded_request == f"agi://127.0.0.1:{server.bound_port}/ivr"
            again = await call(server, replay, "ivr")
            again.assert_ok()
            assert again.commands == result.commands
            # The replay, recorded in turn, is the same conversation.
            first, second = transcripts(tmp_path)
            assert first == path and entries(second) == recorded

    run(main())


def test_a_handler_that_raises_leaves_the_failure_line(run: Runner[None], tmp_path: Path) -> None:
    async def main() -> None:
        async with serving(handler, record=tmp_path) as server:
            script = [expect("ANSWER"), expect("SET VARIABLE STEP 1"), expect("failure")]
            result = await call(server, FakeAsterisk(script), "boom")
            result.assert_ok()
            assert result.agi_status == "FAILURE"
            (path,) = transcripts(tmp_path)
            assert entries(path) == [
                "## connection from 127.0.0.1",
                "<< ",
                ">> ANSWER",
                "<< 200 result=0",
                ">> SET VARIABLE STEP 1",
                "<< 200 result=1",
                ">> failure",
                "## the AGI sent the failure line: AGISTATUS=FAILURE",
                "## EOF: the stream ended",
                "## the connection is closed",
            ]
            again = await call(server, FakeAsterisk.from_transcript(path), "boom")
            again.assert_ok()
            assert again.agi_status == "FAILURE"

    run(main())


def test_a_call_refused_by_max_calls_is_recorded(run: Runner[None], tmp_path: Path) -> None:
    async def main() -> None:
        gate = asyncio.Event()

        async def busy(call: Call) -> None:
            await call.answer()
            await gate.wait()

        async with serving(busy, record=tmp_path, max_calls=1) as server:
            first = FakeAsterisk([expect("ANSWER")], env={"uniqueid": "1.first"}, timeout=5)
            running = first.start_fastagi(url(server, "busy"))
            await eventually(lambda: server.stats.running == 1)
            refused = FakeAsterisk([expect("failure")], env={"uniqueid": "1.refused"})
            (await refused.start_fastagi(url(server, "busy")).wait_async(10)).assert_ok()
            await eventually(lambda: len(list(tmp_path.iterdir())) == 2)
            (path,) = tmp_path.glob("*-1.refused.transcript.txt")
            await eventually(lambda: path.read_text().endswith("## the connection is closed\n"))
            assert entries(path) == [
                "## connection from 127.0.0.1",
                "<< ",
                ">> failure",
                "## the AGI sent the failure line: AGISTATUS=FAILURE",
                "## EOF: the stream ended",
                "## the connection is closed",
            ]
            # Replayed while the server is still full, it is refused the same way.
            replay = FakeAsterisk.from_transcript(path)
            (await replay.start_fastagi(url(server, "busy")).wait_async(10)).assert_ok()
            gate.set()
            (await running.wait_async(10)).assert_ok()

    run(main())


def test_a_connection_without_environment_leaves_no_file(run: Runner[None], tmp_path: Path) -> None:
    # No call, no file: else anyone who can connect (a port scan) could fill the disk.
    async def main() -> None:
        async with serving(handler, record=tmp_path) as server:
            client = await RawClient.connect(server)
            await client.send(environment_bytes()[:40])
            client.close()
            await eventually(lambda: not server.connections)
        assert transcripts(tmp_path) == []

    run(main())


def test_an_unwritable_directory_does_not_fail_calls(
    run: Runner[None], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "file").write_text("")
    caplog.set_level(logging.WARNING, "agikit.transcript")

    async def main() -> None:
        async with serving(record=tmp_path / "file" / "sub") as server:
            await normal_call(server)
            await normal_call(server)
            assert server.stats.failed == 0

    run(main())
    warnings = [r.getMessage() for r in caplog.records if r.name == "agikit.transcript"]
    assert len(warnings) == 2  # one per call
    assert all(w.startswith("transcript not recorded: ") for w in warnings)
