"""Every example documents its dialplan twice, in its docstring and in its .conf file: the two
must agree, line for line."""

from __future__ import annotations

import ast

import pytest

from ._support import EXAMPLES

EXAMPLE_NAMES = sorted(path.stem for path in EXAMPLES.glob("*.py"))


def _dialplan_lines(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        line = line.split(";", 1)[0].strip()
        if line.startswith(("exten =>", "same =>", "[")):
            lines.append(" ".join(line.split()))
    return lines


def test_every_example_has_a_dialplan_file() -> None:
    assert sorted(path.stem for path in EXAMPLES.glob("*.conf")) == EXAMPLE_NAMES


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_the_docstring_dialplan_is_in_the_conf_file(name: str) -> None:
    docstring = ast.get_docstring(ast.parse((EXAMPLES / f"{name}.py").read_text())) or ""
    documented = [line for line in _dialplan_lines(docstring) if not line.startswith("[")]
    assert documented, f"{name}.py shows no dialplan"
    conf = _dialplan_lines((EXAMPLES / f"{name}.conf").read_text())
    missing = [line for line in documented if line not in conf]
    assert not missing, f"in {name}.py but not in {name}.conf: {missing}"
