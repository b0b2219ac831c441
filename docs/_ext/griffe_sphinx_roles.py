"""A griffe extension for agikit's docstrings, which are written for both Sphinx and MkDocs
readers: Sphinx cross-reference roles become (optional) autorefs links, and a paragraph ending
in ``::`` (a reST literal block) ends in ``:``, the indented block below being Markdown code
already."""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|exc|func|meth|attr|data|mod|obj):`(~?)([\w.]+)`")
_LITERAL = re.compile(r"(\S)::$", re.MULTILINE)
_BARE_LITERAL = re.compile(r"^(\s*)::$", re.MULTILINE)


def _link(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    title = target.rsplit(".", 1)[-1] if short else target
    return f'<autoref identifier="{target}" optional><code>{title}</code></autoref>'


def convert(text: str) -> str:
    """A docstring with Sphinx roles and reST literal-block markers made Markdown."""
    text = _ROLE.sub(_link, text)
    text = _LITERAL.sub(r"\1:", text)
    return _BARE_LITERAL.sub("", text)


class SphinxRoles(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
