"""Comparing the commands sent with the expected ones, and the diff an assertion shows."""

from __future__ import annotations

import pytest

from agikit.testing._commands_diff import command_key, commands_match, diff_commands

SENT = ["ANSWER", 'STREAM FILE menu "12"', "WAIT FOR DIGIT 5000", "SET VARIABLE X 1", "HANGUP"]


def test_lines_compare_as_asterisk_reads_them() -> None:
    assert command_key('set variable X "a b"') == command_key("SET VARIABLE X a\\ b")
    assert command_key("SET VARIABLE x 1") != command_key("SET VARIABLE X 1")  # arguments exact
    assert command_key("FOO bar") != command_key("foo bar")  # unknown: nothing folded


@pytest.mark.parametrize(
    "expected",
    [
        SENT,
        ["answer", "STREAM FILE menu 12", "wait for digit 5000", "SET VARIABLE X 1", "hangup"],
        [...],
        ["ANSWER", ...],
        [..., "HANGUP"],
        ["ANSWER", ..., "SET VARIABLE X 1", ..., "HANGUP"],
        [..., ..., *SENT, ...],
    ],
)
def test_matching(expected: list[object]) -> None:
    assert commands_match(expected, SENT)  # type: ignore[arg-type]
    assert diff_commands(expected, SENT) == ""  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "expected",
    [
        [],
        SENT[:-1],
        [*SENT, "NOOP"],
        ["ANSWER", ..., "NOOP"],
        [..., "ANSWER", "HANGUP"],
        list(reversed(SENT)),
    ],
)
def test_not_matching(expected: list[object]) -> None:
    assert not commands_match(expected, SENT)  # type: ignore[arg-type]


def test_a_changed_argument_is_shown_with_the_word_that_differs() -> None:
    expected = ["ANSWER", 'STREAM FILE menu "123"', "WAIT FOR DIGIT 5000", "SET VARIABLE X 1"]
    assert diff_commands(expected, SENT).splitlines() == [
        "the AGI sent 5 command(s), expected 4 - differences marked "
        "(- expected, not sent; + sent, not expected)",
        "      1 ANSWER",
        '  -     STREAM FILE menu "123"',
        '  +   2 STREAM FILE menu "12"',
        "        ^ first difference: word 4 (argument): expected '123', sent '12'",
        "      3 WAIT FOR DIGIT 5000",
        "      4 SET VARIABLE X 1",
        "  +   5 HANGUP",
    ]


def test_lines_taken_by_an_ellipsis_are_marked() -> None:
    diff = diff_commands(["ANSWER", ..., "SET VARIABLE X 2", ...], SENT)
    assert "; : matched by ...)" in diff
    assert '  :   2 STREAM FILE menu "12"' in diff
    assert "  -     SET VARIABLE X 2\n  +   4 SET VARIABLE X 1" in diff
    assert "  :   5 HANGUP" in diff


def test_a_missing_command_and_an_extra_one() -> None:
    diff = diff_commands(["ANSWER", 'SAY DIGITS 1 ""', *SENT[1:], "NOOP"], SENT)
    assert '  -     SAY DIGITS 1 ""' in diff and "  -     NOOP" in diff
    assert "+" not in "".join(line[:4] for line in diff.splitlines()[1:])


def test_the_expected_list_is_checked() -> None:
    with pytest.raises(TypeError, match="not one string"):
        commands_match("ANSWER", SENT)
    with pytest.raises(TypeError, match="command lines"):
        commands_match([b"ANSWER"], SENT)  # type: ignore[list-item]
