"""The fake Asterisk running a raw process AGI (``rawagi_script.py``) with real pipes and SIGHUP."""

from __future__ import annotations

import json
import os
import signal
import stat
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agikit.testing.fake import (
    DEAD_CHANNEL,
    FakeAsterisk,
    Result,
    end_session,
    expect,
    hangup,
)

SCRIPT = Path(__file__).with_name("rawagi_script.py")
DEAD = DEAD_CHANNEL


@pytest.fixture
def agi_dir(tmp_path: Path) -> Path:
    """An agi-bin holding the raw script as an executable with a #! line."""
    target = tmp_path / "raw.agi"
    target.write_text(f"#!{sys.executable}\n" + SCRIPT.read_text())
    target.chmod(target.stat().st_mode | stat.S_IXUSR)
    return tmp_path


def run(
    fake: FakeAsterisk,
    agi_dir: Path,
    plan: list[Any],
    *,
    sighup: str = "handle",
    exit: int = 0,
    **options: Any,
) -> tuple[Result, dict[str, Any]]:
    log = agi_dir / "log.json"
    env = {
        "RAWAGI_PLAN": json.dumps(plan),
        "RAWAGI_LOG": str(log),
        "RAWAGI_SIGHUP": sighup,
        "RAWAGI_EXIT": str(exit),
    }
    options.setdefault("process_env", env)
    result = fake.run_process("raw.agi", agi_dir=agi_dir, **options)
    seen = json.loads(log.read_text()) if log.exists() else {}
    return result, seen


def test_process_agi_like_asterisk_launches_it(agi_dir: Path) -> None:
    fake = FakeAsterisk(
        [expect("ANSWER"), expect("GET VARIABLE X", reply="200 result=1 (y z)")],
        args=["first arg", ""],
    )
    result, seen = run(fake, agi_dir, ["ANSWER", "GET VARIABLE X"])
    result.assert_ok()
    assert seen["argv"] == [str(agi_dir / "raw.agi"), "first arg", ""]  # the #! line's view
    assert seen["env"]["agi_request"] == "raw.agi"
    assert seen["env"]["agi_arg_1"] == "first arg"
    assert "agi_network" not in seen["env"]
    assert seen["ast"]["AST_AGI_DIR"] == str(agi_dir)
    assert set(seen["ast"]) == {
        "AST_CONFIG_DIR", "AST_CONFIG_FILE", "AST_MODULE_DIR", "AST_SPOOL_DIR",
        "AST_MONITOR_DIR", "AST_VAR_DIR", "AST_DATA_DIR", "AST_LOG_DIR", "AST_AGI_DIR",
        "AST_KEY_DIR", "AST_RUN_DIR",
    }  # fmt: skip
    assert seen["fds"] == [0, 1, 2]  # fd 3 and up are closed
    assert seen["events"] == [
        ["reply", "ANSWER", ["200 result=0"]],
        ["reply", "GET VARIABLE X", ["200 result=1 (y z)"]],
    ]
    assert result.exit_status == 0 and result.pid is not None
    assert result.agi_status == "SUCCESS"
    assert result.label == "process AGI 'raw.agi'"


def test_argv0_is_the_script_as_written(tmp_path: Path) -> None:
    # A Python binary under another name shows its argv[0] in sys.orig_argv.
    (tmp_path / "pyprobe").symlink_to(sys.executable)
    code = "import sys; sys.stderr.write(repr(sys.orig_argv))"
    result = FakeAsterisk(args=["-c", code]).run_process("pyprobe", agi_dir=tmp_path)
    result.assert_ok()
    assert result.stderr == repr(["pyprobe", "-c", code]).encode()


def test_interpreter(agi_dir: Path) -> None:
    os.chmod(agi_dir / "raw.agi", 0o644)
    fake = FakeAsterisk([expect("NOOP")], args=["a"])
    result, seen = run(fake, agi_dir, ["NOOP"], interpreter=[sys.executable])
    result.assert_ok()
    assert seen["argv"] == [str(agi_dir / "raw.agi"), "a"]


def test_sighup_is_a_real_signal(agi_dir: Path) -> None:
    fake = FakeAsterisk([expect("ANSWER"), hangup(), expect('STREAM FILE beep ""'), expect("NOOP")])
    plan = ["ANSWER", {"wait_sighup": 5}, 'STREAM FILE beep ""', "NOOP"]
    result, seen = run(fake, agi_dir, plan)
    result.assert_ok()
    # The signal may interrupt the script while it reads ANSWER's reply: order those two freely.
    assert sorted(seen["events"][:2]) == [["reply", "ANSWER", ["200 result=0"]], ["sighup"]]
    assert seen["events"][2:] == [
        ["reply", 'STREAM FILE beep ""', [DEAD]],
        ["reply", "NOOP", ["200 result=0"]],
    ]
    sent = [entry.text for entry in result.transcript]
    signal_at = next(i for i, text in enumerate(sent) if text.startswith("SIGHUP sent to process"))
    assert sent[signal_at - 1] == "200 result=0" and sent[signal_at + 1] == 'STREAM FILE beep ""'
    assert result.agi_status == "HANGUP"


def test_sighup_is_reset_to_default_in_the_child(agi_dir: Path) -> None:
    # Even when this process ignores SIGHUP, the child starts with the default action.
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        result, seen = run(FakeAsterisk(), agi_dir, [], sighup="default")
    finally:
        signal.signal(signal.SIGHUP, previous)
    result.assert_ok()
    assert seen["sighup_disposition"] == str(signal.SIG_DFL)


def test_unhandled_sighup_kills_the_script(agi_dir: Path) -> None:
    fake = FakeAsterisk([expect("ANSWER"), hangup()])
    result, _ = run(fake, agi_dir, ["ANSWER", {"sleep": 5}], sighup="default")
    assert result.exit_status == -signal.SIGHUP
    assert "the process exited with status -1 (SIGHUP), expected 0" in str(result.failures)
    # Expecting the death makes it a pass:
    result, _ = run(
        fake, agi_dir, ["ANSWER", {"sleep": 5}], sighup="default", exit_status=-signal.SIGHUP
    )
    result.assert_ok()
    assert result.agi_status == "HANGUP"


def test_agisighup_no_sends_no_signal(agi_dir: Path) -> None:
    fake = FakeAsterisk([expect("ANSWER"), hangup(), expect("ANSWER")], agisighup=False)
    result, seen = run(fake, agi_dir, ["ANSWER", {"sleep": 0.2}, "ANSWER"], sighup="default")
    result.assert_ok()
    assert seen["events"][-1] == ["reply", "ANSWER", [DEAD]]


def test_exit_on_hangup_sighup_then_eof(agi_dir: Path) -> None:
    fake = FakeAsterisk([expect("ANSWER"), hangup()], exit_on_hangup=True)
    result, seen = run(fake, agi_dir, ["ANSWER", {"wait_sighup": 5}, {"sleep": 0.1}, "NOOP"])
    result.assert_ok()
    events = [event for event in seen["events"] if event != ["sighup"]]
    assert events[0] == ["reply", "ANSWER", ["200 result=0"]]
    assert events[1] in (["eof"], ["epipe", "NOOP"])
    assert 1 <= seen["events"].count(["sighup"]) <= 2  # two signals may arrive as one
    assert sum(note.startswith("SIGHUP sent") for note in result.notes) == 2


def test_end_session_signals_a_running_script(agi_dir: Path) -> None:
    fake = FakeAsterisk([expect("NOOP"), end_session()])
    result, seen = run(fake, agi_dir, ["NOOP", {"wait_sighup": 5}, "NOOP"])
    result.assert_ok()
    assert ["sighup"] in seen["events"][:2]
    assert seen["events"][-1] in (["eof"], ["epipe", "NOOP"])


def test_no_sighup_after_the_script_closed_stdout(agi_dir: Path) -> None:
    result, _ = run(FakeAsterisk([expect("ANSWER")]), agi_dir, ["ANSWER", {"close_stdout": 1}])
    result.assert_ok()
    assert not any("SIGHUP" in note for note in result.notes)


def test_exit_status_and_stderr(agi_dir: Path) -> None:
    fake = FakeAsterisk([expect("ANSWER")])
    result, _ = run(fake, agi_dir, ["ANSWER", {"raw": ""}], exit=3)
    assert result.exit_status == 3 and result.agi_status == "FAILURE"
    assert "the process exited with status 3, expected 0" in str(result.failures[0])
    result, _ = run(fake, agi_dir, ["ANSWER"], exit=3, exit_status=None)
    result.assert_ok()
    assert result.agi_status == "FAILURE"

    crash = agi_dir / "crash.agi"
    crash.write_text(
        f"#!{sys.executable}\nimport sys\nsys.stdin.readline()\nraise SystemExit('boom')\n"
    )
    crash.chmod(0o755)
    result = FakeAsterisk([expect("ANSWER")]).run_process("crash.agi", agi_dir=agi_dir)
    assert b"boom" in result.stderr
    report = result.report()
    assert "stderr (end):\n  boom" in report
    assert "step 1: the AGI closed the stream" in report


def test_script_not_found(tmp_path: Path) -> None:
    result = FakeAsterisk([expect("ANSWER")]).run_process("missing.agi", agi_dir=tmp_path)
    assert result.agi_status == "NOTFOUND"
    assert result.failures[0].message == f"script not found: {tmp_path / 'missing.agi'}"


def test_script_not_executable(agi_dir: Path) -> None:
    os.chmod(agi_dir / "raw.agi", 0o644)
    result = FakeAsterisk().run_process("raw.agi", agi_dir=agi_dir)
    assert result.agi_status == "FAILURE"
    assert "could not execute" in result.failures[0].message


def test_absolute_path_ignores_agi_dir(agi_dir: Path, tmp_path: Path) -> None:
    other = FakeAsterisk([expect("NOOP")]).run_process(
        str(agi_dir / "raw.agi"),
        agi_dir="/nonexistent",
        process_env={"RAWAGI_PLAN": '["NOOP"]', "RAWAGI_LOG": str(tmp_path / "l2.json")},
    )
    other.assert_ok()
    assert json.loads((tmp_path / "l2.json").read_text())["env"]["agi_request"] == str(
        agi_dir / "raw.agi"
    )


def test_hung_script_is_killed(agi_dir: Path) -> None:
    fake = FakeAsterisk([expect("ANSWER")], timeout=0.3, agisighup=False)
    start = time.monotonic()
    result, _ = run(fake, agi_dir, ["ANSWER", {"close_stdout": 1}, {"sleep": 30}])
    assert time.monotonic() - start < 5
    assert result.exit_status == -signal.SIGKILL
    assert "did not exit within 0.3 s after the session ended (killed)" in str(result.failures)


def test_eagi_audio_on_fd3(agi_dir: Path) -> None:
    audio = os.urandom(32000)
    fake = FakeAsterisk([expect("ANSWER")])
    plan = [{"read_audio": len(audio)}, "ANSWER", {"close_stdout": 1}, {"drain_audio": 1}]
    result, seen = run(fake, agi_dir, plan, eagi_audio=audio, eagi_frame_size=320)
    result.assert_ok()
    assert seen["env"]["agi_enhanced"] == "1.0"
    assert seen["fds"] == [0, 1, 2, 3]
    assert bytes.fromhex(seen["audio"]) == audio
    assert seen["audio_eof_after"] == 0  # fd 3 closed at the end of the session
    assert result.audio_bytes_written == len(audio)
    assert result.label == "EAGI 'raw.agi'"


def test_eagi_frames_from_an_iterable_stop_at_hangup(agi_dir: Path) -> None:
    def frames() -> Any:
        yield b"a" * 320
        yield b"b" * 320
        while True:  # endless audio: only the hangup stops it
            yield b"c" * 320

    fake = FakeAsterisk([expect("ANSWER"), hangup(), expect("NOOP")])
    plan = [{"read_audio": 640}, "ANSWER", {"wait_sighup": 5}, "NOOP"]
    result, seen = run(fake, agi_dir, plan, eagi_audio=frames(), eagi_frame_interval=0.001)
    result.assert_ok()
    assert bytes.fromhex(seen["audio"]) == b"a" * 320 + b"b" * 320


def test_stderr_not_captured(agi_dir: Path, capfd: pytest.CaptureFixture[str]) -> None:
    probe = agi_dir / "probe.sh"
    probe.write_text("#!/bin/sh\necho to-stderr >&2\n")
    probe.chmod(0o755)
    result = FakeAsterisk().run_process("probe.sh", agi_dir=agi_dir, capture_stderr=False)
    assert result.stderr == b""
    assert "to-stderr" in capfd.readouterr().err


def test_start_process_and_wait_async(agi_dir: Path) -> None:
    import asyncio

    fake = FakeAsterisk([expect("NOOP")])
    env = {"RAWAGI_PLAN": '["NOOP"]', "RAWAGI_LOG": str(agi_dir / "log.json")}
    session = fake.start_process("raw.agi", agi_dir=agi_dir, process_env=env)
    result = asyncio.run(session.wait_async())
    result.assert_ok()
