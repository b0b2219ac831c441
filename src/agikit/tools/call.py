"""``agikit call agi://host:port/path?x=1``: be Asterisk for one call, and show the exchange.

The fake Asterisk connects to the FastAGI server, sends the environment block, and answers
every command as Asterisk would on a call where nothing goes wrong (shaped by ``--digits``,
``--var``, ``--reply`` ...), until the server closes the connection. Everything is printed as
it happens, like ``curl -v``: ``>`` what Asterisk (this tool) sends, ``<`` what the server
sends, ``*`` notes::

    $ agikit call agi://127.0.0.1:4573/demo --digits 1
    * connecting to agi://127.0.0.1:4573/demo as Asterisk 22.10.1
    > agi_network: yes
    ...
    >
    < ANSWER
    > 200 result=0
    ...
    * EOF from the AGI
    * AGISTATUS=SUCCESS: 4 commands in 0.004 s

The exit status is 0 when the call ended well (``AGISTATUS`` SUCCESS, or HANGUP after a
``--hangup-*``), 1 otherwise: the connection failed, the server sent the ``failure`` line, a
command or the end of the call took longer than ``--timeout``, or the server broke the protocol.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from ..testing._fake_result import Result
from ..testing.fake import FakeAsterisk, expect_rest, parse_agi_url
from ..transcript import Direction, TranscriptEntry, show
from ._options import environment_from, scenario_from

#: How often the live transcript is polled, in seconds.
_POLL = 0.01


def main(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``agikit call`` (the parsed command line); returns the exit status."""
    out = out or sys.stdout
    try:
        parse_agi_url(args.url)
    except ValueError as error:
        raise SystemExit(f"agikit call: {error}") from None
    fake = FakeAsterisk(
        [expect_rest()],
        args=args.arg,
        env=environment_from(args),
        timeout=args.timeout,
        agisighup=not args.no_sighup,
        scenario=scenario_from(args),
    )
    version = fake.environment(args.url).version
    if not args.quiet:
        print(f"* connecting to {args.url} as Asterisk {version}", file=out, flush=True)
    session = fake.start_fastagi(args.url, connect_timeout=args.connect_timeout)
    printed = 0
    in_environment = True
    try:
        while True:
            finished = session.done
            entries = session.progress.transcript
            while printed < len(entries):
                entry = entries[printed]
                printed += 1
                if args.quiet:
                    continue
                if in_environment and args.no_env and entry.direction is Direction.TO_AGI:
                    if entry.data == b"\n":
                        in_environment = False
                        print("> [environment block]", file=out)
                    continue
                if entry.direction is Direction.FROM_AGI:
                    in_environment = False
                print(_line(entry, args.timestamps), file=out, flush=True)
            if finished:
                break
            time.sleep(_POLL)
    except KeyboardInterrupt:
        session.abort("interrupted (Ctrl-C)")
        session.wait()
        print("* interrupted", file=out)
        return 130
    result = session.result
    print(_summary(result), file=out)
    for failure in result.failures:
        for number, text in enumerate(str(failure).splitlines()):
            print(("* failure: " if number == 0 else "*   ") + text, file=out)
    return 0 if succeeded(result) else 1


def succeeded(result: Result) -> bool:
    """True when a call ended as it should: no failure, and Asterisk would not say FAILURE."""
    return result.ok and result.agi_status in ("SUCCESS", "HANGUP")


def _line(entry: TranscriptEntry, timestamps: bool) -> str:
    stamp = f"{entry.time:8.3f} " if timestamps else ""
    if entry.direction is Direction.NOTE:
        return f"{stamp}* {entry.text}"
    mark = ">" if entry.direction is Direction.TO_AGI else "<"
    text = show(entry.line, 2000)
    if not entry.data.endswith(b"\n"):
        text += "   [no LF]"
    return f"{stamp}{mark} {text}" if text else f"{stamp}{mark}"


def _summary(result: Result) -> str:
    commands = sum(1 for line in result.commands if line[:7].lower() != "failure")
    hung = " (hung up)" if result.hung_up and result.agi_status != "HANGUP" else ""
    return (
        f"* AGISTATUS={result.agi_status}{hung}: {commands} command{'s' * (commands != 1)} "
        f"in {result.duration:.3f} s"
    )
