"""Command lines: what each method sends for typical and edge arguments, and what it refuses."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agikit import commands as C
from agikit.commands import Command, raw_request
from agikit.errors import ArgumentError
from agikit.protocol.quoting import split_command_line

BERLIN = ZoneInfo("Europe/Berlin")
NOV_2023 = dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)  # 1700000000

# (command, args, kwargs, line sent)
LINES: list[tuple[Command[Any], tuple[Any, ...], dict[str, Any], str]] = [
    (C.ANSWER, (), {}, "ANSWER"),
    (C.ASYNCAGI_BREAK, (), {}, "ASYNCAGI BREAK"),
    (C.CHANNEL_STATUS, (), {}, "CHANNEL STATUS"),
    (
        C.CHANNEL_STATUS,
        ("Local/cmdchan@fastagi-00000070;1",),
        {},
        "CHANNEL STATUS Local/cmdchan@fastagi-00000070;1",
    ),
    (C.DATABASE_DEL, ("agicap", "key1"), {}, "DATABASE DEL agicap key1"),
    (C.DATABASE_DELTREE, ("agicap/tree",), {}, "DATABASE DELTREE agicap/tree"),
    (C.DATABASE_DELTREE, ("agicap/tree", "sub"), {}, "DATABASE DELTREE agicap/tree sub"),
    (C.DATABASE_DELTREE, ("agicap",), {"keytree": ""}, 'DATABASE DELTREE agicap ""'),
    (C.DATABASE_GET, ("agicap", "key1"), {}, "DATABASE GET agicap key1"),
    (
        C.DATABASE_PUT,
        ("agicap", "key1", "value (two)"),
        {},
        'DATABASE PUT agicap key1 "value (two)"',
    ),
    (C.DATABASE_PUT, ("agicap", "empty", ""), {}, 'DATABASE PUT agicap empty ""'),
    (C.DATABASE_PUT, ("agicap", "n", 42), {}, "DATABASE PUT agicap n 42"),
    (C.DATABASE_PUT, ("agicap", "x", 1.5), {}, "DATABASE PUT agicap x 1.5"),
    (C.EXEC, ("Answer",), {}, "EXEC Answer"),
    (C.EXEC, ("Wait", 10), {}, "EXEC Wait 10"),
    (C.EXEC, ("Dial", "PJSIP/bob", 30, "tT"), {}, "EXEC Dial PJSIP/bob,30,tT"),
    (C.EXEC, ("Dial", "PJSIP/bob,30,tT"), {}, "EXEC Dial PJSIP/bob,30,tT"),
    (C.EXEC, ("Set", "AGICAP_Z=${HARNESS_VAR}"), {}, "EXEC Set AGICAP_Z=${HARNESS_VAR}"),
    (C.EXEC, ("Verbose", "1", "two words"), {}, 'EXEC Verbose "1,two words"'),
    (C.EXEC, ("Set", ""), {}, 'EXEC Set ""'),
    (C.GET_DATA, ("beep",), {}, "GET DATA beep"),
    (C.GET_DATA, ("",), {"timeout": 0.5}, 'GET DATA "" 500'),
    (C.GET_DATA, ("beep", 5, 3), {}, "GET DATA beep 5000 3"),
    (C.GET_DATA, ("beep",), {"max_digits": 4}, "GET DATA beep 0 4"),  # gap: keeps the default
    (C.GET_DATA, ("beep",), {"timeout": 0}, "GET DATA beep 0"),
    (C.GET_DATA, ("beep",), {"timeout": float("inf")}, "GET DATA beep -1"),
    (
        C.GET_FULL_VARIABLE,
        ("${CALLERID(name)}|${CALLERID(num)}",),
        {},
        "GET FULL VARIABLE ${CALLERID(name)}|${CALLERID(num)}",
    ),
    (
        C.GET_FULL_VARIABLE,
        ("${CHANNEL} ${EXTEN}", "1795797736.229"),
        {},
        'GET FULL VARIABLE "${CHANNEL} ${EXTEN}" 1795797736.229',
    ),
    (C.GET_OPTION, ("beep", "12"), {}, "GET OPTION beep 12"),
    (C.GET_OPTION, ("beep",), {}, 'GET OPTION beep ""'),
    (C.GET_OPTION, ("beep", "12", 0.5), {}, "GET OPTION beep 12 500"),
    (C.GET_OPTION, ("beep", "12", 0), {}, "GET OPTION beep 12 0"),
    (C.GET_OPTION, ("beep", "#"), {"timeout": None}, "GET OPTION beep #"),
    (C.GET_OPTION, ("beep", "#"), {"timeout": -1}, "GET OPTION beep # -1"),
    (C.GET_VARIABLE, ("PLAYBACKSTATUS",), {}, "GET VARIABLE PLAYBACKSTATUS"),
    (C.GET_VARIABLE, ("CALLERID(num)",), {}, "GET VARIABLE CALLERID(num)"),
    (C.HANGUP, (), {}, "HANGUP"),
    (C.HANGUP, ("1795797951.305",), {}, "HANGUP 1795797951.305"),
    (C.NOOP, (), {}, "NOOP"),
    (C.NOOP, ("with several words here",), {}, 'NOOP "with several words here"'),
    (C.RECEIVE_CHAR, (5,), {}, "RECEIVE CHAR 5000"),
    (C.RECEIVE_CHAR, (0,), {}, "RECEIVE CHAR 0"),
    (C.RECEIVE_CHAR, (None,), {}, "RECEIVE CHAR -1"),
    (C.RECEIVE_TEXT, (2.0,), {}, "RECEIVE TEXT 2000"),
    (C.RECEIVE_TEXT, (None,), {}, "RECEIVE TEXT -1"),
    (C.RECORD_FILE, ("/tmp/x", "wav", "#", 30), {}, "RECORD FILE /tmp/x wav # 30000"),
    (C.RECORD_FILE, ("/tmp/x", "wav"), {}, 'RECORD FILE /tmp/x wav "" -1'),
    (
        C.RECORD_FILE,
        ("/tmp/x", "wav", "#", 30),
        {"beep": True},
        "RECORD FILE /tmp/x wav # 30000 0 BEEP",
    ),
    (
        C.RECORD_FILE,
        ("/tmp/x", "wav", "#", 30),
        {"beep": True, "silence": 3},
        "RECORD FILE /tmp/x wav # 30000 0 BEEP s=3",
    ),
    (
        C.RECORD_FILE,
        ("/tmp/x", "wav", "#"),
        {"silence": 5.0},
        "RECORD FILE /tmp/x wav # -1 0 s=5",  # no beep: "s=5" is the 6th argument
    ),
    (
        C.RECORD_FILE,
        ("/tmp/agicap/rec-timeout", "wav", "#", 1, 8000),
        {},
        "RECORD FILE /tmp/agicap/rec-timeout wav # 1000 8000",
    ),
    (
        C.RECORD_FILE,
        ("/tmp/x", "gsm", "#*", 1.5, 8000, True, 2),
        {},
        "RECORD FILE /tmp/x gsm #* 1500 8000 BEEP s=2",
    ),
    (C.SAY_ALPHA, ("abc",), {}, 'SAY ALPHA abc ""'),
    (C.SAY_ALPHA, ("Ab1#", "5", "upper"), {}, "SAY ALPHA Ab1# 5 upper"),
    (C.SAY_ALPHA, ("Ab1#",), {"case": "All"}, 'SAY ALPHA Ab1# "" all'),
    (C.SAY_DATE, (0,), {}, 'SAY DATE 0 ""'),
    (C.SAY_DATE, (NOV_2023, "#"), {}, "SAY DATE 1700000000 #"),
    (C.SAY_DATE, (NOV_2023.astimezone(BERLIN),), {}, 'SAY DATE 1700000000 ""'),
    (C.SAY_DATETIME, (0,), {}, 'SAY DATETIME 0 ""'),
    (C.SAY_DATETIME, (1700000000, "", "HM", "UTC"), {}, 'SAY DATETIME 1700000000 "" HM UTC'),
    (
        C.SAY_DATETIME,
        (1700000000,),
        {"timezone": "Europe/Berlin"},
        'SAY DATETIME 1700000000 "" "ABdY \'digits/at\' IMp" Europe/Berlin',
    ),
    (
        C.SAY_DATETIME,
        (NOV_2023.astimezone(BERLIN), "5", "HM"),
        {},
        "SAY DATETIME 1700000000 5 HM Europe/Berlin",  # the datetime's own zone
    ),
    (C.SAY_DATETIME, (NOV_2023, "", "HM"), {}, 'SAY DATETIME 1700000000 "" HM UTC'),
    (
        C.SAY_DATETIME,
        (NOV_2023.astimezone(BERLIN), "", "HM", "America/New_York"),
        {},
        'SAY DATETIME 1700000000 "" HM America/New_York',
    ),
    (
        C.SAY_DATETIME,
        (dt.datetime(2023, 11, 14, 23, 13, 20, tzinfo=dt.timezone(dt.timedelta(hours=1))),),
        {},
        'SAY DATETIME 1700000000 ""',  # a fixed offset has no zone name: system zone
    ),
    (C.SAY_DATETIME, (2**40,), {}, 'SAY DATETIME 1099511627776 ""'),  # 64-bit
    (C.SAY_DIGITS, ("123",), {}, 'SAY DIGITS 123 ""'),
    (C.SAY_DIGITS, ("12*3", "5"), {}, "SAY DIGITS 12*3 5"),
    (C.SAY_DIGITS, (1234567890,), {}, 'SAY DIGITS 1234567890 ""'),
    (C.SAY_NUMBER, (42,), {}, 'SAY NUMBER 42 ""'),
    (C.SAY_NUMBER, (42, "", "f"), {}, 'SAY NUMBER 42 "" f'),
    (C.SAY_NUMBER, (-7,), {}, 'SAY NUMBER -7 ""'),
    (C.SAY_PHONETIC, ("ab1",), {}, 'SAY PHONETIC ab1 ""'),
    (C.SAY_TIME, (3661,), {}, 'SAY TIME 3661 ""'),
    (C.SEND_IMAGE, ("asterisk-logo",), {}, "SEND IMAGE asterisk-logo"),
    (C.SEND_TEXT, ("hello (from) the peer",), {}, 'SEND TEXT "hello (from) the peer"'),
    (C.SEND_TEXT, ("",), {}, 'SEND TEXT ""'),
    (C.SET_AUTOHANGUP, (1.5,), {}, "SET AUTOHANGUP 1.5"),
    (C.SET_AUTOHANGUP, (30,), {}, "SET AUTOHANGUP 30"),
    (C.SET_AUTOHANGUP, (0,), {}, "SET AUTOHANGUP 0"),
    (C.SET_AUTOHANGUP, (None,), {}, "SET AUTOHANGUP 0"),
    (C.SET_CALLERID, ('"Agi Cap" <555-1234>',), {}, 'SET CALLERID "\\"Agi Cap\\" <555-1234>"'),
    (C.SET_CALLERID, ("5551212",), {}, "SET CALLERID 5551212"),
    (C.SET_CONTEXT, ("fastagi",), {}, "SET CONTEXT fastagi"),
    (C.SET_EXTENSION, ("cmdafter",), {}, "SET EXTENSION cmdafter"),
    (C.SET_MUSIC, (True,), {}, "SET MUSIC on"),
    (C.SET_MUSIC, (True, "default"), {}, "SET MUSIC on default"),
    (C.SET_MUSIC, (False,), {}, "SET MUSIC off"),
    (C.SET_PRIORITY, (3,), {}, "SET PRIORITY 3"),
    (C.SET_PRIORITY, ("menu-start",), {}, "SET PRIORITY menu-start"),
    (C.SET_VARIABLE, ("AGICAP_V", "two words"), {}, 'SET VARIABLE AGICAP_V "two words"'),
    (
        C.SET_VARIABLE,
        ("AGICAP_Q", 'say "hi" \\o/'),
        {},
        'SET VARIABLE AGICAP_Q "say \\"hi\\" \\\\o/"',
    ),
    (C.SET_VARIABLE, ("AGICAP_E", ""), {}, 'SET VARIABLE AGICAP_E ""'),
    (
        C.SET_VARIABLE,
        ("CALLERID(name)", "Func Write"),
        {},
        'SET VARIABLE CALLERID(name) "Func Write"',
    ),
    (C.SET_VARIABLE, ("COUNT", 3), {}, "SET VARIABLE COUNT 3"),
    (C.SET_VARIABLE, ("AGICAP_Q", "héllo ✓"), {}, 'SET VARIABLE AGICAP_Q "héllo ✓"'),
    (C.STREAM_FILE, ("beep",), {}, 'STREAM FILE beep ""'),
    (C.STREAM_FILE, ("demo-congrats", "#5"), {}, "STREAM FILE demo-congrats #5"),
    (C.STREAM_FILE, ("hello-world", "", 8000), {}, 'STREAM FILE hello-world "" 8000'),
    (C.STREAM_FILE, ("hello-world",), {"sample_offset": 0}, 'STREAM FILE hello-world "" 0'),
    (C.CONTROL_STREAM_FILE, ("beep",), {}, 'CONTROL STREAM FILE beep ""'),
    (C.CONTROL_STREAM_FILE, ("demo-congrats", "5"), {}, "CONTROL STREAM FILE demo-congrats 5"),
    (
        C.CONTROL_STREAM_FILE,
        ("demo-congrats", "5", 1.5, "3", "1", "0", 1),
        {},
        "CONTROL STREAM FILE demo-congrats 5 1500 3 1 0 1000",
    ),
    (
        C.CONTROL_STREAM_FILE,
        ("demo-congrats",),
        {"offset": 2.5},
        'CONTROL STREAM FILE demo-congrats "" 3000 "" "" "" 2500',  # gaps keep the defaults
    ),
    (
        C.CONTROL_STREAM_FILE,
        ("demo-congrats", "5"),
        {"pause": "0"},
        'CONTROL STREAM FILE demo-congrats 5 3000 "" "" 0',
    ),
    (
        C.CONTROL_STREAM_FILE,
        ("demo-congrats", "", None, None, None, None, -3),
        {},
        'CONTROL STREAM FILE demo-congrats "" 3000 "" "" "" -3000',
    ),
    (C.TDD_MODE, ("on",), {}, "TDD MODE on"),
    (C.TDD_MODE, ("MATE",), {}, "TDD MODE mate"),
    (C.TDD_MODE, (True,), {}, "TDD MODE on"),
    (C.TDD_MODE, (False,), {}, "TDD MODE off"),
    (C.VERBOSE, ("agicap verbose level 1", 1), {}, 'VERBOSE "agicap verbose level 1" 1'),
    (C.VERBOSE, ("word",), {}, "VERBOSE word"),
    (C.WAIT_FOR_DIGIT, (5,), {}, "WAIT FOR DIGIT 5000"),
    (C.WAIT_FOR_DIGIT, (0,), {}, "WAIT FOR DIGIT 0"),
    (C.WAIT_FOR_DIGIT, (None,), {}, "WAIT FOR DIGIT -1"),
    (C.WAIT_FOR_DIGIT, (float("inf"),), {}, "WAIT FOR DIGIT -1"),
    (C.WAIT_FOR_DIGIT, (-1,), {}, "WAIT FOR DIGIT -1"),
    (C.WAIT_FOR_DIGIT, (0.0001,), {}, "WAIT FOR DIGIT 1"),  # never rounds a wait down to 0
    (C.WAIT_FOR_DIGIT, (0.0015,), {}, "WAIT FOR DIGIT 2"),
    (C.SPEECH_CREATE, (), {}, "SPEECH CREATE"),
    (C.SPEECH_CREATE, ("lumenvox",), {}, "SPEECH CREATE lumenvox"),
    (C.SPEECH_SET, ("confidence", 50), {}, "SPEECH SET confidence 50"),
    (C.SPEECH_DESTROY, (), {}, "SPEECH DESTROY"),
    (
        C.SPEECH_LOAD_GRAMMAR,
        ("digits", "/tmp/agicap/digits.gram"),
        {},
        "SPEECH LOAD GRAMMAR digits /tmp/agicap/digits.gram",
    ),
    (C.SPEECH_UNLOAD_GRAMMAR, ("digits",), {}, "SPEECH UNLOAD GRAMMAR digits"),
    (C.SPEECH_ACTIVATE_GRAMMAR, ("digits",), {}, "SPEECH ACTIVATE GRAMMAR digits"),
    (C.SPEECH_DEACTIVATE_GRAMMAR, ("digits",), {}, "SPEECH DEACTIVATE GRAMMAR digits"),
    (C.SPEECH_RECOGNIZE, ("beep", 2), {}, "SPEECH RECOGNIZE beep 2"),
    (C.SPEECH_RECOGNIZE, ("beep",), {}, "SPEECH RECOGNIZE beep 0"),  # the timeout is required
    (C.SPEECH_RECOGNIZE, ("beep", 3.0, 8000), {}, "SPEECH RECOGNIZE beep 3 8000"),
    (C.SPEECH_RECOGNIZE, ("beep",), {"offset": 8000}, "SPEECH RECOGNIZE beep 0 8000"),
    (C.GOSUB, ("agicap-sub", "s", 1), {}, "GOSUB agicap-sub s 1"),
    (C.GOSUB, ("agicap-sub", "s", 1, "x1", "x2"), {}, "GOSUB agicap-sub s 1 x1,x2"),
    (C.GOSUB, ("agicap-sub", "s", "start", "a b"), {}, 'GOSUB agicap-sub s start "a b"'),
    (C.GOSUB, ("agicap-sub", "s", 1, 5), {}, "GOSUB agicap-sub s 1 5"),
]


@pytest.mark.parametrize(("command", "args", "kwargs", "line"), LINES)
def test_request_line(
    command: Command[Any], args: tuple[Any, ...], kwargs: dict[str, Any], line: str
) -> None:
    request = command.request(*args, **kwargs)
    assert request.line == line.encode()
    assert request.command is command
    assert request.dead_ok is command.dead_ok
    assert request.parse is command.parse


def test_every_command_has_request_cases() -> None:
    assert {command for command, *_ in LINES} == set(C.COMMANDS)


@pytest.mark.parametrize(("command", "args", "kwargs", "line"), LINES)
def test_asterisk_reads_back_the_arguments_sent(
    command: Command[Any], args: tuple[Any, ...], kwargs: dict[str, Any], line: str
) -> None:
    words = split_command_line(command.request(*args, **kwargs).line)
    assert words[: len(command.words)] == [word.encode() for word in command.words]
    assert C.find_command(words) is command


def test_keyword_and_positional_calls_agree() -> None:
    a = C.RECORD_FILE.request("/tmp/x", "wav", "#", 10, None, True, 2)
    b = C.RECORD_FILE.request(
        silence=2, beep=True, timeout=10, escape_digits="#", format="wav", filename="/tmp/x"
    )
    assert a.line == b.line


# (command, args, kwargs, parameter named in the error, text in the error)
REFUSED: list[tuple[Command[Any], tuple[Any, ...], dict[str, Any], str, str]] = [
    (C.STREAM_FILE, ("beep", "x"), {}, "escape_digits", "DTMF keys"),
    (C.STREAM_FILE, ("beep", "a"), {}, "escape_digits", "upper case"),
    (C.STREAM_FILE, ("beep", 5), {}, "escape_digits", "a str of DTMF keys"),
    (C.STREAM_FILE, ("beep\nNOOP",), {}, "filename", "cannot carry"),
    (C.STREAM_FILE, ("beep\r",), {}, "filename", "cannot carry"),
    (C.STREAM_FILE, ("beep", "", -1), {}, "sample_offset", "from 0"),
    (C.STREAM_FILE, ("beep", "", 1.5), {}, "sample_offset", "number of samples"),
    (C.STREAM_FILE, (None,), {}, "filename", "a str"),
    (C.GET_DATA, ("beep", 5, 0), {}, "max_digits", "from 1 to 1024"),
    (C.GET_DATA, ("beep", 5, 1025), {}, "max_digits", "from 1 to 1024"),
    (C.GET_DATA, ("beep", 5, True), {}, "max_digits", "an int"),
    (C.GET_DATA, ("beep", "5"), {}, "timeout", "seconds"),
    (C.GET_DATA, ("beep", 3_000_000), {}, "timeout", "at most"),
    (C.GET_OPTION, ("beep", "", float("nan")), {}, "timeout", "finite"),
    (C.WAIT_FOR_DIGIT, ("5",), {}, "timeout", "seconds"),
    (C.WAIT_FOR_DIGIT, (True,), {}, "timeout", "seconds"),
    (C.RECORD_FILE, ("/tmp/x", "wav", "#", 10, None, False, 2.5), {}, "silence", "whole"),
    (C.RECORD_FILE, ("/tmp/x", "wav", "#", 10, None, False, 0), {}, "silence", ">= 1"),
    (C.RECORD_FILE, ("/tmp/x", "wav", "#", 10, None, "yes"), {}, "beep", "a bool"),
    (C.RECORD_FILE, ("/tmp/x", ""), {}, "format", "non-empty"),
    (C.RECORD_FILE, ("/tmp/x", "wav", "", 10, -5), {}, "offset", "from 0"),
    (C.SPEECH_RECOGNIZE, ("beep", 1.5), {}, "timeout", "whole number of seconds"),
    (C.SPEECH_RECOGNIZE, ("beep", -1), {}, "timeout", "whole number of seconds"),
    (C.SAY_NUMBER, (2**31,), {}, "number", "2147483647"),
    (C.SAY_NUMBER, ("42",), {}, "number", "an int"),
    (C.SAY_DATE, (2**31,), {}, "when", "Unix time"),
    (C.SAY_DATE, (dt.datetime(2023, 1, 1),), {}, "when", "naive datetime"),
    (C.SAY_TIME, ("0",), {}, "when", "Unix time"),
    (C.SAY_DATETIME, (2**63,), {}, "when", "Unix time"),
    (C.SAY_DIGITS, ("*12",), {}, "digits", "start with a number"),
    (C.SAY_DIGITS, ("abc",), {}, "digits", "start with a number"),
    (C.SAY_DIGITS, (-5,), {}, "digits", "int >= 0"),
    (C.SAY_ALPHA, ("ab", "", "x"), {}, "case", "'upper'"),
    (C.SET_AUTOHANGUP, (-1,), {}, "seconds", ">= 0"),
    (C.SET_AUTOHANGUP, (float("inf"),), {}, "seconds", "finite"),
    (C.SET_PRIORITY, (0,), {}, "priority", ">= 1"),
    (C.SET_PRIORITY, ("",), {}, "priority", "non-empty"),
    (C.TDD_MODE, ("maybe",), {}, "mode", "'mate'"),
    (C.SET_MUSIC, ("on",), {}, "on", "a bool"),
    (C.CONTROL_STREAM_FILE, ("x", "", 0), {}, "skip", "> 0"),
    (C.CONTROL_STREAM_FILE, ("x", "", None, "x"), {}, "forward", "DTMF"),
    (C.CONTROL_STREAM_FILE, ("x", "", None, None, None, None, "1"), {}, "offset", "seconds"),
    (C.SET_VARIABLE, ("", "x"), {}, "name", "non-empty"),
    (C.SET_VARIABLE, ("X", None), {}, "value", "str, int or float"),
    (C.SET_VARIABLE, ("X", "a\nb"), {}, "value", "cannot carry"),
    (C.SET_VARIABLE, ("X", "a\x00b"), {}, "value", "cannot carry"),
    (C.EXEC, ("",), {}, "application", "non-empty"),
    (C.EXEC, ("Dial", None), {}, "options", "str, int or float"),
    (C.GOSUB, ("ctx", "s", 1, "a\nb"), {}, "arguments", "cannot carry"),
    (C.VERBOSE, ("x", -1), {}, "level", "from 0"),
    (C.CHANNEL_STATUS, ("",), {}, "channel", "non-empty"),
]


@pytest.mark.parametrize(("command", "args", "kwargs", "name", "text"), REFUSED)
def test_invalid_arguments_raise_argument_error_naming_the_parameter(
    command: Command[Any], args: tuple[Any, ...], kwargs: dict[str, Any], name: str, text: str
) -> None:
    with pytest.raises(ArgumentError) as caught:
        command.request(*args, **kwargs)
    message = str(caught.value)
    assert f"{command.method}() argument {name!r}" in message
    assert text in message


def test_argument_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        C.STREAM_FILE.request("beep", "x")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: C.STREAM_FILE.request(), "missing required argument: 'filename'"),
        (lambda: C.STREAM_FILE.request("a", "", 0, 1), "takes 3 positional arguments"),
        (lambda: C.STREAM_FILE.request("a", filename="b"), "multiple values for argument"),
        (lambda: C.STREAM_FILE.request("a", digits="1"), "unexpected keyword argument 'digits'"),
        (lambda: C.ANSWER.request(1), "takes 0 positional arguments"),
        (lambda: C.EXEC.request(options="x"), "missing required argument: 'application'"),
        (lambda: C.EXEC.request("Dial", options="x"), "unexpected keyword argument 'options'"),
    ],
)
def test_calls_that_do_not_match_the_parameters_raise_type_error(call: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        call()


def test_too_many_words_is_refused() -> None:
    raw_request("NEW COMMAND", *["x"] * 125)  # 127 words: Asterisk's limit
    with pytest.raises(ArgumentError, match="127"):
        raw_request("NEW COMMAND", *["x"] * 126)


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("NEW COMMAND",), b"NEW COMMAND"),
        (("NEW COMMAND", "a b", "", 5, b"\xff"), b'NEW COMMAND "a b" "" 5 \xff'),
        (("  get   variable ", "X"), b"get variable X"),
        (("STREAM FILE", "beep", ""), b'STREAM FILE beep ""'),
    ],
)
def test_raw_request(args: tuple[Any, ...], line: bytes) -> None:
    request = raw_request(*args)
    assert request.line == line
    assert request.command is None
    assert request.dead_ok is True  # Asterisk decides


@pytest.mark.parametrize(
    "command", ["", "   ", 'GET "VARIABLE"', "SAY\\ ALPHA", "ÄNSWER", "A\x01", None]
)
def test_raw_request_refuses_what_cannot_be_a_command_word(command: Any) -> None:
    with pytest.raises(ArgumentError, match=r"raw\(\) argument 'command'"):
        raw_request(command)


def test_raw_request_arguments_are_checked() -> None:
    with pytest.raises(ArgumentError, match=r"raw\(\) argument 2"):
        raw_request("NOOP", "a", "b\nc")
    with pytest.raises(ArgumentError, match=r"raw\(\) argument 1"):
        raw_request("NOOP", None)  # type: ignore[arg-type]


def test_a_kept_request_is_only_for_arguments_of_the_same_types() -> None:
    """Requests are kept by their arguments, and 1 == True == 1.0: a kept request must not
    answer for a value its parameter refuses, or converts otherwise."""
    assert C.WAIT_FOR_DIGIT.request(1).line == b"WAIT FOR DIGIT 1000"
    assert C.WAIT_FOR_DIGIT.request(1).line == b"WAIT FOR DIGIT 1000"  # the kept one
    with pytest.raises(ArgumentError, match="timeout"):
        C.WAIT_FOR_DIGIT.request(True)
    assert C.SET_VARIABLE.request("X", "1").line == b"SET VARIABLE X 1"
    with pytest.raises(ArgumentError):
        C.SET_VARIABLE.request("X", ["1"])  # unhashable: never kept, still checked
    with pytest.raises(TypeError):
        C.SET_VARIABLE.request("X", "1", "2")


def test_text_arguments_equal_to_a_kept_request_are_that_request() -> None:
    """Requests for str and None arguments answer for any equal argument (a str subclass such as
    a StrEnum member formats as its string); those with an int only for the same types."""
    import enum

    class Prompt(enum.StrEnum):
        HELLO = "hello-world"

    kept = C.STREAM_FILE.request("hello-world", "#", None)
    assert C.STREAM_FILE.request(Prompt.HELLO, "#", None) is kept
    assert C.STREAM_FILE.request(Prompt.HELLO, "#", None).line == b"STREAM FILE hello-world #"
    digits = C.GET_DATA.request("enter-number", 5, 4)
    assert C.GET_DATA.request("enter-number", 5, 4) is digits
    assert C.GET_DATA.request("enter-number", 5.0, 4) is not digits
    assert C.GET_DATA.request("enter-number", 5.0, 4).line == digits.line
    with pytest.raises(ArgumentError, match="max_digits"):
        C.GET_DATA.request("enter-number", 5, True)
