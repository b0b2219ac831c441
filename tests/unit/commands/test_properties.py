"""Property tests for the parsers that read free-form text, and for argument quoting."""

from __future__ import annotations

from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from agikit import commands as C
from agikit.protocol.quoting import split_command_line
from agikit.results import DigitsResult, SpeechHypothesis, SpeechResult

from ._agi import result_of

DTMF = "0123456789*#ABCD"
# Anything Asterisk can put on a reply line: no LF (it ends the line), no NUL (C strings).
line_text = st.text(
    st.characters(exclude_characters="\n\x00", exclude_categories=["Cs"]), max_size=200
)
# Undecodable bytes arrive as lone surrogates (surrogateescape) and must survive too.
line_bytes = st.binary(max_size=200).filter(lambda b: b"\n" not in b and b"\x00" not in b)
# What an argument can carry: no CR, LF or NUL.
argument_text = st.text(
    st.characters(exclude_characters="\r\n\x00", exclude_categories=["Cs"]), max_size=100
)


@given(digits=st.text(DTMF.replace("#", ""), max_size=30), timed_out=st.booleans())
def test_get_data_digits(digits: str, timed_out: bool) -> None:
    line = f"200 result={digits}" + (" (timeout)" if timed_out else "")
    assert result_of(C.GET_DATA.request("beep"), line) == DigitsResult(digits, timed_out)


@given(value=line_text)
def test_values_in_parentheses_come_back_exactly(value: str) -> None:
    # Asterisk does not escape the value: spaces, quotes and parentheses included.
    for request in (
        C.GET_VARIABLE.request("X"),
        C.GET_FULL_VARIABLE.request("${X}"),
        C.DATABASE_GET.request("family", "key"),
        C.RECEIVE_TEXT.request(1),
    ):
        assert result_of(request, f"200 result=1 ({value})") == value


@given(raw=line_bytes)
def test_undecodable_values_come_back_losslessly(raw: bytes) -> None:
    text = raw.decode("utf-8", "surrogateescape")
    value = result_of(C.GET_VARIABLE.request("X"), f"200 result=1 ({text})")
    assert value.encode("utf-8", "surrogateescape") == raw


grammar = st.text("abcdefghijklmnopqrstuvwxyz0123456789_-./", min_size=1, max_size=20)
hypothesis_entry = st.tuples(st.integers(-1000, 100000), line_text, grammar)


@given(
    entries=st.lists(hypothesis_entry, max_size=5),
    endpos=st.integers(0, 10**9),
)
def test_speech_recognize_results(entries: list[tuple[int, str, str]], endpos: int) -> None:
    # Unescaped text may hold quotes, '=' and spaces; only the exact end marker of its own
    # entry ('" grammar<i>=') is ambiguous.
    for index, (_, text, _) in enumerate(entries):
        assume(f'" grammar{index}=' not in text)
    body = " ".join(
        f'score{i}={score} text{i}="{text}" grammar{i}={name}'
        for i, (score, text, name) in enumerate(entries)
    )
    line = f"200 result=1 (speech) endpos={endpos} results={len(entries)} {body}"
    expected = SpeechResult(
        SpeechResult.SPEECH,
        None,
        endpos,
        tuple(SpeechHypothesis(score, text, name) for score, text, name in entries),
    )
    assert result_of(C.SPEECH_RECOGNIZE.request("beep", 2), line) == expected


@given(digit=st.sampled_from(DTMF), endpos=st.integers(0, 10**9))
def test_speech_recognize_digit(digit: str, endpos: int) -> None:
    line = f"200 result=1 (digit) digit={digit} endpos={endpos}"
    assert result_of(C.SPEECH_RECOGNIZE.request("beep"), line) == SpeechResult(
        SpeechResult.DIGIT, digit, endpos
    )


@given(name=argument_text.filter(bool), value=argument_text)
def test_set_variable_arguments_reach_asterisk_unchanged(name: str, value: str) -> None:
    words = split_command_line(C.SET_VARIABLE.request(name, value).line)
    assert words == [b"SET", b"VARIABLE", name.encode(), value.encode()]


@given(application=argument_text.filter(bool), options=st.lists(argument_text, max_size=5))
def test_exec_sends_one_options_word(application: str, options: list[str]) -> None:
    words = split_command_line(C.EXEC.request(application, *options).line)
    expected: list[Any] = [b"EXEC", application.encode()]
    if options:
        expected.append(",".join(options).encode())
    assert words == expected


@given(seconds=st.floats(0, 2_000_000, allow_nan=False))
def test_timeouts_in_seconds_become_milliseconds(seconds: float) -> None:
    (word,) = split_command_line(C.WAIT_FOR_DIGIT.request(seconds).line)[3:]
    ms = int(word)
    assert abs(ms - seconds * 1000) <= 0.5 + 1e-6 * seconds * 1000 or (seconds > 0 and ms == 1)
    assert (ms == 0) == (seconds == 0)
