"""The tools' command lines (argparse only: ``agikit --help`` loads no tool).

Each subcommand's ``run`` imports its module (:mod:`agikit.tools.call` ...) when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

#: name -> (help, description)
_TOOLS = {
    "call": (
        "be Asterisk for one call against a FastAGI server, and show the exchange",
        "Connect to a running FastAGI server as Asterisk does for AGI(URL,args...), answer its "
        "commands as Asterisk would (digits, variables and failures as given), and print the "
        "exchange like curl -v: '>' what Asterisk sends, '<' what the server sends. Exits 1 if "
        "the call failed.",
    ),
    "replay": (
        "replay a recorded call (a transcript or Asterisk's AGI debug log) against an app",
        "Play the Asterisk side of a recorded call (a transcript, or an Asterisk log with 'agi "
        "set debug on'; --channel picks the call, --list shows them) against APP, and show "
        "where the app diverges from the recording. Exits 1 if it does.",
    ),
    "load": (
        "load-test a FastAGI server: many concurrent calls, a latency summary",
        "Place --calls calls to a FastAGI server, --concurrency at a time, each answered as "
        "Asterisk would; show progress, then calls per second, latency percentiles and the "
        "failures. Exits 1 if any call failed.",
    ),
    "commands": (
        "the AGI commands agikit knows, with dead-channel support",
        "List the AGI commands of Asterisk 22 in agikit's command table: which run on a dead "
        "channel (after the caller hung up), and the Call method of each; or, given a command, "
        "its documentation.",
    ),
}


def add_tools(subparsers: Any) -> None:
    """Add ``call``, ``replay``, ``load`` and ``commands`` to ``agikit``'s subcommands."""
    for name, (summary, description) in _TOOLS.items():
        parser = subparsers.add_parser(name, help=summary, description=description)
        _ARGUMENTS[name](parser)
        parser.set_defaults(run=_runner(name))


def _runner(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        module = importlib.import_module(f"agikit.tools.{name}")
        try:
            status: int = module.main(args)
        except BrokenPipeError:
            # The reader went away (`agikit commands | head`): stop quietly, as Python's
            # documentation advises, without a second error when stdout is flushed at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            return 1
        return status

    return run


def add_call_options(parser: argparse.ArgumentParser, *, timeout: float = 30.0) -> None:
    """The options describing a call (``agikit call`` and ``agikit load``)."""
    parser.add_argument(
        "--arg", action="append", default=[], metavar="VALUE",
        help="an AGI() argument after the URL (agi_arg_N); repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE",
        help="an environment line, e.g. callerid=5551234 (agi_ prefix optional); repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--digits", default="", metavar="KEYS",
        help="keys the caller presses, fed to WAIT FOR DIGIT, GET DATA and the escape digits "
        "of STREAM FILE & co. (a space: a pause; '.': a timeout), e.g. 1 123#",
    )  # fmt: skip
    parser.add_argument(
        "--var", action="append", default=[], metavar="NAME=VALUE",
        help="a channel variable GET VARIABLE reads; repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--db", action="append", default=[], metavar="FAMILY/KEY=VALUE",
        help="an AstDB entry DATABASE GET reads; repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--reply", action="append", default=[], metavar="COMMAND=REPLY",
        help="the reply to commands starting so, e.g. 'EXEC Dial=200 result=-1'; repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--fail", action="append", default=[], metavar="COMMAND",
        help="commands starting so fail (a missing file, an unknown app); repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--hangup-after", type=int, default=None, metavar="N",
        help="the caller hangs up after the Nth command",
    )  # fmt: skip
    parser.add_argument(
        "--hangup-during", type=int, default=None, metavar="N",
        help="the caller hangs up while the Nth command runs",
    )  # fmt: skip
    parser.add_argument(
        "--timeout", type=float, default=timeout,
        help=f"seconds to wait for each command, and for the server to close ({timeout:g})",
    )  # fmt: skip


def _call(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="agi://host[:port][/path[?query]] (port 4573 by default)")
    add_call_options(parser)
    parser.add_argument(
        "--no-sighup", action="store_true",
        help="as with AGISIGHUP=no: no HANGUP line when the caller hangs up",
    )  # fmt: skip
    parser.add_argument(
        "--connect-timeout", type=float, default=2.0,
        help="seconds to connect (Asterisk's own limit: 2)",
    )  # fmt: skip
    parser.add_argument("--no-env", action="store_true", help="do not print the environment")
    parser.add_argument("--timestamps", action="store_true", help="seconds since the start")
    parser.add_argument("-q", "--quiet", action="store_true", help="print the summary only")


def _replay(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("transcript", help="a transcript, or an Asterisk log with AGI debug on")
    parser.add_argument("app", nargs="?", help="module:attribute (the app or handler)")
    parser.add_argument(
        "--channel", metavar="NAME",
        help="the call to replay from a log: channel name, unique ID, or part of a channel name "
        "(NAME#2: its second AGI session)",
    )  # fmt: skip
    parser.add_argument("--list", action="store_true", help="list the calls in a log and exit")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per command (5)")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print the whole replayed conversation"
    )


def _load(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="agi://host[:port][/path[?query]] (port 4573 by default)")
    parser.add_argument("-n", "--calls", type=int, default=100, help="calls to place (100)")
    parser.add_argument("-c", "--concurrency", type=int, default=10, help="calls at a time (10)")
    add_call_options(parser, timeout=10.0)
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="show a progress bar on stderr (default: when it is a terminal)",
    )  # fmt: skip


def _commands(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "name", nargs="*", help="a command (stream file) or method (stream_file): its documentation"
    )
    parser.add_argument("--dead", action="store_true", help="only those allowed on a dead channel")
    parser.add_argument("--syntax", action="store_true", help="Asterisk's usage line per command")
    parser.add_argument("--json", action="store_true", help="the table as JSON")


_ARGUMENTS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "call": _call,
    "replay": _replay,
    "load": _load,
    "commands": _commands,
}
