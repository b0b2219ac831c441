"""The fake Asterisk's script: steps, replies, command matching and Asterisk's default replies.

A script is a list of steps built with :func:`expect`, :func:`expect_any`, :func:`expect_rest`,
:func:`hangup`, :func:`send_raw`, :func:`pause`, :func:`close_stream` and :func:`end_session`.
Steps are immutable values; one script can be run any number of times, over any transport.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..commands import find_command
from ..protocol.quoting import split_command_line, to_bytes
from ..transcript import show

#: What Asterisk answers to a command it does not know (or a command whose module is not loaded).
INVALID_COMMAND = "510 Invalid or unknown command"
#: What Asterisk answers, on a dead channel, to every command not allowed there.
DEAD_CHANNEL = "511 Command Not Permitted on a dead channel or intercept routine"
#: Asterisk's reply to wrong arguments for a command without usage text (two spaces: sic).
USAGE_NOT_AVAILABLE = "520 Invalid command syntax.  Proper usage not available."

_USAGE_FIRST = b"520-Invalid command syntax.  Proper usage follows:"
_USAGE_LAST = b"520 End of proper usage."


class ScriptError(ValueError):
    """A script that cannot be run as written (raised when the script is built)."""


@dataclass(frozen=True, slots=True)
class Raw:
    """Bytes the fake sends exactly as given, with no LF added.

    For replies Asterisk would never send: a truncated reply (``Raw(b"200 res")`` then
    :func:`close_stream`), garbage, a line without its LF. ``Raw(b"")`` sends nothing at all.
    """

    data: bytes


#: A reply that sends nothing, like a ``STREAM FILE`` interrupted by the next command line.
NO_REPLY = Raw(b"")

#: What a step's ``reply`` may be: a line (``str`` or ``bytes``, LF added; an embedded LF makes
#: several lines), a sequence of lines, :class:`Raw` bytes, or ``None`` for Asterisk's default.
ReplySpec = str | bytes | Sequence[str | bytes] | Raw | None


def usage_reply(usage: str | bytes = "Usage text.") -> tuple[bytes, ...]:
    """The multi-line ``520`` block Asterisk sends for wrong arguments, around ``usage``.

    ``expect("STREAM FILE", reply=usage_reply("Send the given file..."))``.
    """
    return (_USAGE_FIRST, *to_bytes(usage).split(b"\n"), _USAGE_LAST)


def _reply_lines(reply: ReplySpec) -> tuple[bytes, ...] | Raw | None:
    if reply is None or isinstance(reply, Raw):
        return reply
    if isinstance(reply, str | bytes):
        data = to_bytes(reply)
        if data.endswith(b"\n"):
            data = data[:-1]
        return tuple(data.split(b"\n"))
    lines = tuple(to_bytes(line) for line in reply)
    if not lines:
        raise ScriptError("an empty list of reply lines sends nothing: use NO_REPLY to mean that")
    return lines


def reply_chunks(lines: tuple[bytes, ...] | Raw) -> list[bytes]:
    """The writes that send a reply: one per line, each with its LF (Asterisk's own framing)."""
    if isinstance(lines, Raw):
        return [lines.data] if lines.data else []
    return [line + b"\n" for line in lines]


@dataclass(frozen=True, slots=True)
class Response:
    """What a responder (a :class:`~agikit.testing.scenario.Scenario` in play) answers to a command.

    ``lines`` is the reply (``None``: the script's reply, else Asterisk's default).
    ``hangup`` says when the caller hangs up around this command: ``"during"`` (while it ran:
    ``lines`` is then what Asterisk answers to an interrupted command), ``"after"`` (between
    this command and the next), or ``None``. Either way a FastAGI ``HANGUP`` line follows the
    reply and a process AGI's SIGHUP precedes it (see ``Engine._answer``).
    """

    lines: tuple[bytes, ...] | Raw | None = None
    hangup: str | None = None


class Responder:
    """Answers the commands a script leaves open, keeping state across one session.

    The engine calls :meth:`respond` for every command it receives, including those whose
    step has a reply of its own (the responder then still sees the command: a
    ``SET VARIABLE`` updates its variables), with the command's words and whether the channel
    is dead.
    """

    def respond(self, words: Sequence[bytes], *, dead: bool) -> Response | None:
        raise NotImplementedError


class Step:
    """One step of a fake Asterisk's script. Build steps with the functions of this module."""

    __slots__ = ()

    def describe(self) -> str:
        """A short description for messages, e.g. ``expect 'ANSWER'``."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Expect(Step):
    """Wait for one command line from the AGI, check it, and reply (see :func:`expect`)."""

    command: bytes | None
    exact: bool = False
    reply: tuple[bytes, ...] | Raw | None = None
    hangup_before_reply: bool = False
    delay: float = 0.0
    timeout: float | None = None
    optional: bool = False

    def describe(self) -> str:
        if self.command is None:
            return "expect any command"
        maybe = "maybe " if self.optional else ""
        return f"{maybe}expect {'exactly ' if self.exact else ''}'{show(self.command)}'"

    def mismatch(self, line: bytes) -> str | None:
        """``None`` when ``line`` is the expected command, else what differs (may be multi-line)."""
        if self.command is None or line == self.command:
            return None
        if self.exact:
            return _byte_difference(self.command, line)
        return _word_difference(self.command, line)


@dataclass(frozen=True, slots=True)
class ExpectRest(Step):
    """Answer every further command with its default reply until the AGI closes the stream."""

    timeout: float | None = None

    def describe(self) -> str:
        return "expect the rest (any commands until the AGI closes)"


@dataclass(frozen=True, slots=True)
class Hangup(Step):
    """The caller hangs up and Asterisk notices it now (see :func:`hangup`)."""

    delay: float = 0.0

    def describe(self) -> str:
        return "hangup" + (f" after {self.delay:g} s" if self.delay else "")


@dataclass(frozen=True, slots=True)
class SendRaw(Step):
    """Write bytes to the AGI exactly as given (see :func:`send_raw`)."""

    data: bytes

    def describe(self) -> str:
        return f"send raw '{show(self.data, 60)}'"


@dataclass(frozen=True, slots=True)
class Pause(Step):
    """Do nothing for a while (see :func:`pause`)."""

    seconds: float

    def describe(self) -> str:
        return f"pause {self.seconds:g} s"


@dataclass(frozen=True, slots=True)
class CloseStream(Step):
    """Close Asterisk's side of the stream without any notification (see :func:`close_stream`)."""

    reset: bool = False

    def describe(self) -> str:
        return "close the stream" + (" with a reset" if self.reset else "")


@dataclass(frozen=True, slots=True)
class EndSession(Step):
    """End the session as Asterisk does: notification, then close (see :func:`end_session`)."""

    def describe(self) -> str:
        return "end the session"


def expect(
    command: str | bytes,
    reply: ReplySpec = None,
    *,
    exact: bool = False,
    hangup_before_reply: bool = False,
    delay: float = 0.0,
    timeout: float | None = None,
    optional: bool = False,
) -> Expect:
    """Expect the AGI's next command to be ``command``, and answer it with ``reply``.

    By default the lines are compared the way Asterisk reads them: both are split into words
    with Asterisk's own tokenizer, the command words (``STREAM FILE``) compare case-insensitively
    and the arguments exactly, so ``SET VARIABLE X "a b"`` matches ``set variable X a\\ b``.
    ``exact=True`` compares the bytes of the line instead (without its LF).

    ``reply`` is a line such as ``"200 result=0 endpos=8000"`` (the LF is added), several lines
    (a list, or one string with LFs, e.g. :func:`usage_reply`), ``bytes`` for replies that are
    not valid UTF-8, :class:`Raw` bytes sent exactly as given, or :data:`NO_REPLY`. Without a
    reply the fake answers as Asterisk 22 would answer when nothing happens on the call: see
    :func:`default_reply`, ``510`` for unknown commands and ``511`` on a dead channel.

    ``hangup_before_reply=True``: the caller hangs up as the command arrives, and the
    notification (the ``HANGUP`` line or SIGHUP) goes out before the reply, which is then ``511``
    by default. ``delay`` waits before replying (a command that takes time); ``timeout``
    overrides the fake's timeout for receiving this command. ``optional=True``: the AGI may
    leave this command out (agikit's hangup probe, a ``NOOP`` it sends only when it has not yet
    learnt of a hangup): when another command or the end of the stream comes instead, the step
    is passed over and what came goes to the next step.
    """
    data = to_bytes(command)
    if data.endswith(b"\n"):
        data = data[:-1]
    return Expect(data, exact, _reply_lines(reply), hangup_before_reply, delay, timeout, optional)


def expect_any(
    reply: ReplySpec = None,
    *,
    hangup_before_reply: bool = False,
    delay: float = 0.0,
    timeout: float | None = None,
) -> Expect:
    """Expect one command, whatever it is, and answer it (see :func:`expect` for the options)."""
    return Expect(None, False, _reply_lines(reply), hangup_before_reply, delay, timeout)


def expect_rest(*, timeout: float | None = None) -> ExpectRest:
    """Accept any further commands, with default replies, until the AGI closes the stream.

    Only as the last step. Useful when a test cares about the start of a call only, or about
    what happens up to a hangup and not about the cleanup after it.
    """
    return ExpectRest(timeout)


def hangup(*, delay: float = 0.0) -> Hangup:
    """The caller hangs up here, between commands, and Asterisk notices it.

    After ``delay`` seconds (the AGI may send its next command meanwhile, as with a real call),
    Asterisk notifies the AGI: a ``HANGUP`` line over FastAGI, SIGHUP for process AGI, nothing
    when the fake runs with ``agisighup=False``. The channel is dead from then on: commands not
    allowed on a dead channel get ``511`` unless a step says otherwise. With
    ``exit_on_hangup=True`` the session then ends (Asterisk closes the stream). A second hangup
    when the channel is already hung up sends nothing (Asterisk notices a hangup once): use
    ``send_raw(b"HANGUP\\n")`` to send a duplicate notice.
    """
    return Hangup(delay)


def send_raw(data: str | bytes) -> SendRaw:
    """Write ``data`` to the AGI exactly as given, between commands (nothing is added).

    For input Asterisk does not send on its own: a stray line, a ``HANGUP`` notice twice,
    invalid UTF-8, a 1 MiB line (``send_raw(b"x" * 2**20 + b"\\n")``), half a reply.
    """
    return SendRaw(to_bytes(data))


def pause(seconds: float) -> Pause:
    """Wait ``seconds`` before the next step, sending and reading nothing."""
    return Pause(seconds)


def close_stream(*, reset: bool = False) -> CloseStream:
    """Close Asterisk's side now, with no notification: a crash, or a peer gone mid-reply.

    ``reset=True`` (FastAGI only) closes the socket with a TCP reset, so the AGI's next read or
    write fails with ``ConnectionResetError`` instead of seeing a clean end of stream. Must be the
    last step.
    """
    return CloseStream(reset)


def end_session() -> EndSession:
    """End the session as Asterisk does after a ``failure`` line or with AGIEXITONHANGUP.

    The end-of-session notification (a ``HANGUP`` line over FastAGI, SIGHUP to a process AGI
    still running; none with ``agisighup=False``), then Asterisk closes the stream. Must be the
    last step.
    """
    return EndSession()


def check_script(steps: Sequence[Step]) -> None:
    """Raise :class:`ScriptError` for steps that cannot run as written."""
    for number, step in enumerate(steps, 1):
        if not isinstance(step, Step):
            raise ScriptError(f"step {number} is not a step: {step!r}")
        last = number == len(steps)
        if isinstance(step, ExpectRest | CloseStream | EndSession) and not last:
            raise ScriptError(
                f"step {number} ({step.describe()}) ends the session, so it must be the last "
                f"step; step {number + 1} is {steps[number].describe()}"
            )


# -------------------------------------------------------------------------------- matching


def is_failure_line(line: bytes) -> bool:
    """Asterisk ends the session on any line whose first 7 bytes are ``failure`` (any case)."""
    return line[:7].lower() == b"failure"


def command_word_count(words: Sequence[bytes]) -> int:
    """How many of ``words`` are the command's own words (0 for an unknown command)."""
    command = find_command(words)
    return 0 if command is None else len(command.words)


def _word_difference(expected: bytes, received: bytes) -> str | None:
    want, got = split_command_line(expected), split_command_line(received)
    fold = command_word_count(want)
    same = len(want) == len(got) and all(
        (w.upper() == g.upper()) if index < fold else (w == g)
        for index, (w, g) in enumerate(zip(want, got, strict=True))
    )
    if same:
        return None
    lines = [
        f"expected words: {_show_words(want)}",
        f"received words: {_show_words(got)}",
    ]
    for index in range(max(len(want), len(got))):
        w = want[index] if index < len(want) else None
        g = got[index] if index < len(got) else None
        if w is None or g is None or (w.upper() != g.upper() if index < fold else w != g):
            kind = "command word" if index < fold else "argument"
            lines.append(
                f"first difference: word {index + 1} ({kind}): "
                f"expected {_show_word(w)}, received {_show_word(g)}"
            )
            break
    lines.extend(_hints(received))
    return "\n".join(lines)


def _byte_difference(expected: bytes, received: bytes) -> str:
    index = next(
        (i for i, (a, b) in enumerate(zip(expected, received, strict=False)) if a != b),
        min(len(expected), len(received)),
    )
    lines = [f"first difference at byte {index + 1} (exact match)"]
    lines.extend(_hints(received))
    return "\n".join(lines)


def _hints(received: bytes) -> list[str]:
    hints = []
    if received.endswith(b"\r"):
        hints.append("hint: the line ends with CR; Asterisk keeps it as part of the last word")
    if is_failure_line(received):
        hints.append("hint: a line starting with 'failure' ends the AGI session")
    return hints


def _show_word(word: bytes | None) -> str:
    return "nothing" if word is None else f"'{show(word, 80)}'"


def _show_words(words: Sequence[bytes]) -> str:
    return "[" + ", ".join(f"'{show(word, 80)}'" for word in words) + "]"


# -------------------------------------------------------------------------------- defaults

#: What the fake answers by default, per command name: Asterisk 22's reply when the command
#: succeeds and nothing happens on the call (no digit pressed, variables unset, no text received).
DEFAULT_REPLIES: dict[str, tuple[bytes, ...]] = {
    "ANSWER": (b"200 result=0",),
    "ASYNCAGI BREAK": (b"200 result=0",),
    "CHANNEL STATUS": (b"200 result=6",),  # 6 = Up
    "CONTROL STREAM FILE": (b"200 result=0 endpos=-1",),  # ms; -1 = end of file
    "DATABASE DEL": (b"200 result=1",),
    "DATABASE DELTREE": (b"200 result=0",),  # inverted: 0 = something was deleted
    "DATABASE GET": (b"200 result=0",),  # no such key
    "DATABASE PUT": (b"200 result=1",),
    "EXEC": (b"200 result=0",),
    "GET DATA": (b"200 result= (timeout)",),  # no digits before the timeout
    "GET FULL VARIABLE": (b"200 result=1 ()",),  # an empty expansion
    "GET OPTION": (b"200 result=0 endpos=0",),
    "GET VARIABLE": (b"200 result=0",),  # not set
    "GOSUB": (b"100 result=0 Trying...", b"200 result=0 Gosub complete"),
    "HANGUP": (b"200 result=1",),
    "NOOP": (b"200 result=0",),
    "RECEIVE CHAR": (b"200 result=-1 (hangup)",),  # what a timeout gives in 22.10.1
    "RECEIVE TEXT": (b"200 result=-1",),  # timeout
    "RECORD FILE": (b"200 result=0 (timeout) endpos=0",),
    "SAY ALPHA": (b"200 result=0",),
    "SAY DATE": (b"200 result=0",),
    "SAY DATETIME": (b"200 result=0",),
    "SAY DIGITS": (b"200 result=0",),
    "SAY NUMBER": (b"200 result=0",),
    "SAY PHONETIC": (b"200 result=0",),
    "SAY TIME": (b"200 result=0",),
    "SEND IMAGE": (b"200 result=0",),
    "SEND TEXT": (b"200 result=0",),
    "SET AUTOHANGUP": (b"200 result=0",),
    "SET CALLERID": (b"200 result=1",),
    "SET CONTEXT": (b"200 result=0",),
    "SET EXTENSION": (b"200 result=0",),
    "SET MUSIC": (b"200 result=0",),
    "SET PRIORITY": (b"200 result=0",),
    "SET VARIABLE": (b"200 result=1",),
    "SPEECH ACTIVATE GRAMMAR": (b"200 result=1",),
    "SPEECH CREATE": (b"200 result=1",),
    "SPEECH DEACTIVATE GRAMMAR": (b"200 result=1",),
    "SPEECH DESTROY": (b"200 result=1",),
    "SPEECH LOAD GRAMMAR": (b"200 result=1",),
    "SPEECH RECOGNIZE": (b"200 result=1 (timeout) endpos=0",),
    "SPEECH SET": (b"200 result=1",),
    "SPEECH UNLOAD GRAMMAR": (b"200 result=1",),
    "STREAM FILE": (b"200 result=0 endpos=0",),
    "TDD MODE": (b"200 result=0",),  # a channel without TDD support
    "VERBOSE": (b"200 result=1",),
    "WAIT FOR DIGIT": (b"200 result=0",),  # timeout, no digit
}


def default_reply(words: Sequence[bytes], *, dead: bool) -> tuple[bytes, ...]:
    """Asterisk 22's reply to a command (split into ``words``) when the script gives none.

    ``510`` for an unknown command (also on a dead channel), ``511`` on a dead channel for the
    commands not allowed there, otherwise the command's entry in :data:`DEFAULT_REPLIES`.
    Which commands exist and which run on a dead channel is :mod:`agikit.commands`' call
    (:func:`~agikit.commands.find_command`). Arguments are not checked: script a
    :func:`usage_reply` to test a ``520``.
    """
    command = find_command(words)
    if command is None:
        return (INVALID_COMMAND.encode(),)
    if dead and not command.dead_ok:
        return (DEAD_CHANNEL.encode(),)
    return DEFAULT_REPLIES.get(command.name, (b"200 result=0",))
