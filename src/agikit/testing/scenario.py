"""What happens on a simulated call: the fake Asterisk's answers to commands a script leaves open.

A :class:`Scenario` describes the call rather than the conversation: the keys the caller
presses, the channel variables and AstDB entries Asterisk holds, the commands that fail, and
when the caller hangs up. The fake Asterisk asks it for the reply to every command whose step
has none (and to every command :func:`~agikit.testing.fake.expect_rest` accepts)::

    from agikit.testing.fake import FakeAsterisk, expect_rest
    from agikit.testing.scenario import Scenario

    fake = FakeAsterisk(
        [expect_rest()],
        scenario=Scenario(
            digits="2 1234#",                      # a menu choice, then an account number
            variables={"CALLERID(num)": "5551234"},
            database={"blocked/5550000": "1"},
            fail=["STREAM FILE promo"],            # a missing sound file
            hangup_after=6,                        # the caller hangs up after the 6th command
        ),
    )

Keys (``digits``) go, in order, to the first command that accepts them:

- ``WAIT FOR DIGIT`` takes one key;
- ``GET DATA`` takes keys up to ``#`` (which ends the input and is not part of it) or up to its
  maximum number of digits; if the keys run out first, or a pause comes, it reports a timeout
  with what it got;
- ``STREAM FILE``, ``CONTROL STREAM FILE``, ``GET OPTION``, the ``SAY`` commands and
  ``RECORD FILE`` stop at the next key when it is one of their escape digits (and take it);
  otherwise they play to the end and leave it for a later command.

Two marks shape the timing: a space is a pause between keys (it ends the input of a ``GET
DATA`` that has keys already, and is passed over otherwise: ``"1 123456#"`` is a menu choice,
then an account number); a ``.`` is a timeout: the next command listening for keys hears
nothing (``WAIT FOR DIGIT`` returns no key, ``GET DATA`` times out with what it has, a
``STREAM FILE`` with escape digits plays to the end). ``".5"``: the first ``WAIT FOR DIGIT``
times out, the second gets 5. Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ..commands import Command, find_command
from ..protocol.quoting import split_command_line, to_bytes
from ._fake_script import Raw, ReplySpec, Responder, Response, ScriptError, _reply_lines

__all__ = ["Scenario", "ScenarioState"]

#: Keys a caller can press (DTMF), the pause and the timeout.
_KEYS = frozenset("0123456789*#ABCD .")
#: Commands that stop at one of their escape digits; the value is where the escape digits are
#: among the arguments (0: first argument after the command words).
_ESCAPE_ARGUMENT = {
    "STREAM FILE": 1,
    "CONTROL STREAM FILE": 1,
    "GET OPTION": 1,
    "SAY ALPHA": 1,
    "SAY DIGITS": 1,
    "SAY NUMBER": 1,
    "SAY PHONETIC": 1,
    "SAY DATE": 1,
    "SAY TIME": 1,
    "SAY DATETIME": 1,
    "RECORD FILE": 2,
}
#: Asterisk's reply when the command fails on a live channel (missing file, unknown
#: application ...), for the commands whose failure is not simply ``200 result=-1``.
_FAILURE_REPLIES: dict[str, tuple[bytes, ...]] = {
    "STREAM FILE": (b"200 result=-1 endpos=0",),
    "GET OPTION": (b"200 result=-1 endpos=0",),
    "CONTROL STREAM FILE": (b"200 result=-1 endpos=-1",),
    "RECORD FILE": (b"200 result=-1 (writefile)",),
    "EXEC": (b"200 result=-2",),
    "GOSUB": (b"200 result=-1 Gosub label not found",),
    "DATABASE GET": (b"200 result=0",),
    "DATABASE PUT": (b"200 result=0",),
    "DATABASE DEL": (b"200 result=0",),
    "DATABASE DELTREE": (b"200 result=1",),
    "SPEECH CREATE": (b"200 result=0",),
    "SPEECH RECOGNIZE": (b"200 result=0",),
}
#: What Asterisk 22 answers to a command running when the caller hangs up (checked on the real
#: one; the others that need a live channel answer ``200 result=-1``).
_HANGUP_REPLIES: dict[str, tuple[bytes, ...]] = {
    "STREAM FILE": (b"200 result=-1 endpos=0",),
    "GET OPTION": (b"200 result=-1 endpos=0",),
    "CONTROL STREAM FILE": (b"200 result=-1 endpos=0",),
    "RECORD FILE": (b"200 result=-1 (hangup) endpos=0",),
    "RECEIVE CHAR": (b"200 result=-1 (hangup)",),
    "GOSUB": (b"100 result=0 Trying...", b"200 result=0 Gosub complete (abnormal exit)"),
    "EXEC": (b"200 result=-1",),
}
_VARIABLE = re.compile(r"\$\{([^${}]*)\}")

#: A reply given in :attr:`Scenario.replies`: a reply as a step takes it, or a function of the
#: command line returning one.
ScenarioReply = ReplySpec | Callable[[str], ReplySpec]


@dataclass(frozen=True)
class Scenario:
    """What happens on a simulated call; the fake Asterisk plays it (see the module docstring).

    ``digits``: the keys the caller presses, in order (``0-9 * # A-D``; a space is a pause, a
    ``.`` a timeout).
    ``variables``: channel variables (and functions, ``"CALLERID(num)"``) that ``GET VARIABLE``
    reads and ``GET FULL VARIABLE`` expands (``${NAME}``); ``SET VARIABLE`` sets them.
    ``database``: AstDB entries, ``{"family/key": "value"}``, for the ``DATABASE`` commands.
    ``replies``: replies by command, ``{"EXEC Dial": "200 result=-1"}``: the key is the start
    of a command line, matched by words (command words in any case); the longest matching key
    wins; the value is a reply as :func:`~agikit.testing.fake.expect` takes it, or a function
    of the command line returning one. ``fail``: starts of command lines that fail, answered
    as Asterisk answers a missing file or an unknown application (``200 result=-1 endpos=0``
    for ``STREAM FILE``, ``200 result=-2`` for ``EXEC`` ...).
    ``hangup_after=N``: the caller hangs up after the Nth command (counting every command the
    AGI sends, from 1); ``hangup_during=N``: while the Nth command runs (it is answered as
    Asterisk answers a command interrupted by a hangup, e.g. ``200 result=-1``).
    """

    digits: str = ""
    variables: Mapping[str, str] = field(default_factory=dict)
    database: Mapping[str, str] = field(default_factory=dict)
    replies: Mapping[str, ScenarioReply] = field(default_factory=dict)
    fail: Sequence[str] = ()
    hangup_after: int | None = None
    hangup_during: int | None = None

    def __post_init__(self) -> None:
        bad = sorted(set(self.digits) - _KEYS)
        if bad:
            raise ScriptError(
                f"digits {self.digits!r}: {bad[0]!r} is not a key "
                "(0-9 * # A-D; a space: a pause; '.': a timeout)"
            )
        if isinstance(self.fail, str):
            raise ScriptError("fail is a list of command lines' starts, not one string")
        for name in ("hangup_after", "hangup_during"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ScriptError(f"{name} counts commands from 1: {value!r}")
        for key in self.database:
            if "/" not in key:
                raise ScriptError(f"database key {key!r}: write it 'family/key'")
        for prefix in [*self.replies, *self.fail]:
            if not split_command_line(to_bytes(prefix)):
                raise ScriptError(f"an empty command in replies or fail: {prefix!r}")
        # Check the replies now, where the mistake is, not when a command asks for one.
        for reply in self.replies.values():
            if not callable(reply):
                _reply_lines(reply)

    def start(self) -> ScenarioState:
        """A fresh state of this scenario for one session (what the fake Asterisk calls)."""
        return ScenarioState(self)


class ScenarioState(Responder):
    """One session's state of a :class:`Scenario`: keys left, variables and AstDB as they are.

    After the session, :attr:`variables` and :attr:`database` hold what the AGI set, and
    :attr:`digits` the keys no command took.
    """

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.digits = scenario.digits
        self.variables: dict[str, str] = dict(scenario.variables)
        self.database: dict[str, str] = dict(scenario.database)
        #: How many commands the AGI has sent.
        self.count = 0
        self._replies = [(_prefix(key), value) for key, value in scenario.replies.items()]
        self._fail = [_prefix(key) for key in scenario.fail]

    def respond(self, words: Sequence[bytes], *, dead: bool) -> Response | None:
        self.count += 1
        hangup = None
        if not dead:
            if self.scenario.hangup_during == self.count:
                hangup = "during"
            elif self.scenario.hangup_after == self.count:
                hangup = "after"
        command = find_command(words)
        args = [_text(word) for word in words[len(command.words) :]] if command else []
        lines = self._reply(words, command, args, dead=dead, during=hangup == "during")
        if lines is None and hangup is None:
            return None
        return Response(lines, hangup)

    # ------------------------------------------------------------------ replies

    def _reply(
        self,
        words: Sequence[bytes],
        command: Command[object] | None,
        args: list[str],
        *,
        dead: bool,
        during: bool,
    ) -> tuple[bytes, ...] | Raw | None:
        given = self._given(words)
        if given is not None:
            return given
        if command is None or (dead and not command.dead_ok):
            return None  # 510, or 511 on a dead channel: Asterisk's defaults
        name = command.name
        if during and (not command.dead_ok or name in _HANGUP_REPLIES):
            return _HANGUP_REPLIES.get(name, (b"200 result=-1",))
        if any(_starts(words, prefix) for prefix in self._fail):
            return _FAILURE_REPLIES.get(name, (b"200 result=-1",))
        return self._simulate(name, args)

    def _given(self, words: Sequence[bytes]) -> tuple[bytes, ...] | Raw | None:
        best: tuple[int, ScenarioReply] | None = None
        for prefix, reply in self._replies:
            if _starts(words, prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), reply)
        if best is None:
            return None
        reply = best[1]
        if callable(reply):
            reply = reply(" ".join(_text(word) for word in words))
        lines = _reply_lines(reply)
        return lines

    def _simulate(self, name: str, args: list[str]) -> tuple[bytes, ...] | None:
        if name == "WAIT FOR DIGIT":
            key = self._take_key(None)
            return _line(f"200 result={_code(key)}")
        if name == "GET DATA":
            return _line(self._get_data(args))
        if name in _ESCAPE_ARGUMENT:
            index = _ESCAPE_ARGUMENT[name]
            escape = args[index] if index < len(args) else ""
            key = self._take_key(escape)
            code = _code(key)
            if name == "RECORD FILE":
                return _line(f"200 result={code} (dtmf) endpos=0") if key else None
            if name.startswith("SAY "):
                return _line(f"200 result={code}")
            if key is None:
                return None
            return _line(f"200 result={code} endpos=0")
        if name == "GET VARIABLE":
            value = self.variables.get(args[0]) if args else None
            return _line("200 result=0" if value is None else f"200 result=1 ({value})")
        if name == "GET FULL VARIABLE":
            expression = args[0] if args else ""
            expanded = _VARIABLE.sub(lambda m: self.variables.get(m.group(1), ""), expression)
            return _line(f"200 result=1 ({expanded})")
        if name == "SET VARIABLE":
            if len(args) >= 2:
                self.variables[args[0]] = args[1]
            return None
        if name.startswith("DATABASE "):
            return self._database(name, args)
        return None

    def _get_data(self, args: list[str]) -> str:
        maximum = 1024
        if len(args) >= 3 and args[2].lstrip("-").isdigit() and int(args[2]) > 0:
            maximum = int(args[2])
        got = ""
        while len(got) < maximum:
            if not self.digits:
                return f"200 result={got} (timeout)"
            key, self.digits = self.digits[0], self.digits[1:]
            if key == " ":
                if got:
                    return f"200 result={got} (timeout)"
                continue
            if key == ".":
                return f"200 result={got} (timeout)"
            if key == "#":
                return f"200 result={got}"
            got += key
        return f"200 result={got}"

    def _take_key(self, escape: str | None) -> str | None:
        """The next key for a command listening for ``escape`` (``None``: any key)."""
        self.digits = self.digits.lstrip(" ")
        if not self.digits:
            return None
        key = self.digits[0]
        if key == ".":
            if escape is None or escape:
                self.digits = self.digits[1:]  # the timeout passes while this command listens
            return None
        if escape is not None and key not in escape:
            return None
        self.digits = self.digits[1:]
        return key

    def _database(self, name: str, args: list[str]) -> tuple[bytes, ...] | None:
        if len(args) < 2 and name != "DATABASE DELTREE":
            return None
        if name == "DATABASE GET":
            value = self.database.get(f"{args[0]}/{args[1]}")
            return _line("200 result=0" if value is None else f"200 result=1 ({value})")
        if name == "DATABASE PUT":
            if len(args) >= 3:
                self.database[f"{args[0]}/{args[1]}"] = args[2]
            return None
        if name == "DATABASE DEL":
            self.database.pop(f"{args[0]}/{args[1]}", None)
            return _line("200 result=1")
        if name == "DATABASE DELTREE" and args:
            tree = args[0] + "/" + (args[1] + "/" if len(args) > 1 and args[1] else "")
            doomed = [key for key in self.database if key.startswith(tree)]
            for key in doomed:
                del self.database[key]
            return _line("200 result=0" if doomed else "200 result=1")
        return None


def _line(text: str) -> tuple[bytes, ...]:
    return (text.encode("utf-8", "surrogateescape"),)


def _code(key: str | None) -> int:
    return 0 if key is None else ord(key)


def _text(word: bytes) -> str:
    return word.decode("utf-8", "surrogateescape")


def _prefix(text: str) -> list[bytes]:
    return split_command_line(to_bytes(text))


def _starts(words: Sequence[bytes], prefix: Sequence[bytes]) -> bool:
    """True when ``prefix`` starts ``words``: command words in any case, arguments exactly."""
    if len(prefix) > len(words):
        return False
    command = find_command(words)
    fold = len(command.words) if command is not None else 0
    for index, (want, got) in enumerate(zip(prefix, words, strict=False)):
        if index < fold:
            if want.upper() != got.upper():
                return False
        elif want != got:
            return False
    return True
