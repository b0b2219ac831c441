"""Asterisk's own AGI debug log (``agi set debug on``) as transcripts the fake Asterisk replays.

With AGI debugging on, Asterisk logs every line it sends and receives, per channel (here
without the start of each line, ``[2026-11-27 15:51:49.107] VERBOSE[31020][C-00000001]``)::

    res_agi.c: <PJSIP/alice-00000001>AGI Tx >> agi_channel: PJSIP/alice-00000001
    res_agi.c: <PJSIP/alice-00000001>AGI Rx << ANSWER
    res_agi.c: <PJSIP/alice-00000001>AGI Tx >> 200 result=0

``Tx >>`` is Asterisk to the AGI (the environment, replies, ``HANGUP``), ``Rx <<`` the AGI's
commands. A log (``/var/log/asterisk/full``, or a console capture with or without timestamps)
usually holds many calls: :func:`read_debug_log` splits it into :class:`LoggedCall` objects, one
per AGI session, and :func:`select_call` picks one by channel name or unique ID. A call becomes
a transcript in the reference format (:meth:`LoggedCall.to_transcript`), which
:meth:`FakeAsterisk.from_transcript <agikit.testing.fake.FakeAsterisk.from_transcript>` replays;
it also accepts such a log directly (``channel=`` picks the call)::

    fake = FakeAsterisk.from_transcript(Path("full.log"), channel="PJSIP/alice-00000001")

What the log does not say, and how it is read:

- A multi-line write (the ``520`` usage text) continues on lines without a log header; they
  belong to the entry before them.
- FastAGI's first two lines (``agi_network``, ``agi_network_script``) are logged before
  Asterisk knows the channel, without ``<channel>``; they go with the next session of the
  same thread.
- A process AGI's SIGHUP is not logged. When a command that needs a live channel is answered
  ``511``, the hangup is replayed as arriving with it (``hangup_before_reply``); a hangup seen
  only as a ``result=-1`` reply is replayed as that reply, without a notification.
- Async AGI commands arrive over AMI and are not logged as ``Rx``: such a session has only
  Asterisk's side and cannot be replayed (:attr:`LoggedCall.async_agi`).

Standard library only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

__all__ = [
    "DebugLogError",
    "LogLine",
    "LoggedCall",
    "is_debug_log",
    "read_debug_log",
    "select_call",
]

#: ``[<channel>]AGI Tx >> text`` / ``AGI Rx << text`` anywhere in a log line.
_AGI = re.compile(r"(?:<(?P<channel>[^<>]*)>)?AGI (?P<dir>Tx >>|Rx <<)(?: (?P<text>.*))?$")
#: Asterisk's note that the AGI ended (closed its end, or the process exited).
_COMPLETED = re.compile(
    r"(?:<(?P<channel>[^<>]*)>)?AGI Script (?P<script>.*) completed, returning (?P<code>-?\d+)"
)
#: The ``completed, returning N`` code of a session that ended on a hangup (AGI_RESULT_HANGUP).
_RESULT_HANGUP = 4
#: The header of a log line in Asterisk's log files: ``[2026-11-27 15:51:49.105] VERBOSE[31020]``
#: with an optional ``[C-00000001]`` call id.
_HEADER = re.compile(
    r"^\[(?P<stamp>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?)\]\s+\w+\[(?P<thread>\d+)\]"
)
#: Lines that start a new entry in a console capture (``asterisk -rvvv``).
_CONSOLE_ENTRY = re.compile(r"^(?:\s{0,4}(?:--|==|>|\*)\s|\[\w{3}\s+\d+\s\d\d:\d\d:\d\d\])")
#: ``agi_request`` of an Async AGI session (``AGI(agi:async)``).
_ASYNC_REQUEST = "async"


class DebugLogError(ValueError):
    """The log holds no AGI session that matches, or more than one where one was asked for."""


@dataclass(frozen=True, slots=True)
class LogLine:
    """One logged AGI write: ``sent`` is True for ``Tx`` (Asterisk to the AGI).

    ``text`` is what went over the wire, without the final LF (a multi-line write keeps its
    inner LFs); ``time`` is seconds since the epoch when the log has timestamps, else ``None``.
    """

    sent: bool
    text: str
    time: float | None = None


@dataclass
class LoggedCall:
    """One AGI session of a channel, as Asterisk logged it."""

    #: The channel's name (``PJSIP/alice-00000001``).
    channel: str
    #: Every logged line of the session, in order: the environment block first.
    lines: list[LogLine] = field(default_factory=list)
    #: Asterisk logged the end of the AGI (``AGI Script ... completed``): the AGI closed its
    #: end; what Asterisk sent afterwards (the final ``HANGUP``) is not part of the session.
    completed: bool = False
    #: The result Asterisk logged with it (``4``: the call hung up), when it did.
    returned: int | None = None

    @property
    def environment(self) -> dict[str, str]:
        """The ``agi_*`` lines of the environment block."""
        found: dict[str, str] = {}
        for line in self.lines:
            if not line.sent:
                break
            if line.text == "":
                break
            key, _, value = line.text.partition(": ")
            found[key] = value
        return found

    @property
    def request(self) -> str:
        """``agi_request``: the script, or the ``agi://`` URL, as the dialplan gave it."""
        return self.environment.get("agi_request", "")

    @property
    def uniqueid(self) -> str:
        return self.environment.get("agi_uniqueid", "")

    @property
    def network(self) -> bool:
        """True for FastAGI (``agi_network: yes``)."""
        return self.environment.get("agi_network") == "yes"

    @property
    def async_agi(self) -> bool:
        """True for Async AGI: the commands came over AMI and the log has none of them."""
        return self.request == _ASYNC_REQUEST and not any(not line.sent for line in self.lines)

    @property
    def commands(self) -> list[str]:
        """The AGI's command lines, in order."""
        return [line.text for line in self.lines if not line.sent]

    @property
    def started(self) -> float | None:
        return self.lines[0].time if self.lines else None

    def describe(self) -> str:
        """One line for listings: when, channel, unique ID, request and size."""
        when = ""
        if self.started is not None:
            when = datetime.fromtimestamp(self.started).strftime("%Y-%m-%d %H:%M:%S") + "  "
        kind = "Async AGI" if self.async_agi else ("FastAGI" if self.network else "AGI")
        return (
            f"{when}{self.channel}  uniqueid={self.uniqueid or '?'}  {kind} "
            f"{self.request or '?'}  ({len(self.commands)} commands)"
        )

    def to_transcript(self) -> str:
        """The session in the reference transcripts' format (``+0000.000 << line``).

        A process AGI's hangup, which the log does not show, is written as a
        ``## SIGHUP received`` note where it is inferred (see :meth:`inferred_sighup`).
        """
        start = next((line.time for line in self.lines if line.time is not None), None)
        out = [
            "# format: +seconds  <<|>>  exact line bytes "
            '("<<" Asterisk->script, ">>" script->Asterisk)',
            "#         +seconds  ##  note (not protocol bytes)",
            f"# from Asterisk's AGI debug log: channel {self.channel}",
        ]
        sighup = self.inferred_sighup()
        for index, line in enumerate(self.lines):
            stamp = 0.0 if line.time is None or start is None else line.time - start
            prefix = f"+{stamp:08.3f} "
            if not line.sent:
                out.append(prefix + ">> " + line.text)
                continue
            if index == sighup:
                out.append(prefix + "## SIGHUP received (inferred: not in Asterisk's log)")
            for part in line.text.split("\n"):
                out.append(prefix + "<< " + part)
        if self.completed:
            out.append(f"+{self._end():08.3f} ## EOF from the AGI (Asterisk: AGI Script completed)")
        return "\n".join(out) + "\n"

    def inferred_sighup(self) -> int | None:
        """Where a process AGI got its SIGHUP: the index in :attr:`lines` of the reply it
        came before, or ``None``.

        Asterisk does not log the signal. It came before the first ``511`` reply to a command
        that needs a live channel; failing that, when the session ended on the hangup
        (``returning 4``) and the AGI did not hang up itself, before the reply to the last
        command that needs a live channel: agikit sends none once it knows of the hangup.
        FastAGI logs its ``HANGUP`` lines, so nothing is inferred there.
        """
        if self.network:
            return None
        from ..commands import find_command

        replies: list[tuple[int, str]] = []  # (index of the first reply line, its command)
        command: str | None = None
        for index, line in enumerate(self.lines):
            if not line.sent:
                command = line.text
            elif command is not None:
                replies.append((index, command))
                command = None
        live = [(index, text) for index, text in replies if _needs_live_channel(find_command(text))]
        for index, _ in live:
            if self.lines[index].text.startswith("511 "):
                return index
        hung_up_itself = any(
            not line.sent and line.text.strip().upper() == "HANGUP" for line in self.lines
        )
        if self.returned == _RESULT_HANGUP and live and not hung_up_itself:
            return live[-1][0]
        return None

    def _end(self) -> float:
        times = [line.time for line in self.lines if line.time is not None]
        return times[-1] - times[0] if times else 0.0

    def __repr__(self) -> str:
        return f"<LoggedCall {self.channel!r} {self.request!r} {len(self.commands)} commands>"


def _needs_live_channel(command: object) -> bool:
    return command is not None and not getattr(command, "dead_ok", True)


def is_debug_log(text: str) -> bool:
    """True when ``text`` holds Asterisk AGI debug lines (``AGI Tx >>`` / ``AGI Rx <<``)."""
    return "AGI Tx >>" in text or "AGI Rx <<" in text


@dataclass
class _Entry:
    header: bool
    thread: str | None
    time: float | None
    body: str


def _entries(text: str) -> list[_Entry]:
    """Log entries: a line with a header, or an AGI line, and the continuation lines after it."""
    entries: list[_Entry] = []
    lines = text.lstrip("\ufeff").splitlines()
    stamped = any(_HEADER.match(line) for line in lines[:200])
    for raw in lines:
        line = raw.rstrip("\r")
        header = _HEADER.match(line)
        if header is not None:
            entries.append(_Entry(True, header.group("thread"), _seconds(header["stamp"]), line))
            continue
        new_entry = (not stamped) and (
            _CONSOLE_ENTRY.match(line) is not None or _AGI.search(line) is not None
        )
        if entries and not new_entry:
            entries[-1].body += "\n" + line
        else:
            entries.append(_Entry(False, None, None, line))
    return entries


def _seconds(stamp: str) -> float | None:
    try:
        return datetime.fromisoformat(stamp.replace(" ", "T")).timestamp()
    except ValueError:
        return None


def read_debug_log(source: str | os.PathLike[str]) -> list[LoggedCall]:
    """Every AGI session in an Asterisk log, in the order they started.

    ``source`` is the log's text, or a path to it. A channel that runs ``AGI()`` twice gives
    two sessions: a new one starts with each environment block.
    """
    if isinstance(source, os.PathLike):
        source = Path(source).read_text("utf-8", "surrogateescape")
    calls: list[LoggedCall] = []
    open_calls: dict[str, LoggedCall] = {}
    #: Environment lines logged before the channel was known, per thread (FastAGI's first two).
    orphans: dict[str | None, list[LogLine]] = {}
    for entry in _entries(source):
        first, _, rest = entry.body.partition("\n")
        match = _AGI.search(first)
        if match is None:
            done = _COMPLETED.search(first)
            if done is not None and done.group("channel") in open_calls:
                ended = open_calls[done.group("channel")]
                ended.completed = True
                ended.returned = int(done.group("code"))
            continue
        text = match.group("text") or ""
        if rest:
            text += "\n" + rest
        line = LogLine(match.group("dir") == "Tx >>", text, entry.time)
        channel = match.group("channel")
        if channel is None:
            orphans.setdefault(entry.thread, []).append(line)
            continue
        current = open_calls.get(channel)
        starts = line.sent and text.startswith(("agi_request: ", "agi_network: "))
        if current is not None and current.completed and not starts:
            continue  # after the end of the AGI: Asterisk's final HANGUP notice
        if current is None or (starts and _environment_done(current)):
            current = LoggedCall(channel)
            current.lines.extend(orphans.pop(entry.thread, []))
            open_calls[channel] = current
            calls.append(current)
        current.lines.append(line)
    return calls


def _environment_done(call: LoggedCall) -> bool:
    return any(line.sent and line.text == "" for line in call.lines)


def select_call(calls: Sequence[LoggedCall], channel: str | None = None) -> LoggedCall:
    """The one session ``channel`` names, or the only one in ``calls``.

    ``channel`` is a channel name, a unique ID (``agi_uniqueid``) or part of a channel name;
    when it names several sessions (a channel that ran ``AGI()`` twice), ``#N`` after it picks
    the N-th (from 1): ``"PJSIP/alice-00000001#2"``. Raises :class:`DebugLogError`, listing the
    sessions, when none or several match.
    """
    if not calls:
        raise DebugLogError(
            "no AGI session in the log: turn AGI debugging on (agi set debug on) and look for "
            "'AGI Tx >>' lines"
        )
    if channel is None:
        if len(calls) == 1:
            return calls[0]
        raise DebugLogError(
            f"the log holds {len(calls)} AGI sessions; choose one by channel or unique ID:\n"
            + _listing(calls)
        )
    name, _, number = channel.rpartition("#") if "#" in channel else (channel, "", "")
    if number and not number.isdigit():
        name, number = channel, ""
    for test in (
        lambda call: call.channel == name or call.uniqueid == name,
        lambda call: name in call.channel,
    ):
        found = [call for call in calls if test(call)]
        if found:
            break
    else:
        raise DebugLogError(f"no AGI session of {name!r} in the log; it holds:\n{_listing(calls)}")
    if number:
        index = int(number)
        if not 1 <= index <= len(found):
            raise DebugLogError(f"{name!r} has {len(found)} session(s), not #{index}")
        return found[index - 1]
    if len(found) > 1:
        raise DebugLogError(
            f"{name!r} matches {len(found)} AGI sessions; add #N to pick one, or give the whole "
            f"channel name:\n" + _listing(found)
        )
    return found[0]


def _listing(calls: Iterable[LoggedCall]) -> str:
    return "\n".join("  " + call.describe() for call in calls)
