"""``agikit load agi://host:port/path --calls N --concurrency C``: load-test a FastAGI server.

Each call is what ``agikit call`` does, without the printing: connect, send the environment
block (with a channel name and unique ID of its own), answer every command as Asterisk would
(shaped by ``--digits``, ``--var``, ``--reply`` ...), and wait for the server to close. ``C``
calls run at a time until ``N`` are done, on one asyncio event loop, standard library only.

A progress bar goes to stderr when it is a terminal; at the end a summary: calls per second,
the latency of a whole call and the server's time per command (from a reply sent to the next
command received), as percentiles, and the failures by reason. The exit status is 0 when every
call succeeded, 1 otherwise, 130 when interrupted (the summary covers the calls done).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TextIO

from ..protocol.quoting import split_command_line
from ..testing._fake_env import build_environment
from ..testing._fake_script import default_reply, is_failure_line, reply_chunks
from ..testing.fake import Raw, parse_agi_url
from ..testing.scenario import Scenario
from ._options import environment_from, scenario_from


@dataclass
class CallOutcome:
    """One call: ``error`` is ``None`` when it succeeded."""

    duration: float
    commands: int
    #: Seconds from each reply (or the environment) to the next command.
    waits: list[float] = field(default_factory=list)
    error: str | None = None


@dataclass
class LoadStats:
    """Every call's outcome, and the wall-clock time they took."""

    planned: int
    outcomes: list[CallOutcome] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def done(self) -> int:
        return len(self.outcomes)

    @property
    def failed(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome.error is not None)

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def summary(self) -> str:
        """The end-of-run report."""
        elapsed = self.elapsed
        ok = [o for o in self.outcomes if o.error is None]
        rate = self.done / elapsed if elapsed > 0 else 0.0
        commands = sum(o.commands for o in self.outcomes)
        lines = [
            f"{self.done} calls in {elapsed:.2f} s: {rate:.1f} calls/s, "
            f"{len(ok)} succeeded, {self.failed} failed"
            + (f", {self.planned - self.done} not run" if self.done < self.planned else ""),
            f"{commands} commands: {commands / elapsed if elapsed > 0 else 0.0:.1f} commands/s",
        ]
        if ok:
            lines.append(
                "call duration (successful calls):  " + _percentiles([o.duration for o in ok])
            )
        waits = [wait for o in self.outcomes for wait in o.waits]
        if waits:
            lines.append("server time per command:           " + _percentiles(waits))
        reasons = Counter(o.error for o in self.outcomes if o.error is not None)
        if reasons:
            lines.append("failures:")
            lines.extend(f"  {count:>6} x {reason}" for reason, count in reasons.most_common(10))
            if len(reasons) > 10:
                lines.append(f"  ... and {len(reasons) - 10} other reasons")
        return "\n".join(lines)


def _percentiles(values: list[float]) -> str:
    ordered = sorted(values)

    def at(fraction: float) -> float:
        index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
        return ordered[index]

    mean = sum(ordered) / len(ordered)
    shown = [("min", ordered[0]), ("p50", at(0.5)), ("p90", at(0.9)), ("p99", at(0.99))]
    shown += [("max", ordered[-1]), ("mean", mean)]
    return "  ".join(f"{name} {_ms(value)}" for name, value in shown)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


class _CallFailed(Exception):
    pass


async def one_call(
    host: str,
    port: int,
    environment: bytes,
    scenario: Scenario,
    timeout: float,
) -> CallOutcome:
    """Play Asterisk for one call; never raises (the outcome says what went wrong)."""
    start = time.monotonic()
    commands = 0
    waits: list[float] = []
    connection: asyncio.StreamWriter | None = None
    try:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except TimeoutError:
            raise _CallFailed("connect timed out") from None
        except OSError as error:
            raise _CallFailed(f"connect failed: {error.strerror or error}") from None
        connection = writer
        writer.write(environment)
        state = scenario.start()
        dead = False
        sent_at = time.monotonic()
        while True:
            try:
                line = await asyncio.wait_for(reader.readline(), timeout)
            except TimeoutError:
                raise _CallFailed(f"no command or close within {timeout:g} s") from None
            except ConnectionResetError:
                # The server closed with our last reply (or HANGUP notice) unread: the end of
                # the call, as for Asterisk, which reads it as the end of the stream.
                break
            except (ConnectionError, ValueError) as error:  # ValueError: a line over 64 KiB
                raise _CallFailed(f"read failed: {type(error).__name__}") from None
            if not line:
                break  # the server closed: the call is over
            waits.append(time.monotonic() - sent_at)
            if not line.endswith(b"\n"):
                raise _CallFailed("the server closed in the middle of a line")
            line = line[:-1]
            if is_failure_line(line):
                raise _CallFailed("the server sent the failure line (AGISTATUS=FAILURE)")
            commands += 1
            words = split_command_line(line)
            response = state.respond(words, dead=dead)
            lines = response.lines if response is not None else None
            if lines is None:
                lines = default_reply(words, dead=dead)
            notify = response is not None and response.hangup is not None and not dead
            if _hangs_up_itself(words, lines, dead):
                notify = True
            writer.write(b"".join(reply_chunks(lines)))
            if notify:
                dead = True
                writer.write(b"HANGUP\n")
            sent_at = time.monotonic()
        return CallOutcome(time.monotonic() - start, commands, waits)
    except _CallFailed as failure:
        return CallOutcome(time.monotonic() - start, commands, waits, str(failure))
    except Exception as error:  # a bug here must not stop the run: count it
        return CallOutcome(time.monotonic() - start, commands, waits, repr(error))
    finally:
        if connection is not None:
            connection.close()
            with contextlib.suppress(Exception):
                await connection.wait_closed()


def _hangs_up_itself(words: list[bytes], lines: tuple[bytes, ...] | Raw, dead: bool) -> bool:
    """The AGI's own ``HANGUP`` (of its channel) succeeded: Asterisk notices the hangup."""
    if dead or isinstance(lines, Raw) or not words or words[0].upper() != b"HANGUP":
        return False
    return len(words) == 1 and bool(lines) and lines[-1].startswith(b"200 result=1")


async def run_load(
    url: str,
    *,
    calls: int,
    concurrency: int,
    args: list[str],
    env: dict[str, str | None],
    scenario: Scenario,
    timeout: float,
    stats: LoadStats,
    progress: TextIO | None = None,
) -> LoadStats:
    """Place ``calls`` calls, ``concurrency`` at a time; fills and returns ``stats``."""
    host, port, script = parse_agi_url(url)
    base = int(time.time())
    counter = iter(range(calls))

    def environment(number: int) -> bytes:
        overrides: dict[str, str | None] = {
            "channel": f"PJSIP/load-{number:08x}",
            "uniqueid": f"{base}.{number}",
            **env,
        }
        block = build_environment(
            request=url, args=args, overrides=overrides, network_script=script
        )
        return block.to_bytes()

    async def worker() -> None:
        for number in counter:
            outcome = await one_call(host, port, environment(number), scenario, timeout)
            stats.outcomes.append(outcome)

    bar = asyncio.create_task(_progress(stats, progress)) if progress is not None else None
    try:
        await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, calls)))))
    finally:
        stats.finished = time.monotonic()
        if bar is not None:
            bar.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await bar
            _draw(stats, progress, final=True)
    return stats


async def _progress(stats: LoadStats, stream: TextIO | None) -> None:
    while True:
        _draw(stats, stream)
        await asyncio.sleep(0.1)


def _draw(stats: LoadStats, stream: TextIO | None, *, final: bool = False) -> None:
    if stream is None:
        return
    width = 30
    fraction = stats.done / stats.planned if stats.planned else 1.0
    filled = int(width * fraction)
    bar = "=" * filled + (">" if filled < width else "") + " " * max(0, width - filled - 1)
    elapsed = stats.elapsed
    rate = stats.done / elapsed if elapsed > 0 else 0.0
    stream.write(
        f"\r[{bar}] {stats.done}/{stats.planned} calls  {stats.failed} failed  "
        f"{rate:.0f} calls/s  {elapsed:.1f} s"
    )
    if final:
        stream.write("\n")
    stream.flush()


def main(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``agikit load`` (the parsed command line); returns the exit status."""
    out = out or sys.stdout
    try:
        parse_agi_url(args.url)
    except ValueError as error:
        raise SystemExit(f"agikit load: {error}") from None
    if args.calls < 1 or args.concurrency < 1:
        raise SystemExit("agikit load: --calls and --concurrency must be at least 1")
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    stats = LoadStats(args.calls)
    print(
        f"agikit load: {args.calls} calls to {args.url}, {args.concurrency} at a time",
        file=out,
        flush=True,
    )
    status = 0
    try:
        asyncio.run(
            run_load(
                args.url,
                calls=args.calls,
                concurrency=args.concurrency,
                args=args.arg,
                env=environment_from(args),
                scenario=scenario_from(args),
                timeout=args.timeout,
                stats=stats,
                progress=sys.stderr if show else None,
            )
        )
    except KeyboardInterrupt:
        stats.finished = stats.finished or time.monotonic()
        print("\ninterrupted", file=out)
        status = 130
    print(stats.summary(), file=out)
    if status == 0 and (stats.failed or stats.done < stats.planned):
        status = 1
    return status
