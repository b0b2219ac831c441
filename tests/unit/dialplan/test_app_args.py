"""escape_app_arg against a transliteration of Asterisk's __ast_app_separate_args (main/app.c)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agikit.dialplan import escape_app_arg, join_app_args


def separate_args(data: str, delim: str = ",") -> list[str]:
    """``__ast_app_separate_args(buf, delim, remove_chars=1, ...)``, line by line."""
    args: list[str] = []
    current: list[str] = []
    paren = bracket = 0
    quote = False
    index = 0
    ended_on_delim = False
    while index < len(data):
        char = data[index]
        ended_on_delim = False
        if char == "(":
            paren += 1
        elif char == ")":
            paren = max(paren - 1, 0)
        elif char == "[":
            bracket += 1
        elif char == "]":
            bracket = max(bracket - 1, 0)
        elif char == '"' and delim != '"':
            quote = not quote
            index += 1
            continue  # the quote is removed
        elif char == "\\":
            index += 1  # the backslash is removed; the next character is taken as it is
            if index < len(data):
                current.append(data[index])
            index += 1
            continue
        elif char == delim and not paren and not quote and not bracket:
            args.append("".join(current))
            current = []
            ended_on_delim = True
            index += 1
            continue
        current.append(char)
        index += 1
    if current or ended_on_delim:
        args.append("".join(current))
    return args


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\x00")), min_size=1))
def test_escaped_arguments_are_split_back_exactly(values: list[str]) -> None:
    assert separate_args(join_app_args(*values)) == values or values == [""]


def test_examples() -> None:
    assert escape_app_arg('a,b "c" (d) [e] \\') == 'a\\,b \\"c\\" \\(d\\) \\[e\\] \\\\'
    assert separate_args("a,b") == ["a", "b"]
    assert separate_args(join_app_args("a,b", "(x", "")) == ["a,b", "(x", ""]
