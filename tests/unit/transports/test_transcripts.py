"""Process AGI with ``record=``: the transcript a call leaves replays, with the fake Asterisk,
against the handler that made it; in-process (``agikit.serve``) and as a real script
(``AGIKIT_RECORD``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

import agikit
from agikit.testing.fake import FakeAsterisk, expect

from ._support import run_script, serve_in_process, stderr_text, write_script

pytestmark = pytest.mark.timeout(60)

#: A caller name that is not UTF-8: the replay must give the handler the same bytes.
CALLER = "Jos\udce9"


def call_script() -> FakeAsterisk:
    return FakeAsterisk(
        [
            expect("ANSWER"),
            expect("GET VARIABLE X", reply="200 result=1 (x \u00e9)"),
            expect('STREAM FILE beep ""', reply="200 result=-1 endpos=0", hangup_before_reply=True),
            expect('SET VARIABLE CLEANUP "done x \u00e9"'),
        ],
        env={"uniqueid": "1700000000.42", "calleridname": CALLER},
    )


def make_handler(seen: list[Any]) -> Any:
    async def handler(call: Any) -> None:
        seen.append(call.env.calleridname)
        await call.answer()
        value = await call.get_variable("X")
        try:
            await call.stream_file("beep")
        except agikit.Hangup:
            seen.append("hangup")
        finally:
            await call.set_variable("CLEANUP", f"done {value}")

    return handler


def the_transcript(directory: Path) -> Path:
    (path,) = directory.iterdir()
    assert path.name.endswith("-1700000000.42.transcript.txt")
    return path


@pytest.mark.parametrize("mode", ["sync", "asyncio"])
def test_a_recorded_call_replays_against_its_handler(tmp_path: Path, mode: str) -> None:
    seen: list[Any] = []
    handler = make_handler(seen)
    served = serve_in_process(call_script(), handler, mode, record=tmp_path)
    served.result.assert_ok()
    assert served.status == 0
    path = the_transcript(tmp_path)
    text = path.read_text()
    assert text.startswith("# agikit transcript: in-process AGI\n")
    lines = [line[10:] for line in text.splitlines() if line.startswith("+")]
    if mode == "asyncio" and lines[-4] == "## SIGHUP received":
        # On a loop, the reply is read by a worker thread, and the main thread may run the
        # SIGHUP handler after it: the transcript says what the AGI saw, in that order.
        lines[-5], lines[-4] = lines[-4], lines[-5]
    assert lines[-6:] == [
        '>> STREAM FILE beep ""',
        "## SIGHUP received",
        "<< 200 result=-1 endpos=0",
        '>> SET VARIABLE CLEANUP "done x \u00e9"',
        "<< 200 result=1",
        "## agikit: the script ends with exit status 0",
    ]

    replay = FakeAsterisk.from_transcript(path)
    again = serve_in_process(replay, handler, mode)  # no record: no second file
    again.result.assert_ok()
    assert again.result.commands == served.result.commands
    assert seen == [CALLER, "hangup"] * 2
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_replay_of_a_recorded_call_catches_a_changed_handler(tmp_path: Path) -> None:
    serve_in_process(call_script(), make_handler([]), "asyncio", record=tmp_path)

    async def changed(call: Any) -> None:
        await call.answer()
        await call.get_variable("Y")

    replay = FakeAsterisk.from_transcript(the_transcript(tmp_path))
    result = serve_in_process(replay, changed, "asyncio").result
    assert not result.ok
    assert result.failures[0].received == b"GET VARIABLE Y"


def test_an_unwritable_directory_does_not_fail_the_call(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "file").write_text("")
    caplog.set_level(logging.WARNING, "agikit.transcript")
    served = serve_in_process(
        call_script(), make_handler([]), "asyncio", record=tmp_path / "file" / "sub"
    )
    served.result.assert_ok()
    assert served.status == 0
    warnings = [r.getMessage() for r in caplog.records if r.name == "agikit.transcript"]
    assert len(warnings) == 1 and warnings[0].startswith("transcript not recorded: ")


SCRIPT = """
import sys, agikit

def main(call):
    print("caller:", ascii(call.env.calleridname), file=sys.stderr)
    call.answer()
    value = call.get_variable("X")
    try:
        call.stream_file("beep")
    except agikit.Hangup:
        print("hung up", file=sys.stderr)
    finally:
        call.set_variable("CLEANUP", f"done {value}")

agikit.run(main)
"""


def test_agikit_record_in_the_environment_records_a_real_script(tmp_path: Path) -> None:
    script = write_script(tmp_path, SCRIPT, name="ivr.agi")
    record = tmp_path / "transcripts"
    result = run_script(call_script(), script, env={"AGIKIT_RECORD": str(record)})
    result.assert_ok()
    path = the_transcript(record)
    text = path.read_text()
    assert text.startswith("# agikit transcript: process AGI ivr.agi\n")
    assert "## SIGHUP received" in text  # the real signal, noted outside its handler
    assert text.rstrip().endswith("## agikit: the script ends with exit status 0")

    replayed = run_script(FakeAsterisk.from_transcript(path), script)
    replayed.assert_ok()
    assert replayed.commands == result.commands
    assert stderr_text(replayed).count("hung up") == 1
    assert "caller: 'Jos\\udce9'" in stderr_text(replayed)
    assert len(list(record.iterdir())) == 1


def test_agikit_record_that_cannot_be_written_only_warns(tmp_path: Path) -> None:
    script = write_script(tmp_path, SCRIPT, name="ivr.agi")
    (tmp_path / "file").write_text("")
    result = run_script(call_script(), script, env={"AGIKIT_RECORD": str(tmp_path / "file")})
    result.assert_ok()
    assert result.exit_status == 0
    assert stderr_text(result).count("transcript not recorded") == 1
