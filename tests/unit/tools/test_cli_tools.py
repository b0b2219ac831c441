"""``agikit call``, ``replay``, ``load`` and ``commands``, against an in-process FastAGI server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agikit.cli import main
from agikit.commands import COMMANDS
from agikit.testing.tester import AgiTester

from ._support import DATA, app, fastagi_server

pytestmark = pytest.mark.timeout(60)

APP = "tests.unit.tools._support:app"


@pytest.fixture(scope="module")
def port() -> object:
    with fastagi_server(app) as bound:
        yield bound


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# ------------------------------------------------------------------------------ call


def test_call_prints_the_exchange_like_curl(capsys: pytest.CaptureFixture[str], port: int) -> None:
    status, out, _ = run_cli(
        capsys,
        "call",
        f"agi://127.0.0.1:{port}/menu?lang=fr",
        "--digits",
        "1 123#",
        "--arg",
        "sales",
        "--env",
        "callerid=5551234",
    )
    assert status == 0, out
    lines = out.splitlines()
    assert lines[0] == f"* connecting to agi://127.0.0.1:{port}/menu?lang=fr as Asterisk 22.10.1"
    assert "> agi_network_script: menu?lang=fr" in lines
    assert "> agi_callerid: 5551234" in lines and "> agi_arg_1: sales" in lines
    exchange = lines[lines.index(">") + 1 :]
    assert exchange[:8] == [
        "< ANSWER",
        "> 200 result=0",
        "< SET VARIABLE CHANNEL(language) fr",
        "> 200 result=1",
        "< STREAM FILE main-menu 12",
        "> 200 result=49 endpos=0",
        "< GET DATA enter-account 5000 6",
        "> 200 result=123",
    ]
    assert lines[-1].startswith("* AGISTATUS=SUCCESS: 5 commands in ")


def test_call_options_shape_the_call(capsys: pytest.CaptureFixture[str], port: int) -> None:
    status, out, _ = run_cli(
        capsys,
        "call",
        f"agi://127.0.0.1:{port}/menu",
        "--no-env",
        "--timestamps",
        "--reply",
        "STREAM FILE main-menu=200 result=50 endpos=100",
        "--hangup-during",
        "4",
    )
    assert status == 0, out
    assert "> [environment block]" in out and "agi_channel" not in out
    assert "> 200 result=50 endpos=100" in out  # --reply
    assert "* the caller hangs up while the command runs" in out
    assert out.splitlines()[-1].startswith("* AGISTATUS=HANGUP")


def test_call_exits_1_when_the_call_fails(capsys: pytest.CaptureFixture[str], port: int) -> None:
    status, out, _ = run_cli(capsys, "call", f"agi://127.0.0.1:{port}/fail", "-q")
    assert status == 1
    assert out.splitlines()[0].startswith("* AGISTATUS=FAILURE: 1 command")
    status, out, _ = run_cli(capsys, "call", f"agi://127.0.0.1:{port}/nowhere", "-q")
    assert status == 1


def test_call_exits_1_when_nothing_listens(capsys: pytest.CaptureFixture[str]) -> None:
    with fastagi_server(app) as free:
        pass  # the port is closed again
    status, out, _ = run_cli(capsys, "call", f"agi://127.0.0.1:{free}/menu")
    assert status == 1
    assert "* failure: could not connect" in out


def test_call_refuses_a_bad_url_or_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit, match="not a FastAGI URL"):
        main(["call", "http://example.com/"])
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        main(["call", "agi://127.0.0.1:1/x", "--env", "novalue"])
    with pytest.raises(SystemExit, match="is not a key"):
        main(["call", "agi://127.0.0.1:1/x", "--digits", "12x"])


# ------------------------------------------------------------------------------ load


def test_load_places_the_calls_and_summarises(
    capsys: pytest.CaptureFixture[str], port: int
) -> None:
    status, out, err = run_cli(
        capsys, "load", f"agi://127.0.0.1:{port}/menu", "-n", "40", "-c", "8", "--digits", "2"
    )
    assert status == 0, out
    lines = out.splitlines()
    assert lines[0] == f"agikit load: 40 calls to agi://127.0.0.1:{port}/menu, 8 at a time"
    assert lines[1].startswith("40 calls in ") and "40 succeeded, 0 failed" in lines[1]
    assert lines[2].startswith("160 commands: ")  # ANSWER, SET VARIABLE, 2 STREAM FILE each
    assert lines[3].startswith("call duration (successful calls):  min ")
    assert "p99" in lines[4] and lines[4].startswith("server time per command:")
    assert err == ""  # no progress bar: stderr is not a terminal


def test_load_counts_failures_and_shows_progress(
    capsys: pytest.CaptureFixture[str], port: int
) -> None:
    status, out, err = run_cli(
        capsys, "load", f"agi://127.0.0.1:{port}/fail", "-n", "5", "-c", "2", "--progress"
    )
    assert status == 1
    assert "0 succeeded, 5 failed" in out
    assert "5 x the server sent the failure line (AGISTATUS=FAILURE)" in out
    assert err.endswith("\n") and "5/5 calls  5 failed" in err


def test_load_treats_refused_connections_as_failures(capsys: pytest.CaptureFixture[str]) -> None:
    with fastagi_server(app) as free:
        pass
    status, out, _ = run_cli(capsys, "load", f"agi://127.0.0.1:{free}/menu", "-n", "3")
    assert status == 1 and "3 x connect failed" in out
    with pytest.raises(SystemExit, match="at least 1"):
        main(["load", "agi://127.0.0.1:1/x", "-n", "0"])


# ------------------------------------------------------------------------------ replay


def test_replay_a_debug_log_call(capsys: pytest.CaptureFixture[str]) -> None:
    log = str(DATA / "fastagi-debug.log")
    status, out, _ = run_cli(capsys, "replay", log, APP, "--channel", "basic@fastagi")
    assert status == 0, out
    assert out.splitlines() == [
        "replaying Local/basic@fastagi-00000000;2 (17 commands, "
        f"agi://127.0.0.1:4573/basic?origin=dialplan&n=1) against {APP}",
        "the app followed the recording: 17 commands (17 recorded), AGISTATUS=HANGUP",
    ]


def test_replay_shows_where_the_app_diverges(capsys: pytest.CaptureFixture[str]) -> None:
    log = str(DATA / "fastagi-debug.log")
    status, out, _ = run_cli(capsys, "replay", log, APP, "--channel", "hupbusy")
    assert status == 1
    # A raw client made the recording: no NOOP probe after result=-1 (a replay takes agikit's
    # as optional, "command 9 of 10"), then one more command after the HANGUP, which agikit
    # never sends: the hangup ended its handler.
    assert "the app diverged from the recording at command 9 of 10 (step 10 below):" in out
    assert "step 10: the AGI closed the stream\n  expected: WAIT FOR DIGIT 500" in out


def test_replay_a_transcript_and_show_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    recorded = AgiTester().run_app(app, "/menu", digits="2")
    transcript = tmp_path / "menu.txt"
    transcript.write_text(recorded.result.format_transcript())
    status, out, _ = run_cli(capsys, "replay", str(transcript), APP, "-v")
    assert status == 0, out
    assert "replaying the transcript (4 commands, agi://127.0.0.1:" in out
    assert '>> STREAM FILE goodbye ""' in out  # -v: the conversation


def test_replay_lists_the_calls_of_a_log(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys, "replay", str(DATA / "fastagi-debug.log"), "--list")
    assert status == 0
    assert len(out.splitlines()) == 2 and "Local/hupbusy@fastagi-00000001;2" in out


def test_replay_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = str(DATA / "fastagi-debug.log")
    status, _, err = run_cli(capsys, "replay", log, APP)
    assert status == 2 and "holds 2 AGI sessions" in err
    status, _, err = run_cli(capsys, "replay", log)
    assert status == 2 and "give the app" in err
    status, _, err = run_cli(capsys, "replay", str(tmp_path / "missing.log"), APP)
    assert status == 2 and "cannot read" in err
    status, _, err = run_cli(capsys, "replay", str(DATA / "asyncagi-debug.log"), APP)
    assert status == 2


# ------------------------------------------------------------------------------ commands


def test_commands_table(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys, "commands")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == ["COMMAND", "DEAD", "METHOD", "SUMMARY"]
    assert lines[1].split()[:3] == ["ANSWER", "no", "answer()"]
    rows = lines[1 : 1 + len(COMMANDS)]
    assert [row.split("  ")[0] for row in rows] == [command.name for command in COMMANDS]
    dead = sum(1 for command in COMMANDS if command.dead_ok)
    assert f"{len(COMMANDS)} commands; {dead} run on a dead channel" in out
    get_variable = next(row for row in rows if row.startswith("GET VARIABLE "))
    assert get_variable.split()[2:4] == ["yes", "get_variable()"]


def test_commands_filters_and_formats(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "commands", "--dead", "--syntax")
    assert "ANSWER " not in out and "DATABASE PUT <family> <key> <value>" in out
    _, out, _ = run_cli(capsys, "commands", "--json")
    table = json.loads(out)
    assert len(table) == len(COMMANDS)
    assert table[0] == {
        "command": "ANSWER",
        "method": "answer",
        "dead_ok": False,
        "syntax": "ANSWER",
        "summary": COMMANDS[0].summary,
        "returns": "None",
    }


def test_one_commands_documentation(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys, "commands", "stream", "file")
    assert status == 0
    assert out.startswith("STREAM FILE\n  Asterisk:     STREAM FILE <filename> <escape_digits>")
    assert "call.stream_file(filename: str, escape_digits: str = ''" in out
    assert "Dead channel: not allowed (raises Hangup)" in out and "\nArgs:\n" in out
    status, out, _ = run_cli(capsys, "commands", "get_variable")
    assert status == 0 and out.startswith("GET VARIABLE\n") and "Dead channel: allowed" in out
    status, _, err = run_cli(capsys, "commands", "frobnicate")
    assert status == 1 and "no AGI command 'frobnicate'" in err


def test_the_command_line_program(tmp_path: Path) -> None:
    """``python -m agikit``: the help lists the tools, and a closed pipe is no traceback."""
    done = subprocess.run(
        [sys.executable, "-m", "agikit", "--help"], capture_output=True, text=True, check=True
    )
    for name in ("serve", "asyncagi", "call", "replay", "load", "commands"):
        assert name in done.stdout
    piped = subprocess.run(
        f"{sys.executable} -m agikit commands | head -1",
        shell=True,
        capture_output=True,
        text=True,
        check=True,
    )
    assert piped.stdout.startswith("COMMAND") and "Traceback" not in piped.stderr
