"""A script from a recorded transcript (the reference transcripts' format, or the fake's own).

Format, one entry a line: ``+<seconds> << <line>`` (Asterisk to the AGI), ``+<seconds> >> <line>``
(the AGI to Asterisk), ``+<seconds> ## <note>``. A line shown escaped carries its exact bytes as
``[shown escaped: ... exact bytes = b'...']``. Other lines (comments, headings) are ignored.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field, replace

from ..transcript import show
from ._fake_script import NO_REPLY, Expect, Hangup, Step, expect, hangup, send_raw

_ENTRY = re.compile(r"^\s*\+-?\d+(?:\.\d+)?\s(<<|>>|##)(?: (.*))?$")
#: Where a line shown escaped says what its exact bytes are (the literal runs to the final "]").
_EXACT = re.compile(r"\s+\[shown escaped[^\]]*?exact bytes = (?=b['\"])")
#: Environment lines the fake derives from the transport, not from the recording.
_TRANSPORT_KEYS = ("agi_network", "agi_network_script", "agi_request", "agi_enhanced")
#: Notes saying Asterisk's side of the stream is gone: what the AGI sent afterwards went nowhere.
_CLOSED = re.compile(r"\bEOF\b|reset by peer|closed the (AGI )?connection", re.IGNORECASE)


@dataclass
class Recording:
    """What a transcript holds: the environment it started with and the script it implies."""

    env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    network: bool = False
    request: str = ""
    #: Recorded under EAGI (``agi_enhanced: 1.0``); the audio itself is not in a transcript.
    enhanced: bool = False


def _data(rest: str) -> bytes:
    """The exact bytes of an entry's line (without its LF).

    The line's own text may hold something like the marker: the marker taken is the one whose
    literal reads as bytes that show as the text before it, else the first whose literal reads.
    """
    found = None
    if rest.endswith("]"):
        for marker in _EXACT.finditer(rest):
            try:
                value = ast.literal_eval(rest[marker.end() : -1])
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                continue
            if not isinstance(value, bytes):
                continue
            line = value[:-1] if value.endswith(b"\n") else value
            if show(line, len(line) + 1) == rest[: marker.start()]:
                return line
            if found is None:
                found = line
    if found is not None:
        return found
    return rest.encode("utf-8", "surrogateescape")


def parse_transcript(text: str) -> Recording:
    """The environment and the steps that replay ``text``'s Asterisk side.

    Each ``>>`` line becomes an :func:`expect` of that command (matched by words), replied with
    the ``<<`` lines that followed it (:data:`NO_REPLY` when none did). A ``HANGUP`` line, or a
    note saying SIGHUP was received (or starting ``hangup:``, as Async AGI transcripts do),
    becomes ``hangup_before_reply`` when it came before the reply, and a :func:`hangup` step
    otherwise (a second one in a row, Asterisk's end-of-session notice, is dropped: the fake
    sends that itself). A note saying the stream ended (``EOF``,
    ``reset by peer``) ends the script: Asterisk never read what followed. Timing is not
    replayed.
    """
    recording = Recording()
    in_environment = True
    command: bytes | None = None
    reply: list[bytes] = []
    hangup_first = False
    last_was_hangup = False

    def flush() -> None:
        nonlocal command, reply, hangup_first
        if command is not None:
            recording.steps.append(
                expect(command, reply if reply else NO_REPLY, hangup_before_reply=hangup_first)
            )
        command, reply, hangup_first = None, [], False

    for raw in text.splitlines():
        match = _ENTRY.match(raw)
        if not match:
            continue
        direction, rest = match.group(1), match.group(2) or ""
        if in_environment:
            if direction == "<<":
                if rest == "":
                    in_environment = False
                    continue
                # A value that is not plain text (Latin-1, a tab) comes with its exact bytes.
                line = _data(rest).decode("utf-8", "surrogateescape")
                key, _, value = line.partition(": ")
                recording.env[key] = value
                continue
            if direction == ">>":
                in_environment = False  # commands sent before the environment was complete
        data = _data(rest)
        is_hangup = (direction == "<<" and data == b"HANGUP") or (
            direction == "##" and ("SIGHUP received" in rest or rest.startswith("hangup:"))
        )
        if is_hangup:
            if command is not None and not reply:
                hangup_first = True
            elif not last_was_hangup:
                flush()
                recording.steps.append(hangup())
            last_was_hangup = True
            continue
        if direction == "##":
            if _CLOSED.search(rest):
                break
            continue
        last_was_hangup = False
        if direction == ">>":
            flush()
            command = data
        elif command is not None:
            reply.append(data)
        else:
            recording.steps.append(send_raw(data + b"\n"))
    flush()
    recording.steps = _optional_probes(recording.steps)
    env = recording.env
    recording.network = env.get("agi_network") == "yes"
    recording.request = env.get("agi_request", "")
    recording.enhanced = env.get("agi_enhanced") == "1.0"
    numbered = sorted(
        (int(key[8:]), value)
        for key, value in env.items()
        if key.startswith("agi_arg_") and key[8:].isdigit()
    )
    recording.args = [value for _, value in numbered]
    recording.env = {
        key: value
        for key, value in env.items()
        if key not in _TRANSPORT_KEYS and not key.startswith("agi_arg_")
    }
    return recording


def _optional_probes(steps: list[Step]) -> list[Step]:
    """Make agikit's hangup probe optional where timing decided whether it was sent.

    After a live-channel command fails (``result=-1``) and the hangup is notified after the
    reply, agikit sends a ``NOOP`` only if it has not handled the notification yet (SIGHUP runs
    on another thread than the one reading replies, a ``HANGUP`` line may come in a later
    read). A replay may go either way, whatever the recording did: the ``NOOP`` after such a
    failure and hangup is optional, and one is added where the recording has none.
    """
    out: list[Step] = []
    index = 0
    while index < len(steps):
        step = steps[index]
        out.append(step)
        index += 1
        if not (
            isinstance(step, Expect)
            and isinstance(step.reply, tuple)
            and step.reply[-1:] != ()
            and step.reply[-1].startswith(b"200 result=-1")
            and index < len(steps)
            and isinstance(steps[index], Hangup)
        ):
            continue
        out.append(steps[index])
        index += 1
        following = steps[index] if index < len(steps) else None
        if isinstance(following, Expect) and following.command == b"NOOP":
            out.append(replace(following, optional=True))
            index += 1
        else:
            out.append(expect("NOOP", optional=True))
    return out
