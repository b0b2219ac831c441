"""MkDocs hook: ``<!-- agikit-help -->`` in a page becomes the output of ``agikit --help`` and
of ``agikit <command> --help`` for every command the parser has, so the command-line reference
is always the parser's own text."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
from typing import Any

_MARKER = re.compile(r"^<!-- agikit-help -->$", re.MULTILINE)


def _help(words: list[str]) -> str:
    from agikit.cli import build_parser

    out = io.StringIO()
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal's width otherwise
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        build_parser().parse_args([*words, "--help"])
    return out.getvalue().rstrip()


def _commands() -> list[str]:
    from agikit.cli import build_parser

    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []


def _reference() -> str:
    parts = ["```text\n" + _help([]) + "\n```"]
    for command in _commands():
        parts.append(f"## agikit {command}\n\n```text\n{_help([command])}\n```")
    return "\n\n".join(parts)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return _MARKER.sub(lambda _: _reference(), markdown)
