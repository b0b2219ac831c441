"""Transcripts of live calls on a real Asterisk 22, on every transport: a call recorded with
``record=`` replays against the same handler with the fake Asterisk, which is how a production
call becomes a regression test."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import agikit
from agikit.testing.asterisk import Asterisk, FarEnd, async_agi_server, fastagi_server
from agikit.testing.asterisk.pytest_plugin import ScriptWriter
from agikit.testing.tester import AgiTester

from .agiscript import run_script

# One handler for every transport (process AGI runs it from a script, so it is source text).
HANDLER = """
async def main(call):
    await call.answer()
    await call.set_variable("REC", 'a "quoted" value, with $ and (parens)')
    await call.get_variable("REC")
    await call.wait_for_digit(5)  # the far end sends 7
    await call.stream_file("beep", escape_digits="#")
    await call.verbose("a recorded call")
    await call.wait_for_digit(10)  # the far end hangs up during this one
"""

FAR_END = [FarEnd.wait(1.5), FarEnd.dtmf("7"), FarEnd.wait(2), FarEnd.hangup()]


def handler() -> Callable[[agikit.Call], Any]:
    namespace: dict[str, Any] = {"agikit": agikit}
    exec(HANDLER, namespace)
    main: Callable[[agikit.Call], Any] = namespace["main"]
    return main


def only_transcript(directory: Path) -> Path:
    files = sorted(directory.glob("*.transcript.txt"))
    assert len(files) == 1, files
    return files[0]


def entries(transcript: Path, direction: str) -> list[str]:
    marker = f" {direction} "
    return [
        line.split(marker, 1)[1]
        for line in transcript.read_text("utf-8").splitlines()
        if line.startswith("+") and marker in line
    ]


def check(transcript: Path, uniqueid: str) -> None:
    assert uniqueid in transcript.name
    # Under EAGI, agikit asks for the audio's format before the handler's first command.
    sent = [line for line in entries(transcript, ">>") if "(audioreadformat)" not in line]
    assert sent[:3] == [
        "ANSWER",
        'SET VARIABLE REC "a \\"quoted\\" value, with $ and (parens)"',
        "GET VARIABLE REC",
    ], sent
    assert "WAIT FOR DIGIT 10000" in sent
    received = entries(transcript, "<<")
    assert f"agi_uniqueid: {uniqueid}" in received
    assert "200 result=55" in received  # the far end's 7
    assert '200 result=1 (a "quoted" value, with $ and (parens))' in received
    # The same handler, against the fake replaying the recording, sends exactly the same.
    AgiTester().replay(handler(), transcript)


def test_fastagi_call_recorded_and_replayed(asterisk: Asterisk, tmp_path: Path) -> None:
    with fastagi_server(handler(), record=tmp_path) as server:
        result = asterisk.originate_fastagi(server.bound_port, "rec", far_end=FAR_END).wait()
    assert result.agi_status == "HANGUP", result.log_text()
    transcript = only_transcript(tmp_path)
    notes = entries(transcript, "##")
    assert notes[0].startswith("connection from 127.0.0.1:")
    assert notes[-1] == "the connection is closed"
    assert "HANGUP" in entries(transcript, "<<")
    check(transcript, result.uniqueid)


def test_async_agi_call_recorded_and_replayed(asterisk: Asterisk, tmp_path: Path) -> None:
    with async_agi_server(asterisk, handler(), record=tmp_path):
        result = asterisk.originate_async_agi(far_end=FAR_END).wait()
    transcript = only_transcript(tmp_path)
    sent = entries(transcript, ">>")
    assert "NOOP" not in sent and "ASYNCAGI BREAK" not in sent  # the server's own commands
    assert "hangup: the channel hung up" in entries(transcript, "##")
    check(transcript, result.uniqueid)


@pytest.mark.parametrize("eagi", [False, True], ids=["process-agi", "eagi"])
def test_process_agi_call_recorded_and_replayed(
    asterisk: Asterisk, agi_script: ScriptWriter, eagi: bool
) -> None:
    folder = f"transcripts-{'eagi' if eagi else 'agi'}"
    host_dir = asterisk.agi_bin / folder
    run = run_script(
        asterisk,
        agi_script,
        textwrap.dedent(HANDLER) + f"\nagikit.run(main, record='/agikit/agi-bin/{folder}')\n",
        eagi=eagi,
        far_end=FAR_END,
    )
    assert run.call.agi_status == "HANGUP", run.call.log_text()
    transcript = only_transcript(host_dir)
    assert "SIGHUP received" in entries(transcript, "##")
    assert f"agi_enhanced: {'1.0' if eagi else '0.0'}" in entries(transcript, "<<")
    check(transcript, run.call.uniqueid)
