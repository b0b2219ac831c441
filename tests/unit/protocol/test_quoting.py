"""Quoting: what format_command writes is what Asterisk's parse_args() reads back."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agikit.errors import ArgumentError
from agikit.protocol.quoting import (
    MAX_WORDS,
    encode_argument,
    format_command,
    split_command_line,
    to_bytes,
)

from . import _transcripts

# -- a faithful transliteration of parse_args() from res/res_agi.c (Asterisk 22) ----------------
MAX_ARGS = 128


def c_parse_args(line: bytes) -> list[bytes]:
    """parse_args() statement by statement, on a copy of the line as a NUL-terminated buffer.

    ``argv`` is a list here: where C would write past its 128 entries (a word opened by a quote
    beyond the limit, which the C code does not check), this one just keeps going.
    """
    buf = bytearray(line) + b"\0"
    argv: list[int] = []
    x = 0
    quoted = escaped = 0
    whitespace = 1
    cur = 0
    s = 0
    while buf[s]:
        c = buf[s]
        normal = False
        if c == ord('"'):
            if escaped:
                normal = True  # goto normal
            else:
                quoted = not quoted
                if quoted and whitespace:
                    argv.append(cur)
                    x += 1
                    whitespace = 0
                escaped = 0
        elif c in (ord(" "), ord("\t")):
            if not quoted and not escaped:
                whitespace = 1
                buf[cur] = 0
                cur += 1
            else:
                normal = True
        elif c == ord("\\"):
            if escaped:
                normal = True
            else:
                escaped = 1
        else:
            normal = True
        if normal:
            skip = False
            if whitespace:
                if x >= MAX_ARGS - 1:
                    skip = True  # "Too many arguments, truncating": break out of the switch
                else:
                    argv.append(cur)
                    x += 1
                    whitespace = 0
            if not skip:
                buf[cur] = c
                cur += 1
                escaped = 0
        s += 1
    buf[cur] = 0
    return [bytes(buf[start : buf.index(0, start)]) for start in argv]


# -- strategies --------------------------------------------------------------------------------
_FORBIDDEN = "\r\n\x00"
#: Text as a caller might pass it: anything encodable, with the characters that matter weighted.
_text = st.one_of(
    st.text(
        alphabet=st.characters(
            blacklist_categories=("Cs",), blacklist_characters=_FORBIDDEN, max_codepoint=0x10FFFF
        )
    ),
    st.text(alphabet=st.sampled_from(list(" \t\"\\$,|()'a;=é✓{}[]#*"))),
    # undecodable bytes, as they arrive from Asterisk (lone surrogates via surrogateescape)
    st.binary().map(
        lambda raw: raw.translate(None, b"\r\n\x00").decode("utf-8", "surrogateescape")
    ),
)
_raw = st.binary().map(lambda raw: raw.translate(None, b"\r\n\x00"))
_argument = st.one_of(_text, _raw)
_word = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=10).filter(
    lambda word: not word.lower().startswith("failure")
)
#: Lines of bytes weighted towards what the tokenizer cares about.
_line = st.one_of(
    st.binary(max_size=300),
    st.lists(
        st.sampled_from([b" ", b"\t", b'"', b"\\", b"a", b"bc", b"\x00", b"\xff", b"\r", b'""']),
        max_size=300,
    ).map(b"".join),
)


# -- the round trip ----------------------------------------------------------------------------
@given(st.lists(_word, min_size=1, max_size=3), st.lists(_argument, max_size=20))
@settings(max_examples=500)
@example(["SET", "VARIABLE"], ["FOO", ""])
@example(["VERBOSE"], ['say "hi" \\o/', "1"])
@example(["EXEC"], ["Dial", "PJSIP/bob,30,tT"])
@example(["X"], ["\\", '"', "\t", " ", '""', "\\\\", "a b\\"])
@example(["X"], ["h\udcffllo", b"\xff\xfe", "héllo ✓", "${CHANNEL(name)}|$x,(y)"])
def test_split_reads_back_exactly_what_format_wrote(
    words: list[str], args: list[str | bytes]
) -> None:
    line = format_command(words, args)
    assert split_command_line(line) == [word.encode() for word in words] + [
        to_bytes(value) for value in args
    ]
    # and Asterisk's own code agrees
    assert c_parse_args(line) == split_command_line(line)


@given(_argument)
def test_encode_argument_quotes_only_when_needed(value: str | bytes) -> None:
    raw = to_bytes(value)
    encoded = encode_argument(value)
    if raw and not any(byte in raw for byte in b' \t"\\'):
        assert encoded == raw
    else:
        assert encoded.startswith(b'"') and encoded.endswith(b'"')
    assert split_command_line(encoded) == [raw]


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("beep", b"beep"),
        ("", b'""'),
        ("hello world", b'"hello world"'),
        ('say "hi" \\o/', b'"say \\"hi\\" \\\\o/"'),
        ("a\tb", b'"a\tb"'),
        ("PJSIP/bob,30,tT", b"PJSIP/bob,30,tT"),
        ("${X}|(y)$'", b"${X}|(y)$'"),
        ("héllo", "héllo".encode()),
        (b"\xff", b"\xff"),
        ("\udcff", b"\xff"),
    ],
)
def test_encode_argument_examples(value: str | bytes, encoded: bytes) -> None:
    assert encode_argument(value) == encoded


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "a\x00b", "\n", b"x\r", b"\x00"])
def test_cr_lf_nul_are_refused_naming_the_argument(bad: str | bytes) -> None:
    with pytest.raises(ArgumentError, match="the value"):
        encode_argument(bad, "the value")
    with pytest.raises(ArgumentError, match="variable value"):
        format_command(["SET", "VARIABLE"], ["FOO", bad], names=["name", "variable value"])
    with pytest.raises(ArgumentError, match="argument 2"):
        format_command(["SET", "VARIABLE"], ["FOO", bad])


def test_a_lone_surrogate_without_bytes_is_an_argument_error() -> None:
    with pytest.raises(ArgumentError, match="text"):
        encode_argument("\ud800", "text")


def test_the_error_message_is_bounded() -> None:
    with pytest.raises(ArgumentError) as caught:
        encode_argument("x" * 100_000 + "\n")
    assert len(str(caught.value)) < 300


def test_127_words_is_the_limit() -> None:
    assert len(split_command_line(format_command(["NOOP"], ["x"] * (MAX_WORDS - 1)))) == 127
    with pytest.raises(ArgumentError, match="127"):
        format_command(["NOOP"], ["x"] * MAX_WORDS)
    with pytest.raises(ArgumentError, match="127"):
        format_command(["SET", "VARIABLE"], [""] * (MAX_WORDS - 1))


@pytest.mark.parametrize(
    ("words", "args"),
    [(["failure"], []), (["FAILURE"], []), (["Failures"], ["x"]), ([], ["failure"])],
)
def test_lines_starting_with_failure_are_refused(words: list[str], args: list[str]) -> None:
    with pytest.raises(ArgumentError, match="failure"):
        format_command(words, args)


def test_failure_as_a_later_word_or_quoted_is_fine() -> None:
    assert format_command(["VERBOSE"], ["failure"]) == b"VERBOSE failure"
    assert format_command([], ["failure x"]) == b'"failure x"'


@pytest.mark.parametrize("word", ["", "GET VARIABLE", "A\tB", 'A"', "A\\", "Ä", "A\n", "\x00"])
def test_command_words_must_be_plain(word: str) -> None:
    with pytest.raises(ArgumentError, match="command word"):
        format_command([word], [])


# -- the tokenizer, against reference §3.3 and Asterisk itself ---------------------------------
@pytest.mark.parametrize(
    ("line", "words"),
    [
        # reference §3.3, "Examples"
        (b'STREAM FILE beep ""', [b"STREAM", b"FILE", b"beep", b""]),
        (b'SET VARIABLE FOO "hello world"', [b"SET", b"VARIABLE", b"FOO", b"hello world"]),
        (
            b'SET VARIABLE FOO "say \\"hi\\" \\\\o/"',
            [b"SET", b"VARIABLE", b"FOO", b'say "hi" \\o/'],
        ),
        (b"SET VARIABLE FOO hello\\ world", [b"SET", b"VARIABLE", b"FOO", b"hello world"]),
        (b'EXEC Dial "PJSIP/bob,30,tT"', [b"EXEC", b"Dial", b"PJSIP/bob,30,tT"]),
        (b"SEND TEXT hello world", [b"SEND", b"TEXT", b"hello", b"world"]),
        # the rules one by one
        (b'ab"c d"e', [b"abc de"]),  # a quote mid-word toggles, the word goes on
        (b"abc\\", [b"abc"]),  # a trailing backslash is dropped
        (b"a\\nb", [b"anb"]),  # no C escapes: \n is n
        (b"a\\\\b", [b"a\\b"]),
        (b'\\"', [b'"']),
        (b"GET\tVARIABLE\tX", [b"GET", b"VARIABLE", b"X"]),  # TAB separates
        (b" \t  NOOP  \t", [b"NOOP"]),
        (b'""', [b""]),  # a quote after whitespace opens a word, even an empty one
        (b'a "" b', [b"a", b"", b"b"]),
        (b'"" ""', [b"", b""]),
        (b'x"" y', [b"x", b"y"]),  # mid-word "" is nothing
        (b'"a"b "c', [b"ab", b"c"]),  # an unclosed quote runs to the end
        (b"ANSWER\r", [b"ANSWER\r"]),  # CR is not whitespace
        (b"a\x00b c", [b"a"]),  # the C string ends at NUL
        (b"'a b' (c d) $x,|y", [b"'a", b"b'", b"(c", b"d)", b"$x,|y"]),
        (b"", []),
        (b"   ", []),
    ],
)
def test_tokenizer_examples(line: bytes, words: list[bytes]) -> None:
    assert split_command_line(line) == words
    assert c_parse_args(line) == words


def test_words_beyond_the_limit_are_dropped() -> None:
    line = b" ".join([b"w%d" % n for n in range(200)])
    assert split_command_line(line) == [b"w%d" % n for n in range(127)]
    assert c_parse_args(line) == split_command_line(line)


def test_quoted_words_beyond_the_limit_are_dropped_where_c_overruns_argv() -> None:
    # parse_args() does not check the limit for a word opened by a quote: Asterisk would write
    # past its argv array. split_command_line drops those words like the unquoted ones.
    line = b" ".join([b'""'] * 130)
    assert len(c_parse_args(line)) == 130
    assert split_command_line(line) == [b""] * 127


@given(_line)
@settings(max_examples=2000)
@example(b" ".join([b"x"] * 127) + b' \\a "b"')
@example(b" ".join([b"x"] * 127) + b' a"b c"')
@example(b" ".join([b"x"] * 126) + b' "a b" "c" d')
def test_split_command_line_is_parse_args(line: bytes) -> None:
    """Differential: on any bytes, the Python tokenizer reads what Asterisk's C code reads."""
    assert split_command_line(line) == c_parse_args(line)[:MAX_WORDS]


# -- cross-checked against what a real Asterisk 22.10.1 stored -------------------------------
def _set_then_get() -> list[tuple[str, bytes, bytes]]:
    """(transcript, SET VARIABLE line, value GET VARIABLE read back) from every transcript."""
    found = []
    for name in _transcripts.names():
        entries = list(_transcripts.lines(name))
        pending: dict[bytes, bytes] = {}
        for index, (direction, payload) in enumerate(entries):
            if direction != ">>":
                continue
            words = split_command_line(payload)
            upper = [word.upper() for word in words[:2]]
            if upper == [b"SET", b"VARIABLE"] and len(words) == 4:
                pending[words[2]] = payload
            elif upper == [b"GET", b"VARIABLE"] and len(words) == 3 and words[2] in pending:
                reply = next(line for way, line in entries[index + 1 :] if way == "<<")
                if reply.startswith(b"200 result=1 (") and len(reply) < 1000:
                    found.append((name, pending.pop(words[2]), reply[14:-1]))
    return found


_PAIRS = _set_then_get()


def test_the_transcripts_hold_set_and_get_pairs() -> None:
    lines = {line for _, line, _ in _PAIRS}
    assert len(_PAIRS) >= 8
    assert b'SET VARIABLE AGICAP_Q ab"c d"e' in lines
    assert b"SET VARIABLE AGICAP_Q hello\\ world" in lines


@pytest.mark.parametrize(("name", "line", "stored"), _PAIRS)
def test_split_reads_what_asterisk_stored(name: str, line: bytes, stored: bytes) -> None:
    assert split_command_line(line)[3] == stored


@pytest.mark.parametrize(
    ("line", "variable"),
    [
        (b"GET\tVARIABLE\tHARNESS_VAR", b"HARNESS_VAR"),
        (b'"GET" "VARIABLE" "HARNESS_VAR"', b"HARNESS_VAR"),
        (b"get variable HARNESS_VAR", b"HARNESS_VAR"),
        (b"GET VARIABLE HARNESS_VAR\r", b"HARNESS_VAR\r"),  # Asterisk answered result=0
    ],
)
def test_misc_framing_command_words(line: bytes, variable: bytes) -> None:
    entries = list(_transcripts.lines("cmdmisc.transcript.txt"))
    assert ("<<", b"200 result=1 (hello-from-dialplan)") in entries
    assert (">>", line) in entries
    assert split_command_line(line)[2] == variable
