"""AsyncAGIServer(record=DIR): the handler's commands and replies, not the server's own NOOP
flushes, resynchronisations and ASYNCAGI BREAK; the transcript replays as a process AGI."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import pytest

import agikit
from agikit.testing.fake import FakeAsterisk
from agikit.transports.asyncagi import AsyncAGIServer

from ..ami._fakeami import run
from ..transports._support import serve_in_process
from ._sim import Outcome, SimAmi, SimChannel

pytestmark = pytest.mark.timeout(60)

LONG = "".join(f"{n:04d}-" for n in range(0, 3000, 5))


async def handler(call: agikit.Call) -> None:
    """A long value (its end comes with a NOOP flush), then a wait the caller hangs up on, and
    clean-up that is refused on a dead channel."""
    await call.answer()
    value = await call.get_variable("LONGVAR")
    await call.set_variable("LEN", str(len(value)))
    with contextlib.suppress(agikit.Hangup):
        await call.wait_for_digit(10)
    with contextlib.suppress(agikit.Hangup):
        await call.stream_file("goodbye")


def hang_up_on_the_wait(channel: SimChannel, line: str) -> Outcome | None:
    if line.startswith("WAIT FOR DIGIT"):
        return Outcome(b"200 result=-1\n", code="-1", ends=True, hangup=True)
    return None


async def record(
    directory: Path, handler: Any, **start: Any
) -> tuple[SimAmi, SimChannel, AsyncAGIServer]:
    ami = SimAmi()
    server = AsyncAGIServer(handler, ami, record=directory)  # type: ignore[arg-type]
    await server.start()
    channel = ami.asterisk.start("first", **start)
    return ami, channel, server


async def finish(server: AsyncAGIServer) -> None:
    await asyncio.wait_for(server._idle.wait(), 5)
    await server.stop(1)


def entries(path: Path) -> list[str]:
    """The entries after the environment, without their times."""
    lines = [line[10:] for line in path.read_text().splitlines() if line.startswith("+")]
    return lines[lines.index("<< ") + 1 :]


def test_only_the_handlers_commands_are_recorded_and_they_replay(tmp_path: Path) -> None:
    async def main() -> list[str]:
        ami, channel, server = await record(tmp_path, handler, variables={"LONGVAR": LONG})
        channel.script.append(hang_up_on_the_wait)
        await finish(server)
        return ami.agi_commands(channel)

    sent = run(main())
    assert sent.count("NOOP") == 1 and sent[-1] == "WAIT FOR DIGIT 10000"
    (path,) = tmp_path.iterdir()
    assert path.name.endswith("-1795797623.3.transcript.txt")
    text = path.read_text()
    assert text.startswith("# agikit transcript: Async AGI Local/sim1@asyncagi-00000001;2\n")
    assert " << agi_request: async\n" in text
    recorded = entries(path)
    assert recorded[:2] == [">> ANSWER", "<< 200 result=0"]
    assert recorded[2] == ">> GET VARIABLE LONGVAR"
    assert recorded[3] == f"<< 200 result=1 ({LONG[:1023]})"  # reassembled from two Results
    assert recorded[4:] == [
        ">> SET VARIABLE LEN 1023",
        "<< 200 result=1",
        ">> WAIT FOR DIGIT 10000",
        "## hangup: the channel hung up",
        "<< 200 result=-1",
        "## the handler is done",
    ]
    assert "NOOP" not in text

    replay = FakeAsterisk.from_transcript(path)
    served = serve_in_process(replay, handler, "asyncio")
    served.result.assert_ok()
    assert served.result.commands == [c for c in sent if c != "NOOP"]


def test_a_lost_reply_is_noted_and_the_resync_is_not_recorded(tmp_path: Path) -> None:
    async def cut(call: agikit.Call) -> None:
        with pytest.raises(agikit.ProtocolError):
            await call.get_full_variable("${SLASHES}")  # cut by Asterisk's encoding cap
        await call.set_variable("AFTER", "yes")

    async def main() -> list[str]:
        ami, channel, server = await record(tmp_path, cut, variables={"SLASHES": "/" * 900})
        await finish(server)
        return ami.agi_commands(channel)

    sent = run(main())
    assert any(c.startswith("GET FULL VARIABLE agikit-sync-") for c in sent)
    assert sent[-1] == "ASYNCAGI BREAK"
    (path,) = tmp_path.iterdir()
    recorded = entries(path)
    assert recorded[0] == ">> GET FULL VARIABLE ${SLASHES}"
    assert recorded[1].startswith("## the reply is lost: Asterisk truncated this command's result")
    assert recorded[2:] == [
        ">> SET VARIABLE AFTER yes",
        "<< 200 result=1",
        "## the handler is done",
    ]


def test_a_hangup_between_commands_is_noted_and_replays(tmp_path: Path) -> None:
    seen: list[bool] = []

    async def waits(call: agikit.Call) -> None:
        await call.answer()
        for _ in range(500):  # the hangup comes as an AMI event, or a SIGHUP in the replay
            if call.hung_up:
                break
            await asyncio.sleep(0.01)
        seen.append(call.hung_up)
        with contextlib.suppress(agikit.Hangup):
            await call.stream_file("beep")  # not sent: the channel is gone

    async def main() -> None:
        ami, channel, server = await record(tmp_path, waits)
        while "ANSWER" not in channel.executed:
            await asyncio.sleep(0.001)
        ami.asterisk.hangup(channel)
        await finish(server)
        assert ami.agi_commands(channel) == ["ANSWER"]

    run(main())
    (path,) = tmp_path.iterdir()
    assert entries(path) == [
        ">> ANSWER",
        "<< 200 result=0",
        "## hangup: the channel hung up",
        "## the handler is done",
    ]
    served = serve_in_process(FakeAsterisk.from_transcript(path), waits, "asyncio")
    served.result.assert_ok()
    assert served.result.agi_status == "HANGUP"
    assert seen == [True, True]


def test_a_handler_that_returns_hands_the_channel_back_unrecorded(tmp_path: Path) -> None:
    async def short(call: agikit.Call) -> None:
        await call.set_variable("DONE", "yes")

    async def main() -> None:
        ami, channel, server = await record(tmp_path, short)
        await finish(server)
        assert ami.agi_commands(channel) == ["SET VARIABLE DONE yes", "ASYNCAGI BREAK"]

    run(main())
    (path,) = tmp_path.iterdir()
    assert entries(path) == [
        ">> SET VARIABLE DONE yes",
        "<< 200 result=1",
        "## the handler is done",
    ]


def test_an_unwritable_directory_does_not_fail_the_call(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "file").write_text("")
    caplog.set_level(logging.WARNING, "agikit.transcript")
    seen: list[str | None] = []

    async def short(call: agikit.Call) -> None:
        await call.set_variable("V", "1")
        seen.append(await call.get_variable("V"))

    async def main() -> None:
        ami, channel, server = await record(tmp_path / "file" / "sub", short)
        await finish(server)
        assert ami.agi_commands(channel)[-1] == "ASYNCAGI BREAK"

    run(main())
    assert seen == ["1"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "agikit.transcript"]
    assert len(warnings) == 1 and warnings[0].startswith("transcript not recorded: ")
