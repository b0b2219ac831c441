"""Results from the reply lines a real Asterisk 22.10.1 sent (the ground-truth transcripts),
plus the shapes its code can send that the capture could not provoke."""

from __future__ import annotations

from typing import Any

import pytest

from agikit import commands as C
from agikit.commands import Command
from agikit.errors import CommandFailed, Hangup, ProtocolError
from agikit.results import (
    ChannelState,
    ControlPlaybackResult,
    DigitsResult,
    GosubResult,
    PlaybackResult,
    RecordResult,
    SpeechHypothesis,
    SpeechResult,
    StreamControl,
)

from ._agi import result_of

# A representative request per command (the reply parsing does not depend on the arguments).
REQUESTS: dict[Command[Any], tuple[Any, ...]] = {
    C.ANSWER: (),
    C.ASYNCAGI_BREAK: (),
    C.CHANNEL_STATUS: (),
    C.DATABASE_DEL: ("agicap", "key1"),
    C.DATABASE_DELTREE: ("agicap",),
    C.DATABASE_GET: ("agicap", "key1"),
    C.DATABASE_PUT: ("agicap", "key1", "v"),
    C.EXEC: ("Wait", "1"),
    C.GET_DATA: ("beep", 5, 3),
    C.GET_FULL_VARIABLE: ("${HARNESS_VAR}",),
    C.GET_OPTION: ("beep", "12", 0.5),
    C.GET_VARIABLE: ("HARNESS_VAR",),
    C.HANGUP: (),
    C.NOOP: (),
    C.RECEIVE_CHAR: (1,),
    C.RECEIVE_TEXT: (1,),
    C.RECORD_FILE: ("/tmp/agicap/rec", "wav", "#", 2),
    C.SAY_ALPHA: ("abc", "5"),
    C.SAY_DIGITS: ("123", "5"),
    C.SAY_NUMBER: (42, "5"),
    C.SAY_PHONETIC: ("abc", "5"),
    C.SAY_DATE: (0, "5"),
    C.SAY_TIME: (0, "5"),
    C.SAY_DATETIME: (0, "5"),
    C.SEND_IMAGE: ("asterisk-logo",),
    C.SEND_TEXT: ("hello",),
    C.SET_AUTOHANGUP: (1.5,),
    C.SET_CALLERID: ("123",),
    C.SET_CONTEXT: ("fastagi",),
    C.SET_EXTENSION: ("cmdafter",),
    C.SET_MUSIC: (True,),
    C.SET_PRIORITY: (3,),
    C.SET_VARIABLE: ("X", "y"),
    C.STREAM_FILE: ("beep", "#5"),
    C.CONTROL_STREAM_FILE: ("demo-congrats", "5"),
    C.TDD_MODE: ("on",),
    C.VERBOSE: ("hello",),
    C.WAIT_FOR_DIGIT: (5,),
    C.SPEECH_CREATE: (),
    C.SPEECH_SET: ("confidence", 50),
    C.SPEECH_DESTROY: (),
    C.SPEECH_LOAD_GRAMMAR: ("digits", "/tmp/digits.gram"),
    C.SPEECH_UNLOAD_GRAMMAR: ("digits",),
    C.SPEECH_ACTIVATE_GRAMMAR: ("digits",),
    C.SPEECH_DEACTIVATE_GRAMMAR: ("digits",),
    C.SPEECH_RECOGNIZE: ("beep", 2),
    C.GOSUB: ("agicap-sub", "s", 1),
}


def run(command: Command[Any], reply: str, *, hung_up: bool = False) -> Any:
    return result_of(command.request(*REQUESTS[command]), reply, hung_up=hung_up)


# (command, reply exactly as Asterisk sent it, expected result). From the transcripts unless
# marked "code": those shapes come from reading res_agi.c / app_stack.c.
RESULTS: list[tuple[Command[Any], str, Any]] = [
    (C.ANSWER, "200 result=0", None),
    (C.ASYNCAGI_BREAK, "200 result=0", None),
    (C.CHANNEL_STATUS, "200 result=6", ChannelState.UP),
    (C.CHANNEL_STATUS, "200 result=4", ChannelState.RING),
    (C.CHANNEL_STATUS, "200 result=0", ChannelState.DOWN),
    (C.CHANNEL_STATUS, "200 result=-1", None),  # unknown channel (or a unique ID)
    (C.CHANNEL_STATUS, "200 result=9", ChannelState.PRERING),  # code
    (C.DATABASE_DEL, "200 result=1", None),  # also for a missing key
    (C.DATABASE_DELTREE, "200 result=0", True),  # inverted: 0 = something was deleted
    (C.DATABASE_DELTREE, "200 result=1", False),
    (C.DATABASE_GET, "200 result=1 (value (two))", "value (two)"),
    (C.DATABASE_GET, "200 result=1 ()", ""),
    (C.DATABASE_GET, "200 result=0", None),
    (C.DATABASE_GET, "200 result=1 (written after hangup)", "written after hangup"),
    (C.DATABASE_PUT, "200 result=1", None),
    (C.EXEC, "200 result=0", 0),
    (C.EXEC, "200 result=-1", -1),  # the application asked to end the call
    (C.GET_DATA, "200 result=123", DigitsResult("123", False)),
    (C.GET_DATA, "200 result=*9A", DigitsResult("*9A", False)),
    (C.GET_DATA, "200 result=", DigitsResult("", False)),  # "#" pressed first
    (C.GET_DATA, "200 result=12 (timeout)", DigitsResult("12", True)),
    (C.GET_DATA, "200 result= (timeout)", DigitsResult("", True)),
    (C.GET_FULL_VARIABLE, "200 result=1 (hello-from-dialplan)", "hello-from-dialplan"),
    (
        C.GET_FULL_VARIABLE,
        "200 result=1 (two words|Up|1000|cmdvars)",
        "two words|Up|1000|cmdvars",
    ),
    (C.GET_FULL_VARIABLE, "200 result=1 ()", ""),
    (C.GET_FULL_VARIABLE, "200 result=0", None),  # unknown channel
    (C.GET_OPTION, "200 result=0 endpos=3520", PlaybackResult(None, 3520)),
    (C.GET_OPTION, "200 result=50 endpos=13920", PlaybackResult("2", 13920)),
    (C.GET_OPTION, "200 result=49 endpos=3520", PlaybackResult("1", 3520)),
    (C.GET_VARIABLE, "200 result=1 (hello-from-dialplan)", "hello-from-dialplan"),
    (C.GET_VARIABLE, "200 result=0", None),
    (C.GET_VARIABLE, "200 result=1 ()", ""),
    (C.GET_VARIABLE, "200 result=1 (a (b) c) d)", "a (b) c) d"),
    (C.GET_VARIABLE, '200 result=1 (say "hi" \\o/)', 'say "hi" \\o/'),
    (C.GET_VARIABLE, "200 result=1 (héllo ✓)", "héllo ✓"),
    (
        C.GET_VARIABLE,
        "200 result=1 (Local/cmdvars@fastagi-00000071;2)",
        "Local/cmdvars@fastagi-00000071;2",
    ),
    (C.HANGUP, "200 result=1", True),
    (C.HANGUP, "200 result=-1", False),  # unknown channel
    (C.NOOP, "200 result=0", None),
    (C.RECEIVE_CHAR, "200 result=90", "Z"),
    (C.RECEIVE_CHAR, "200 result=-1 (hangup)", None),  # timeout, timeout 0, hangup alike
    (C.RECEIVE_CHAR, "200 result=0 (timeout)", None),  # code
    (C.RECEIVE_CHAR, "200 result=195", "\udcc3"),  # code: first byte of "é", not ASCII
    (C.RECEIVE_TEXT, "200 result=1 (hello (from) the peer)", "hello (from) the peer"),
    (C.RECEIVE_TEXT, "200 result=-1", None),
    (C.RECORD_FILE, "200 result=0 (timeout) endpos=16000", RecordResult("timeout", None, 16000)),
    (
        C.RECORD_FILE,
        "200 result=11661 (timeout) endpos=18720",  # silence limit: the number is junk
        RecordResult("timeout", None, 18720),
    ),
    (C.RECORD_FILE, "200 result=0 (timeout) endpos=0", RecordResult("timeout", None, 0)),
    (C.RECORD_FILE, "200 result=35 (dtmf) endpos=9760", RecordResult("dtmf", "#", 9760)),
    (
        C.RECORD_FILE,
        "200 result=-1 (hangup) endpos=11200",  # the recording is kept
        RecordResult("hangup", None, 11200),
    ),
    (
        C.RECORD_FILE,
        "200 result=35 (randomerror) endpos=0",  # code: key during the beep
        RecordResult(RecordResult.BEEP_INTERRUPTED, "#", 0),
    ),
    (C.SAY_ALPHA, "200 result=0", None),
    (C.SAY_ALPHA, "200 result=53", "5"),
    (C.SAY_DIGITS, "200 result=53", "5"),
    (C.SAY_NUMBER, "200 result=0", None),
    (C.SAY_PHONETIC, "200 result=0", None),
    (C.SAY_DATE, "200 result=0", None),
    (C.SAY_TIME, "200 result=0", None),
    (C.SAY_DATETIME, "200 result=53", "5"),
    (C.SAY_ALPHA, "200 result=1000", StreamControl.STOP),  # code: stream control
    (C.SEND_IMAGE, "200 result=0", None),
    (C.SEND_TEXT, "200 result=0", None),
    (C.SET_AUTOHANGUP, "200 result=0", None),
    (C.SET_CALLERID, "200 result=1", None),
    (C.SET_CONTEXT, "200 result=0", None),
    (C.SET_EXTENSION, "200 result=0", None),
    (C.SET_MUSIC, "200 result=0", None),
    (C.SET_PRIORITY, "200 result=0", None),
    (C.SET_VARIABLE, "200 result=1", None),
    (C.STREAM_FILE, "200 result=0 endpos=3520", PlaybackResult(None, 3520)),
    (C.STREAM_FILE, "200 result=53 endpos=32800", PlaybackResult("5", 32800)),
    (C.STREAM_FILE, "200 result=0 endpos=11360", PlaybackResult(None, 11360)),
    (C.STREAM_FILE, "200 result=35 endpos=100", PlaybackResult("#", 100)),
    (C.STREAM_FILE, "200 result=42 endpos=100", PlaybackResult("*", 100)),
    (C.STREAM_FILE, "200 result=65 endpos=100", PlaybackResult("A", 100)),
    (C.STREAM_FILE, "200 result=1002 endpos=100", PlaybackResult("restart", 100)),  # code
    (C.CONTROL_STREAM_FILE, "200 result=0 endpos=-1", ControlPlaybackResult(None, None)),
    (C.CONTROL_STREAM_FILE, "200 result=53 endpos=4460", ControlPlaybackResult("5", 4460)),
    (C.CONTROL_STREAM_FILE, "200 result=53 endpos=3100", ControlPlaybackResult("5", 3100)),
    (C.CONTROL_STREAM_FILE, "200 result=0 endpos=1200", ControlPlaybackResult(None, 1200)),
    (C.TDD_MODE, "200 result=0", False),
    (C.TDD_MODE, "200 result=1", True),  # code
    (C.VERBOSE, "200 result=1", None),
    (C.WAIT_FOR_DIGIT, "200 result=0", None),
    (C.WAIT_FOR_DIGIT, "200 result=55", "7"),
    (C.WAIT_FOR_DIGIT, "200 result=42", "*"),
    (C.WAIT_FOR_DIGIT, "200 result=65", "A"),
    (C.WAIT_FOR_DIGIT, "200 result=1000", StreamControl.STOP),  # code
    (C.WAIT_FOR_DIGIT, "200 result=1004", StreamControl.FORWARD),  # code
    (C.SPEECH_CREATE, "200 result=0", False),  # no engine loaded
    (C.SPEECH_CREATE, "200 result=1", True),  # code
    (C.SPEECH_SET, "200 result=0", False),
    (C.SPEECH_SET, "200 result=1", True),
    (C.SPEECH_DESTROY, "200 result=0", False),
    (C.SPEECH_DESTROY, "200 result=1", True),
    (C.SPEECH_LOAD_GRAMMAR, "200 result=0", False),
    (C.SPEECH_UNLOAD_GRAMMAR, "200 result=0", False),
    (C.SPEECH_ACTIVATE_GRAMMAR, "200 result=0", False),
    (C.SPEECH_DEACTIVATE_GRAMMAR, "200 result=1", True),
    (
        C.SPEECH_RECOGNIZE,
        '200 result=1 (speech) endpos=0 results=2 score0=910 text0="one two" grammar0=digits '
        'score1=420 text1="won too" grammar1=digits',
        SpeechResult(
            "speech",
            None,
            0,
            (
                SpeechHypothesis(910, "one two", "digits"),
                SpeechHypothesis(420, "won too", "digits"),
            ),
        ),
    ),
    (
        C.SPEECH_RECOGNIZE,
        "200 result=1 (speech) endpos=160 results=0 ",
        SpeechResult("speech", None, 160),
    ),
    (
        C.SPEECH_RECOGNIZE,
        '200 result=1 (speech) endpos=0 results=1 score0=5 text0="say "yes" (now) x=1" grammar0=g',
        SpeechResult("speech", None, 0, (SpeechHypothesis(5, 'say "yes" (now) x=1', "g"),)),
    ),
    (
        C.SPEECH_RECOGNIZE,
        "200 result=1 (digit) digit=5 endpos=8000",
        SpeechResult("digit", "5", 8000),
    ),
    (C.SPEECH_RECOGNIZE, "200 result=1 (timeout) endpos=0", SpeechResult("timeout", None, 0)),
    (
        C.GOSUB,
        "100 result=0 Trying...\n200 result=0 Gosub complete",
        GosubResult(True, "Gosub complete"),
    ),
    (
        C.GOSUB,
        "100 result=0 Trying...\n200 result=0 Gosub complete (abnormal exit)",
        GosubResult(False, "Gosub complete (abnormal exit)"),
    ),
]


@pytest.mark.parametrize(("command", "reply", "expected"), RESULTS)
def test_result(command: Command[Any], reply: str, expected: Any) -> None:
    result = run(command, reply)
    assert result == expected
    assert type(result) is type(expected)


def test_every_command_has_result_cases() -> None:
    assert {command for command, *_ in RESULTS} == set(C.COMMANDS)


# Replies that mean "the command failed": (command, reply, text in the error)
FAILURES: list[tuple[Command[Any], str, str]] = [
    (C.ANSWER, "200 result=-1", "failed"),  # code
    (C.DATABASE_DEL, "200 result=0", "database"),  # code
    (C.DATABASE_PUT, "200 result=0", "database"),  # code
    (C.EXEC, "200 result=-2", "no application"),
    (C.GET_DATA, "200 result=-1", "prompt"),  # missing prompt file
    (C.GET_OPTION, "200 result=-1 endpos=0", "missing file"),
    (C.STREAM_FILE, "200 result=-1 endpos=0", "missing file"),
    (C.STREAM_FILE, "200 result=-1 endpos=1234", "missing file"),
    (C.CONTROL_STREAM_FILE, "200 result=-1 endpos=-1", "missing file"),
    (C.RECORD_FILE, "200 result=-1 (writefile)", "could not be created"),
    (C.RECORD_FILE, "200 result=-1 (waitfor) endpos=0", "waiting"),  # code
    (C.RECORD_FILE, "200 result=-1 (randomerror) endpos=0", "beep"),  # code
    (C.RECORD_FILE, "200 result=-1", "silence detection"),  # code
    (C.SAY_NUMBER, "200 result=-1", "failed"),
    (C.SAY_DATETIME, "200 result=-1", "failed"),
    (C.SEND_TEXT, "200 result=-1", "failed"),  # code: a channel without text support
    (C.SEND_IMAGE, "200 result=-1", "failed"),  # code
    (C.WAIT_FOR_DIGIT, "200 result=-1", "hung up"),
    (C.SPEECH_RECOGNIZE, "200 result=0", "no speech object"),
    (C.GOSUB, "200 result=-1 Gosub label not found", "Gosub label not found"),
    (C.GOSUB, "100 result=0 Trying...\n200 result=-1 Gosub failed", "Gosub failed"),  # code
    (C.GOSUB, "503 result=-2 Memory allocation failure", "out of memory"),  # code
]


@pytest.mark.parametrize(("command", "reply", "text"), FAILURES)
def test_failure_raises_command_failed(command: Command[Any], reply: str, text: str) -> None:
    request = command.request(*REQUESTS[command])
    with pytest.raises(CommandFailed, match=text) as caught:
        result_of(request, reply)
    assert type(caught.value) is CommandFailed
    assert caught.value.command == request.line.decode()
    assert caught.value.reply is not None
    assert caught.value.reply.lines[-1] == reply.encode().split(b"\n")[-1]


@pytest.mark.parametrize(
    ("command", "reply", "text"),
    [case for case in FAILURES if not case[0].dead_ok and not case[1].startswith("503")],
)
def test_failure_after_the_hangup_was_seen_raises_hangup(
    command: Command[Any], reply: str, text: str
) -> None:
    with pytest.raises(Hangup, match=text):
        run(command, reply, hung_up=True)


@pytest.mark.parametrize(("command", "reply", "text"), [c for c in FAILURES if c[0].dead_ok])
def test_failure_of_a_dead_channel_command_stays_command_failed_after_hangup(
    command: Command[Any], reply: str, text: str
) -> None:
    with pytest.raises(CommandFailed, match=text) as caught:
        run(command, reply, hung_up=True)
    assert type(caught.value) is CommandFailed


def test_speech_recognize_hangup_is_hangup_even_before_the_notification() -> None:
    # Asterisk reports the hangup with result=1 and a keyword, not with -1.
    with pytest.raises(Hangup, match="hung up during recognition"):
        run(C.SPEECH_RECOGNIZE, "200 result=1 (hangup) endpos=0")


def test_speech_results_cut_at_4kb_keep_the_complete_entries() -> None:
    line = (
        '200 result=1 (speech) endpos=0 results=3 score0=1 text0="a" grammar0=g '
        'score1=2 text1="b" grammar1=g score2=3 text2="cut sho'
    )
    assert run(C.SPEECH_RECOGNIZE, line).hypotheses == (
        SpeechHypothesis(1, "a", "g"),
        SpeechHypothesis(2, "b", "g"),
    )


@pytest.mark.parametrize(
    ("command", "reply"),
    [
        (C.WAIT_FOR_DIGIT, "200 result=1"),  # another command line arrived while it waited
        (C.STREAM_FILE, "200 result=0"),  # no endpos
        (C.STREAM_FILE, "200 result=x endpos=0"),
        (C.STREAM_FILE, "200 result=2000 endpos=0"),  # not a key, not stream control
        (C.GET_VARIABLE, "200 result=1"),  # result=1 without a value
        (C.GET_VARIABLE, "200 result=7"),
        (C.GET_DATA, "200 result=12 (hangup)"),
        (C.DATABASE_DELTREE, "200 result=5"),
        (C.RECORD_FILE, "200 result=0 (bogus) endpos=0"),
        (C.RECORD_FILE, "200 result=0 (timeout)"),
        (C.RECEIVE_CHAR, "200 result=300"),
        (C.SPEECH_RECOGNIZE, "200 result=1 (bogus) endpos=0"),
        (C.SPEECH_RECOGNIZE, "200 result=2"),
        (C.SPEECH_RECOGNIZE, "200 result=1 (digit) endpos=0"),
        (C.SPEECH_RECOGNIZE, "200 result=1 (speech) endpos=x results=0 "),
    ],
)
def test_malformed_replies_raise_protocol_error(command: Command[Any], reply: str) -> None:
    with pytest.raises(ProtocolError):
        run(command, reply)
