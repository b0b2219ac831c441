"""The command table against a real Asterisk 22: its command list, and the lines the table builds.

``agi show commands`` is Asterisk's own list of the AGI commands it has registered, with the Dead
column (allowed on a dead channel). The table must equal it exactly, in order. The second test
sends the table's request lines for the forms that fill gaps or need care (RECORD FILE's
optional arguments, CONTROL STREAM FILE's defaults, SAY DATETIME's default format, quoting) on a
live FastAGI call, and checks that Asterisk accepts them and that the results parse.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from agikit import commands as C
from agikit._execute import complete
from agikit.commands import COMMANDS, CommandRequest
from agikit.errors import CommandFailed
from agikit.protocol.session import AgiSession, ReplyReceived
from agikit.results import ChannelState, ControlPlaybackResult, PlaybackResult, RecordResult
from agikit.testing.asterisk import Asterisk

from .rawagi import RawFastAgiServer, RawSession

_ROW = re.compile(r"^\s*(Yes|No)\s+(\S.*?)\s{3}(.*)$")


def parse_agi_show_commands(text: str) -> list[tuple[str, bool]]:
    """``(command words, dead)`` rows of ``agi show commands``, in Asterisk's order."""
    rows = []
    for line in text.splitlines():
        match = _ROW.match(line)
        if match:
            rows.append((match.group(2), match.group(1) == "Yes"))
    return rows


def test_table_matches_agi_show_commands(asterisk: Asterisk) -> None:
    listed = parse_agi_show_commands(asterisk.ami.command("agi show commands"))
    table = [(command.name.lower(), command.dead_ok) for command in COMMANDS]
    assert listed == table
    assert len(listed) == 47


@pytest.fixture
def fastagi() -> Iterator[list[RawFastAgiServer]]:
    servers: list[RawFastAgiServer] = []
    yield servers
    for server in servers:
        server.close()


class Exchange:
    """Sends table requests over a raw FastAGI session and maps replies like a transport."""

    def __init__(self, raw: RawSession) -> None:
        self.raw = raw
        self.session = AgiSession()
        block = "".join(f"{key}: {value}\n" for key, value in raw.env.items()) + "\n"
        self.session.receive_data(block.encode())
        self.lines: list[tuple[bytes, Any]] = []

    def run(self, request: CommandRequest[Any]) -> Any:
        self.raw.conn.sendall(self.session.send_command(request.line))
        while True:
            data = self.raw.reader.readline()
            if not data:
                raise EOFError(f"Asterisk closed the connection after {request.line!r}")
            for event in self.session.receive_data(data):
                if isinstance(event, ReplyReceived):
                    try:
                        result = complete(request, event.reply, self.session.hung_up)
                    except CommandFailed as error:
                        result = error
                    self.lines.append((request.line, result))
                    return result


def test_request_lines_are_accepted_by_asterisk(
    asterisk: Asterisk, fastagi: list[RawFastAgiServer]
) -> None:
    asterisk.ami.command("dialplan add extension s,1,Return(${ARG1}-${ARG2}) into agikit-live-sub")
    results: dict[str, Any] = {}
    tricky = 'say "hi" \\o/ (x) é  two spaces'

    def handler(raw: RawSession) -> None:
        agi = Exchange(raw)
        results["exchange"] = agi
        results["answer"] = agi.run(C.ANSWER.request())
        results["status"] = agi.run(C.CHANNEL_STATUS.request())
        results["set"] = agi.run(C.SET_VARIABLE.request("AGIKIT_T", tricky))
        results["get"] = agi.run(C.GET_VARIABLE.request("AGIKIT_T"))
        results["full"] = agi.run(C.GET_FULL_VARIABLE.request("${AGIKIT_T}|${EXTEN}"))
        results["unset"] = agi.run(C.GET_VARIABLE.request("AGIKIT_NOT_SET"))
        results["put"] = agi.run(C.DATABASE_PUT.request("agikit-live", "k", tricky))
        results["dbget"] = agi.run(C.DATABASE_GET.request("agikit-live", "k"))
        results["del"] = agi.run(C.DATABASE_DEL.request("agikit-live", "k"))
        results["deltree_none"] = agi.run(C.DATABASE_DELTREE.request("agikit-live"))
        agi.run(C.DATABASE_PUT.request("agikit-live", "a", 1))
        results["deltree"] = agi.run(C.DATABASE_DELTREE.request("agikit-live"))
        results["exec"] = agi.run(C.EXEC.request("Set", "AGIKIT_E=a,b"))
        results["exec_get"] = agi.run(C.GET_VARIABLE.request("AGIKIT_E"))
        results["exec_unknown"] = agi.run(C.EXEC.request("AgikitNoSuchApp"))
        results["gosub"] = agi.run(C.GOSUB.request("agikit-live-sub", "s", 1, "x1", "x2"))
        results["retval"] = agi.run(C.GET_VARIABLE.request("GOSUB_RETVAL"))
        results["stream"] = agi.run(C.STREAM_FILE.request("beep", "#", 0))
        results["option"] = agi.run(C.GET_OPTION.request("beep", "12", 0))
        results["control"] = agi.run(C.CONTROL_STREAM_FILE.request("beep", offset=0.1))
        results["data"] = agi.run(C.GET_DATA.request("", 0.1, 2))
        results["wait"] = agi.run(C.WAIT_FOR_DIGIT.request(0))
        results["say_dt"] = agi.run(C.SAY_DATETIME.request(0, "#", timezone="UTC"))
        results["say_alpha"] = agi.run(C.SAY_ALPHA.request("a", "#", "upper"))
        results["say_digits"] = agi.run(C.SAY_DIGITS.request("1*", "#"))
        results["record"] = agi.run(
            C.RECORD_FILE.request("/tmp/agikit-live-rec", "wav", "#", 0.5, beep=True, silence=1)
        )
        results["record_bad"] = agi.run(
            C.RECORD_FILE.request("/nonexistent-dir/x", "wav", "#", 0.5)
        )
        results["text"] = agi.run(C.RECEIVE_TEXT.request(0))
        results["autohangup"] = agi.run(C.SET_AUTOHANGUP.request(None))
        results["callerid"] = agi.run(C.SET_CALLERID.request('"Agi Kit" <555-1234>'))
        results["cid"] = agi.run(C.GET_VARIABLE.request("CALLERID(all)"))
        results["tdd"] = agi.run(C.TDD_MODE.request(False))
        results["verbose"] = agi.run(C.VERBOSE.request("agikit live test message", 3))
        results["noop"] = agi.run(C.NOOP.request("agikit marker"))
        results["speech"] = agi.run(C.SPEECH_CREATE.request())
        results["raw"] = agi.run(C.raw_request("GET VARIABLE", "AGIKIT_T"))
        results["hangup"] = agi.run(C.HANGUP.request())

    server = RawFastAgiServer(handler)
    fastagi.append(server)
    try:
        asterisk.originate_fastagi(server.port, "table").wait(timeout=60)
    finally:
        asterisk.ami.command("dialplan remove context agikit-live-sub")
    assert not server.errors, server.errors
    for line, result in results.pop("exchange").lines:
        assert not isinstance(result, Exception) or line.startswith(
            (b"EXEC AgikitNoSuchApp", b"RECORD FILE /nonexistent-dir")
        ), (line, result)

    assert results["answer"] is None
    assert results["status"] == ChannelState.UP
    assert results["get"] == results["dbget"] == tricky
    assert results["full"] == f"{tricky}|s"
    assert results["unset"] is None
    assert (results["deltree_none"], results["deltree"]) == (False, True)
    assert results["exec"] == 0 and results["exec_get"] == "a,b"
    assert isinstance(results["exec_unknown"], CommandFailed)
    assert results["gosub"].returned is True
    assert results["retval"] == "x1-x2"
    assert results["stream"] == PlaybackResult(None, 3520)
    assert results["option"] == PlaybackResult(None, 3520)
    assert results["control"] == ControlPlaybackResult(None, None)
    assert results["data"].digits == "" and results["data"].timed_out is True
    assert results["wait"] is None
    assert results["say_dt"] is None
    assert results["say_alpha"] is None and results["say_digits"] is None
    assert isinstance(results["record"], RecordResult)
    assert results["record"].outcome == RecordResult.TIMEOUT
    assert isinstance(results["record_bad"], CommandFailed)
    assert results["text"] is None
    assert results["cid"] == '"Agi Kit" <5551234>'
    assert results["tdd"] is False
    assert results["speech"] is False  # no speech engine in the harness
    assert results["raw"].value() == tricky
    assert results["hangup"] is True
