"""The generic reply mapping (agikit.commands.complete): codes to errors, hangup handling."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from agikit import _execute
from agikit import commands as C
from agikit.commands import CommandRequest, complete, raw_request, refuse_when_dead
from agikit.errors import (
    CommandError,
    CommandFailed,
    Hangup,
    InvalidCommand,
    ProtocolError,
    UsageError,
)
from agikit.protocol.replies import Reply, parse_final_line

from ._agi import reply_for, result_of, usage_block

DEAD = "511 Command Not Permitted on a dead channel or intercept routine"
INVALID = "510 Invalid or unknown command"


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (INVALID, InvalidCommand),
        (DEAD, Hangup),
        ("511 Command Not Permitted on a dead channel", Hangup),  # older Asterisk text
        (usage_block(), UsageError),
        ("520 Invalid command syntax.  Proper usage not available.", UsageError),
        ("503 result=-2 Memory allocation failure", CommandFailed),
    ],
)
def test_error_codes(reply: str, error: type[CommandError]) -> None:
    request = C.STREAM_FILE.request("beep", "#")
    with pytest.raises(error) as caught:
        result_of(request, reply)
    assert type(caught.value) is error
    assert caught.value.command == "STREAM FILE beep #"
    assert caught.value.reply == reply_for(request, reply)
    assert "STREAM FILE beep #" in str(caught.value)


def test_usage_error_carries_asterisks_usage_text() -> None:
    with pytest.raises(UsageError) as caught:
        result_of(C.STREAM_FILE.request("beep"), usage_block("Send the given file."))
    assert caught.value.usage.startswith("Send the given file.\n<variable>PLAYBACKSTATUS")


def test_511_is_hangup_even_for_a_dead_channel_command() -> None:
    with pytest.raises(Hangup):
        result_of(C.GET_VARIABLE.request("X"), DEAD)


def test_unknown_code_is_a_protocol_error_naming_the_command() -> None:
    request = C.NOOP.request()
    reply = parse_final_line(b"404 result=0 what", (b"404 result=0 what",))
    with pytest.raises(ProtocolError, match="NOOP"):
        complete(request, reply, False)


def test_the_parser_gets_200_replies_only() -> None:
    assert result_of(C.GET_VARIABLE.request("X"), "200 result=1 (y)") == "y"


def test_command_failed_becomes_hangup_only_once_the_hangup_is_known() -> None:
    request = C.STREAM_FILE.request("demo-congrats")
    reply = "200 result=-1 endpos=12000"
    with pytest.raises(CommandFailed) as failed:
        result_of(request, reply, hung_up=False)
    assert type(failed.value) is CommandFailed
    with pytest.raises(Hangup) as hangup:
        result_of(request, reply, hung_up=True)
    assert hangup.value.command == 'STREAM FILE demo-congrats ""'
    assert hangup.value.reply is not None and hangup.value.reply.result == "-1"


def test_errors_carry_the_decoded_command_line() -> None:
    request = raw_request("NEW COMMAND", b"\xff", "é")
    with pytest.raises(InvalidCommand) as caught:
        result_of(request, INVALID)
    assert caught.value.command == "NEW COMMAND \udcff é"


def test_errors_survive_pickling() -> None:
    with pytest.raises(CommandFailed) as caught:
        result_of(C.EXEC.request("Nope"), "200 result=-2")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is CommandFailed
    assert copy.command == "EXEC Nope"
    assert copy.reply == caught.value.reply


@pytest.mark.parametrize(
    "reply",
    ["200 result=0", "200 result=-1", "200 result=1 (x) y", "100 result=0 Trying...\n200 result=0"],
)
def test_raw_requests_return_the_reply_itself(reply: str) -> None:
    request = raw_request("SOME COMMAND", "x")
    result = result_of(request, reply)
    assert isinstance(result, Reply)
    assert result == reply_for(request, reply)


def test_raw_requests_map_error_codes_too() -> None:
    with pytest.raises(InvalidCommand):
        result_of(raw_request("FOO BAR"), INVALID)
    with pytest.raises(Hangup):
        result_of(raw_request("STREAM FILE", "x", ""), DEAD)


def test_refuse_when_dead() -> None:
    live_only = C.STREAM_FILE.request("beep")
    refuse_when_dead(live_only, False)
    with pytest.raises(Hangup, match="not sent") as caught:
        refuse_when_dead(live_only, True)
    assert caught.value.reply is None
    assert caught.value.command == 'STREAM FILE beep ""'
    sent: list[CommandRequest[Any]] = [C.GET_VARIABLE.request("DIALSTATUS"), raw_request("ANSWER")]
    for request in sent:
        refuse_when_dead(request, True)  # dead-channel commands (and raw ones) are sent


def test_the_old_module_still_provides_both_functions() -> None:
    """agikit._execute is a compatibility name: the functions live in agikit.commands."""
    assert _execute.complete is complete
    assert _execute.refuse_when_dead is refuse_when_dead
