"""Every ``agikit ...`` command line the documentation shows parses with agikit's own command
line parser: no option that does not exist, no missing argument."""

from __future__ import annotations

import contextlib
import io
import re
import shlex

import pytest

from agikit.cli import build_parser

from ._samples import blocks as page_blocks
from ._samples import pages

SHELL = frozenset(("sh", "bash", "console", "shell"))
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def _command_lines() -> list[tuple[str, list[str]]]:
    found = []
    for page in pages():
        for block in page_blocks(page):
            if block.language not in SHELL:
                continue
            for number, line in enumerate(block.code.splitlines(), 1):
                line = line.removeprefix("$ ").split(" #", 1)[0].strip()
                for segment in re.split(r"&&|\|\||;|\|", line):
                    try:
                        words = shlex.split(segment)
                    except ValueError:
                        continue
                    while words and _ASSIGNMENT.match(words[0]):
                        words.pop(0)
                    if words and (words[0] == "agikit" or words[0].endswith("/agikit")):
                        found.append((f"{block.page}:{block.line + number}", words))
    return found


COMMANDS = _command_lines()


def test_the_docs_show_agikit_commands() -> None:
    assert len(COMMANDS) >= 5


@pytest.mark.parametrize("words", [c[1] for c in COMMANDS], ids=[c[0] for c in COMMANDS])
def test_command_line_parses(words: list[str]) -> None:
    error = io.StringIO()
    try:
        with contextlib.redirect_stderr(error), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(words[1:])
    except SystemExit as exit:
        assert exit.code == 0, f"{shlex.join(words)}: {error.getvalue()}"
