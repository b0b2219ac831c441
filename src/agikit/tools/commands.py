"""``agikit commands``: the AGI commands agikit knows, from the command table.

Without arguments, a table: each command as Asterisk spells it, whether Asterisk runs it on a
dead channel (after the caller hung up), the ``Call`` method and its summary. ``--dead`` keeps
the commands allowed on a dead channel, ``--syntax`` shows Asterisk's usage line instead of the
summary, ``--json`` prints the table for programs. With a command's name (``agikit commands
stream file``, or the method: ``stream_file``), its full documentation.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from ..commands import COMMANDS, Command, find_command


def main(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``agikit commands`` (the parsed command line); returns the exit status."""
    out = out or sys.stdout
    if args.name:
        command = lookup(" ".join(args.name))
        if command is None:
            print(f"agikit commands: no AGI command {' '.join(args.name)!r}", file=sys.stderr)
            return 1
        print(describe(command), file=out)
        return 0
    chosen = [command for command in COMMANDS if command.dead_ok or not args.dead]
    if args.json:
        json.dump([_as_dict(command) for command in chosen], out, indent=2)
        out.write("\n")
        return 0
    print(table(chosen, syntax=args.syntax), file=out)
    return 0


def lookup(name: str) -> Command[Any] | None:
    """A command by its words (any case) or its method name."""
    for command in COMMANDS:
        if command.method == name.strip().lower().replace(" ", "_"):
            return command
    return find_command(name.strip())


def table(commands: list[Command[Any]], *, syntax: bool = False) -> str:
    """The commands as an aligned text table."""
    rows = [("COMMAND", "DEAD", "METHOD", "USAGE" if syntax else "SUMMARY")]
    for command in commands:
        rows.append(
            (
                command.name,
                "yes" if command.dead_ok else "no",
                f"{command.method}()",
                command.syntax if syntax else command.summary,
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + "  "
        + row[3]
        for row in rows
    ]
    dead = sum(1 for command in commands if command.dead_ok)
    lines.append(
        f"\n{len(commands)} commands; {dead} run on a dead channel (DEAD yes: after the caller "
        "hung up, e.g. in a finally block); the others raise agikit.Hangup there."
    )
    return "\n".join(lines)


def describe(command: Command[Any]) -> str:
    """One command's documentation: usage, method signature, parameters, result, errors."""
    params = ", ".join(
        (f"*{param.name}: {param.annotation}" if param.variadic else f"{param.name}: "
         f"{param.annotation}" + ("" if param.required else f" = {param.default!r}"))
        for param in command.params
    )  # fmt: skip
    lines = [
        command.name,
        f"  Asterisk:     {command.syntax}",
        f"  Python:       call.{command.method}({params}) -> {command.returns}",
        f"  Dead channel: {'allowed' if command.dead_ok else 'not allowed (raises Hangup)'}",
        "",
        command.doc,
    ]
    if command.params:
        lines += ["", "Args:"]
        lines += [f"  {param.name}: {param.doc}" for param in command.params]
    if command.returns_doc:
        lines += ["", "Returns:", f"  {command.returns_doc}"]
    if command.raises_doc:
        lines += ["", "Raises:", f"  {command.raises_doc}"]
    return "\n".join(lines)


def _as_dict(command: Command[Any]) -> dict[str, Any]:
    return {
        "command": command.name,
        "method": command.method,
        "dead_ok": command.dead_ok,
        "syntax": command.syntax,
        "summary": command.summary,
        "returns": command.returns,
    }
