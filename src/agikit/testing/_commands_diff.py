"""Comparing the commands an AGI sent with the ones a test expects, and showing the difference.

Lines compare the way the fake Asterisk's :func:`~agikit.testing.fake.expect` compares them: by
words, as Asterisk splits them, the command words in any case and the arguments exactly (so
``SET VARIABLE X "a b"`` equals ``set variable X a\\ b``). ``...`` (``Ellipsis``) in the
expected list stands for any number of commands, none included.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import EllipsisType

from ..commands import find_command
from ..protocol.quoting import split_command_line, to_bytes
from ._fake_script import _word_difference

#: What a test lists: command lines, and ``...`` for any commands.
Expected = Sequence[str | EllipsisType]

_SAME, _MISSING, _EXTRA, _ANY = "  ", "- ", "+ ", ": "


def command_key(line: str | bytes) -> tuple[bytes, ...]:
    """A line's words, the command words upper-cased: equal keys are equal commands."""
    try:
        words = split_command_line(to_bytes(line))
    except UnicodeEncodeError:
        return (to_bytes(repr(line)),)
    command = find_command(words)
    fold = len(command.words) if command is not None else 0
    return tuple(word.upper() if index < fold else word for index, word in enumerate(words))


def _check(expected: Expected) -> None:
    if isinstance(expected, str | bytes):
        raise TypeError("expected is a list of command lines, not one string")
    for item in expected:
        if item is not Ellipsis and not isinstance(item, str):
            raise TypeError(f"expected command lines (str) or ..., got {item!r}")


def commands_match(expected: Expected, sent: Sequence[str]) -> bool:
    """True when ``sent`` is what ``expected`` lists (``...`` matching any commands)."""
    _check(expected)
    return _align(expected, sent)[0] == 0


def _align(expected: Expected, sent: Sequence[str]) -> tuple[int, list[tuple[str, str]]]:
    """The cheapest alignment: (cost, [(kind, text)]) with kinds _SAME/_MISSING/_EXTRA/_ANY.

    A command expected and not sent, or sent and not expected, costs 2; the same command with
    other arguments costs 1 (shown as a changed line); ``...`` takes any lines for nothing.
    """
    want = [None if item is Ellipsis else command_key(str(item)) for item in expected]
    got = [command_key(line) for line in sent]
    want_names = [None if key is None else _name(key) for key in want]
    got_names = [_name(key) for key in got]
    rows, cols = len(want), len(got)
    infinity = 2 * (rows + cols) + 1
    # cost[i][j]: aligning want[i:] with got[j:]
    cost = [[infinity] * (cols + 1) for _ in range(rows + 1)]
    cost[rows][cols] = 0
    for j in range(cols - 1, -1, -1):
        cost[rows][j] = cost[rows][j + 1] + 2
    for i in range(rows - 1, -1, -1):
        for j in range(cols, -1, -1):
            if want[i] is None:
                best = cost[i + 1][j]  # ... matching nothing more
                if j < cols:
                    best = min(best, cost[i][j + 1])  # ... taking got[j]
            else:
                best = cost[i + 1][j] + 2  # expected, not sent
                if j < cols:
                    best = min(best, cost[i][j + 1] + 2)  # sent, not expected
                    if want[i] == got[j]:
                        best = min(best, cost[i + 1][j + 1])
                    elif want_names[i] == got_names[j]:
                        best = min(best, cost[i + 1][j + 1] + 1)
            cost[i][j] = best
    path: list[tuple[str, str]] = []
    i = j = 0
    while i < rows or j < cols:
        here = cost[i][j]
        if i < rows and want[i] is None:
            if j < cols and cost[i][j + 1] == here:
                path.append((_ANY, sent[j]))
                j += 1
            else:
                i += 1
            continue
        if i < rows and j < cols and want[i] == got[j] and cost[i + 1][j + 1] == here:
            path.append((_SAME, sent[j]))
            i, j = i + 1, j + 1
        elif (
            i < rows
            and j < cols
            and want_names[i] == got_names[j]
            and cost[i + 1][j + 1] + 1 == here
        ):
            path.append((_MISSING, str(expected[i])))
            path.append((_EXTRA, sent[j]))
            i, j = i + 1, j + 1
        elif i < rows and cost[i + 1][j] + 2 == here:
            path.append((_MISSING, str(expected[i])))
            i += 1
        else:
            path.append((_EXTRA, sent[j]))
            j += 1
    return cost[0][0], _pair_up(path)


def _name(key: tuple[bytes, ...]) -> object:
    command = find_command(key)
    return command.name if command is not None else key[:1]


def _pair_up(path: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Put each run of missing lines before the extra lines that replace them."""
    out: list[tuple[str, str]] = []
    index = 0
    while index < len(path):
        if path[index][0] in (_MISSING, _EXTRA):
            end = index
            while end < len(path) and path[end][0] in (_MISSING, _EXTRA):
                end += 1
            run = path[index:end]
            out.extend(item for item in run if item[0] == _MISSING)
            out.extend(item for item in run if item[0] == _EXTRA)
            index = end
        else:
            out.append(path[index])
            index += 1
    return out


def diff_commands(expected: Expected, sent: Sequence[str]) -> str:
    """A readable account of how ``sent`` differs from ``expected`` (``""`` when it does not)."""
    _check(expected)
    cost, path = _align(expected, sent)
    if cost == 0:
        return ""
    listed = sum(1 for item in expected if item is not Ellipsis)
    head = (
        f"the AGI sent {len(sent)} command(s), expected {listed}"
        + (" and ... (any commands)" if listed != len(expected) else "")
        + " - differences marked (- expected, not sent; + sent, not expected"
        + ("; : matched by ...)" if listed != len(expected) else ")")
    )
    lines = [head]
    number = 0
    for index, (kind, text) in enumerate(path):
        if kind != _MISSING:
            number += 1
        label = f"{number:>3} " if kind != _MISSING else "    "
        lines.append(f"  {kind}{label}{text}")
        # The first "+" after a run of "-" replaces the first of them: show the word that differs.
        if kind == _EXTRA and index > 0 and path[index - 1][0] == _MISSING:
            start = index - 1
            while start > 0 and path[start - 1][0] == _MISSING:
                start -= 1
            detail = _first_difference(path[start][1], text)
            if detail:
                lines.append(f"        {detail}")
    return "\n".join(lines)


def _first_difference(expected: str, sent: str) -> str:
    try:
        difference = _word_difference(to_bytes(expected), to_bytes(sent))
    except UnicodeEncodeError:
        return ""
    for line in (difference or "").splitlines():
        if line.startswith("first difference"):
            return "^ " + line.replace("received", "sent")
    return ""
