"""``agikit replay TRANSCRIPT module:app``: replay a recorded call against an app.

``TRANSCRIPT`` is a transcript in the reference format (what
:meth:`~agikit.testing.fake.Result.format_transcript` writes) or Asterisk's own log with AGI
debugging on (``agi set debug on``); in a log holding several calls, ``--channel`` picks one
(a channel name, a unique ID, or part of a channel name) and ``--list`` shows them. The fake
Asterisk plays the recorded environment and replies; the app must send the recorded commands.
A call recorded over FastAGI runs on a FastAGI server on a loopback port, with its recorded
path; any other as a process AGI in this process, with its recorded script name.

Exit status: 0 when the app followed the recording, 1 when it diverged (the first difference
and the conversation are printed) or raised, 2 when the recording cannot be used.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from ..errors import ProtocolError
from ..testing._fake_script import Expect, Step
from ..testing.debug_log import DebugLogError, is_debug_log, read_debug_log, select_call


def main(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``agikit replay`` (the parsed command line); returns the exit status."""
    out = out or sys.stdout
    path = Path(args.transcript)
    try:
        text = path.read_text("utf-8", "surrogateescape")
    except OSError as error:
        print(f"agikit replay: cannot read {path}: {error.strerror or error}", file=sys.stderr)
        return 2
    if args.list:
        return _list(text, out)
    if args.app is None:
        print("agikit replay: give the app to replay against (module:attribute)", file=sys.stderr)
        return 2
    from ..cli import load_app
    from ..testing.fake import FakeAsterisk, ScriptError
    from ..testing.tester import AgiTester

    try:
        fake = FakeAsterisk.from_transcript(text, channel=args.channel)
    except (DebugLogError, ScriptError, ValueError) as error:
        print(f"agikit replay: {error}", file=sys.stderr)
        return 2
    what = _describe(text, args.channel, fake)
    app = load_app(args.app)
    print(f"replaying {what} against {args.app}", file=out, flush=True)
    # The FastAGI server's own log lines would repeat what the report says, after it.
    server_log = logging.getLogger("agikit.fastagi")
    level = server_log.level
    server_log.setLevel(logging.CRITICAL)
    try:
        run = AgiTester().replay(
            app,
            text,
            channel=args.channel,
            check=False,
            timeout=args.timeout,
        )
    finally:
        server_log.setLevel(level)
    if args.verbose:
        print(run.result.format_transcript(environment=False), file=out)
    expected = sum(1 for step in fake.script if isinstance(step, Expect))
    if run.ok:
        print(
            f"the app followed the recording: {len(run.commands)} commands "
            f"({expected} recorded), AGISTATUS={run.agi_status}",
            file=out,
        )
        return 0
    print(_divergence(run, fake.script), file=out)
    return 1


def _describe(text: str, channel: str | None, fake: Any) -> str:
    request = fake.recorded_request or "?"
    commands = sum(1 for step in fake.script if isinstance(step, Expect))
    if is_debug_log(text):
        call = select_call(read_debug_log(text), channel)
        return f"{call.channel} ({commands} commands, {request})"
    return f"the transcript ({commands} commands, {request})"


def _divergence(run: Any, script: Sequence[Step]) -> str:
    result = run.result
    lines = []
    mismatches = [failure for failure in result.failures if failure.step is not None]
    commands = [isinstance(step, Expect) for step in script]
    if mismatches and mismatches[0].step is not None:
        step = mismatches[0].step
        number = sum(commands[: step - 1]) + 1
        where = f"command {number} of {sum(commands)}" if commands[step - 1] else f"step {step}"
        lines.append(f"the app diverged from the recording at {where} (step {step} below):")
    elif result.failures:
        lines.append("the app did not follow the recording to its end:")
    error = run.error
    if error is not None and mismatches and isinstance(error, ProtocolError):
        # The fake ended the session at the divergence: the app's error follows from it.
        lines.append(f"(the app then got {type(error).__name__}: {error})")
    elif error is not None:
        lines.append("the app raised:")
        lines.extend(
            "  " + line
            for chunk in traceback.format_exception(error)
            for line in chunk.rstrip("\n").splitlines()
        )
    lines.append(result.report())
    return "\n".join(lines)


def _list(text: str, out: TextIO) -> int:
    if not is_debug_log(text):
        print("agikit replay: --list lists the calls of an Asterisk debug log", file=sys.stderr)
        return 2
    calls = read_debug_log(text)
    for call in calls:
        print(call.describe(), file=out)
    if not calls:
        print("no AGI session in this log (turn AGI debugging on: agi set debug on)", file=out)
    return 0
