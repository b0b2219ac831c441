"""agikit's errors and command results in one module.

Import the names from their public modules, :mod:`agikit.errors` and :mod:`agikit.results`
(each documents its part, and each name's ``__module__`` says where it belongs). They live
together here because process AGI imports them on every call, and each module costs its import
machinery on top of its code.

Like the protocol core, this module imports nothing at run time (not even ``__future__`` or
``typing``): process AGI pays for every import on every call.
"""

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs process AGI startup
if TYPE_CHECKING:
    from typing import Any, ClassVar

    from .protocol.replies import Reply


# ------------------------------------------------------------------------------------------------
# Errors (agikit.errors)
# ------------------------------------------------------------------------------------------------


class AGIError(Exception):
    """Base class of every agikit error."""


class ArgumentError(AGIError, ValueError):
    """A command argument cannot be represented on the AGI wire; nothing was sent."""


class ProtocolError(AGIError):
    """The peer broke the AGI protocol. The session cannot continue and should be closed."""


class ConnectionClosed(ProtocolError):
    """The peer closed the stream where more AGI data was expected."""


class CommandInFlight(AGIError, RuntimeError):
    """A command was started while another one on the same call still awaits its reply.

    AGI allows one command at a time per channel; pipelining desynchronises the stream.
    """


class CommandError(AGIError):
    """Asterisk answered a command with an error.

    ``command`` is the command line that was sent (without its LF), ``reply`` the reply exactly
    as received (``None`` when the error was known without asking Asterisk, e.g. a command that
    needs a live channel after the hangup was seen).
    """

    def __init__(self, message: str, *, command: str, reply: "Reply | None") -> None:
        super().__init__(message)
        self.command = command
        self.reply = reply

    def __reduce__(self) -> "tuple[object, ...]":
        # The default calls type(self)(*self.args), without the keyword-only arguments: copying
        # or pickling (multiprocessing, concurrent.futures) would raise TypeError. Rebuild
        # without __init__ and restore the attributes instead.
        return (_new_error, (type(self), *self.args), self.__dict__)

    def __str__(self) -> str:
        text = super().__str__()
        received = f"; Asterisk replied {self.reply.raw_text!r}" if self.reply is not None else ""
        return f"{text} (command {self.command!r}{received})"


class InvalidCommand(CommandError):
    """510: Asterisk does not know this command (or its module is not loaded)."""


class UsageError(CommandError):
    """520: Asterisk rejected the command's arguments."""

    @property
    def usage(self) -> str:
        """Asterisk's usage text for the command (empty when it sent none)."""
        return self.reply.usage if self.reply is not None else ""


class CommandFailed(CommandError):
    """The command ran but failed (for example ``result=-1``: file not found, unknown channel)."""


class Hangup(CommandError):
    """The channel is hung up, so the command could not run (511, or a failure after hangup)."""


def _new_error(cls: "type[CommandError]", *args: object) -> CommandError:
    return cls.__new__(cls, *args)


# ------------------------------------------------------------------------------------------------
# Results (agikit.results)
# ------------------------------------------------------------------------------------------------


class _Result:
    """Base of the result classes: immutable, compared and hashed by value, readable repr."""

    __slots__: tuple[str, ...] = ()
    #: The constructor's parameters, in order: what repr, ==, hash, copy and pickle use.
    _fields: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable (cannot set {name})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable (cannot delete {name})")

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({values})"

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), self._values())

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._values()))


_set = object.__setattr__


class StreamControl:
    """What a stream-control frame did to a playback (``result=1000`` ... ``1004``).

    Another interface (AMI ``ControlPlayback``, ARI) can send these frames to a channel; they
    interrupt ``WAIT FOR DIGIT``, ``STREAM FILE``, ``GET OPTION`` and the ``SAY`` commands like a
    key would. The result's ``digit`` then holds one of these words.
    """

    STOP = "stop"  # AST_CONTROL_STREAM_STOP = 1000
    SUSPEND = "suspend"  # 1001
    RESTART = "restart"  # 1002
    REVERSE = "reverse"  # 1003
    FORWARD = "forward"  # 1004

    @staticmethod
    def from_code(code: int) -> str | None:
        """The word for Asterisk's result code 1000-1004; None for any other code."""
        return _CONTROL_WORDS.get(code)


_CONTROL_WORDS = {
    1000: StreamControl.STOP,
    1001: StreamControl.SUSPEND,
    1002: StreamControl.RESTART,
    1003: StreamControl.REVERSE,
    1004: StreamControl.FORWARD,
}


class PlaybackResult(_Result):
    """How ``STREAM FILE`` or ``GET OPTION`` ended.

    ``digit`` is the escape digit that stopped it (``None``: played to the end, or for
    ``GET OPTION`` no escape digit came before the timeout). ``endpos`` is the position reached,
    in samples of the file (8000 per second for 8 kHz files); after playing to the end it is the
    file's length. Pass it back as ``sample_offset`` to resume.
    """

    __slots__ = ("digit", "endpos")
    _fields = ("digit", "endpos")
    digit: str | None
    endpos: int

    def __init__(self, digit: str | None, endpos: int) -> None:
        _set(self, "digit", digit)
        _set(self, "endpos", endpos)


class ControlPlaybackResult(_Result):
    """How ``CONTROL STREAM FILE`` ended.

    ``digit`` is the stop key pressed (``None``: played to the end, or stopped remotely).
    ``endpos_ms`` is where playback stopped, in milliseconds, or ``None`` when it reached the end
    of the file (Asterisk sends ``endpos=-1``). Asterisk computes it as samples / 8, so it is
    right only for 8 kHz files.
    """

    __slots__ = ("digit", "endpos_ms")
    _fields = ("digit", "endpos_ms")
    digit: str | None
    endpos_ms: int | None

    def __init__(self, digit: str | None, endpos_ms: int | None) -> None:
        _set(self, "digit", digit)
        _set(self, "endpos_ms", endpos_ms)

    @property
    def position(self) -> float | None:
        """``endpos_ms`` in seconds (``None`` at the end of the file): pass it as ``offset`` to
        resume where playback stopped."""
        return None if self.endpos_ms is None else self.endpos_ms / 1000


class DigitsResult(_Result):
    """The digits ``GET DATA`` collected.

    ``digits`` excludes the ``#`` that ends input and may be empty (``#`` pressed first, or
    nothing pressed). ``timed_out`` is True when input ended by timeout rather than by ``#`` or
    by reaching ``max_digits``; the digits typed before the timeout are still in ``digits``.
    """

    __slots__ = ("digits", "timed_out")
    _fields = ("digits", "timed_out")
    digits: str
    timed_out: bool

    def __init__(self, digits: str, timed_out: bool) -> None:
        _set(self, "digits", digits)
        _set(self, "timed_out", timed_out)


class RecordResult(_Result):
    """How ``RECORD FILE`` ended.

    ``outcome`` is Asterisk's keyword, one of the class constants:

    - :attr:`TIMEOUT` (``"timeout"``): the time limit or the silence limit was reached. (The
      number Asterisk sends with it is left-over state and is ignored.)
    - :attr:`DTMF` (``"dtmf"``): an escape digit stopped the recording; it is in ``digit``.
      About 200 ms are trimmed from the end.
    - :attr:`HANGUP` (``"hangup"``): the caller hung up while recording. What was recorded up
      to then is in the file: this is how most voicemail messages end, so it is a result, not
      an error. The next command that needs a live channel raises :class:`~agikit.errors.Hangup`.
    - :attr:`BEEP_INTERRUPTED` (``"randomerror"``): an escape digit (in ``digit``) was pressed
      during the beep, so nothing was recorded and the file was not touched.

    ``endpos`` is the length of the recording in samples of the file (8000 per second at 8 kHz);
    for :attr:`BEEP_INTERRUPTED` it is the ``offset`` that was asked for.
    """

    TIMEOUT = "timeout"
    DTMF = "dtmf"
    HANGUP = "hangup"
    BEEP_INTERRUPTED = "randomerror"

    __slots__ = ("digit", "endpos", "outcome")
    _fields = ("outcome", "digit", "endpos")
    outcome: str
    digit: str | None
    endpos: int

    def __init__(self, outcome: str, digit: str | None, endpos: int) -> None:
        _set(self, "outcome", outcome)
        _set(self, "digit", digit)
        _set(self, "endpos", endpos)


class SpeechHypothesis(_Result):
    """One recognition result of ``SPEECH RECOGNIZE``: the engine's ``score``, the recognised
    ``text`` (exactly as the engine gave it) and the ``grammar`` that matched."""

    __slots__ = ("grammar", "score", "text")
    _fields = ("score", "text", "grammar")
    score: int
    text: str
    grammar: str

    def __init__(self, score: int, text: str, grammar: str) -> None:
        _set(self, "score", score)
        _set(self, "text", text)
        _set(self, "grammar", grammar)


class SpeechResult(_Result):
    """How ``SPEECH RECOGNIZE`` ended.

    ``outcome`` is one of the class constants:

    - :attr:`SPEECH`: the engine recognised something; ``hypotheses`` holds its results in the
      engine's order (empty if it returned none).
    - :attr:`DIGIT`: a key pressed during recognition barged in; it is in ``digit``.
    - :attr:`TIMEOUT`: nothing was recognised within the timeout after the prompt.

    ``endpos`` is the prompt position, in samples, where barge-in stopped the prompt (0 when the
    prompt was not stopped). A hangup during recognition raises :class:`~agikit.errors.Hangup`
    (Asterisk reports it as ``result=1 (hangup)``). Asterisk cuts the list of results at about
    4 KB; results beyond that are missing from ``hypotheses``.
    """

    SPEECH = "speech"
    DIGIT = "digit"
    TIMEOUT = "timeout"

    __slots__ = ("digit", "endpos", "hypotheses", "outcome")
    _fields = ("outcome", "digit", "endpos", "hypotheses")
    outcome: str
    digit: str | None
    endpos: int
    hypotheses: tuple[SpeechHypothesis, ...]

    def __init__(
        self,
        outcome: str,
        digit: str | None = None,
        endpos: int = 0,
        hypotheses: tuple[SpeechHypothesis, ...] = (),
    ) -> None:
        _set(self, "outcome", outcome)
        _set(self, "digit", digit)
        _set(self, "endpos", endpos)
        _set(self, "hypotheses", tuple(hypotheses))


class GosubResult(_Result):
    """How a ``GOSUB`` subroutine ended.

    ``returned`` is True when the subroutine ran ``Return()`` back to the AGI, False when it
    exited abnormally (it hung up, fell off the end of its extension, or jumped away; Asterisk
    then sets ``GOSUB_RETVAL`` to empty). ``message`` is Asterisk's text after the result, e.g.
    ``"Gosub complete (abnormal exit)"``. Read ``GOSUB_RETVAL`` with ``get_variable`` for the
    value passed to ``Return()``.
    """

    __slots__ = ("message", "returned")
    _fields = ("returned", "message")
    returned: bool
    message: str

    def __init__(self, returned: bool, message: str) -> None:
        _set(self, "returned", returned)
        _set(self, "message", message)


class ChannelState(int):
    """A channel state as ``CHANNEL STATUS`` reports it (``enum ast_channel_state``).

    An ``int``: compare it with the constants (``state == ChannelState.UP``) or with plain
    numbers. ``name`` is the constant's name and ``description`` Asterisk's own text (as in
    ``core show channels``). Asterisk's XML documentation swaps 4 and 5 and omits 8 and 9; the
    values here follow ``include/asterisk/channelstate.h``.
    """

    __slots__ = ()

    #: 0: channel is down and available.
    DOWN: "ClassVar[ChannelState]"
    #: 1: channel is down, but reserved.
    RESERVED: "ClassVar[ChannelState]"
    #: 2: channel is off hook.
    OFFHOOK: "ClassVar[ChannelState]"
    #: 3: digits (or equivalent) have been dialed.
    DIALING: "ClassVar[ChannelState]"
    #: 4: the remote end is ringing (ringback); also the first state of many new channels.
    RING: "ClassVar[ChannelState]"
    #: 5: the line is ringing.
    RINGING: "ClassVar[ChannelState]"
    #: 6: the line is up (answered).
    UP: "ClassVar[ChannelState]"
    #: 7: the line is busy.
    BUSY: "ClassVar[ChannelState]"
    #: 8: digits (or equivalent) have been dialed while off hook.
    DIALING_OFFHOOK: "ClassVar[ChannelState]"
    #: 9: an incoming call was detected and waits for ring.
    PRERING: "ClassVar[ChannelState]"

    @property
    def name(self) -> str:
        """The constant's name (``"UP"``), or ``"UNKNOWN"`` for a value this module does not
        know."""
        known = _STATES.get(int(self))
        return known[0] if known is not None else "UNKNOWN"

    @property
    def description(self) -> str:
        """Asterisk's text for the state (``ast_state2str``): ``"Up"``, ``"Ring"`` ..."""
        known = _STATES.get(int(self))
        return known[1] if known is not None else f"Unknown ({int(self)})"

    def __repr__(self) -> str:
        if int(self) in _STATES:
            return f"ChannelState.{self.name}"
        return f"ChannelState({int(self)})"

    __str__ = int.__repr__


_STATES: dict[int, tuple[str, str]] = {
    0: ("DOWN", "Down"),
    1: ("RESERVED", "Rsrvd"),
    2: ("OFFHOOK", "OffHook"),
    3: ("DIALING", "Dialing"),
    4: ("RING", "Ring"),
    5: ("RINGING", "Ringing"),
    6: ("UP", "Up"),
    7: ("BUSY", "Busy"),
    8: ("DIALING_OFFHOOK", "Dialing Offhook"),
    9: ("PRERING", "Pre-ring"),
}
for _value, (_name, _) in _STATES.items():
    setattr(ChannelState, _name, ChannelState(_value))
del _value, _name


def publish(namespace: "dict[str, Any]", public: "dict[str, tuple[str, ...]]") -> None:
    """Set the ``__module__`` of each name in ``public`` (by module) to the public module that
    re-exports it: reprs, pickles and the documentation name that module, as if defined there.
    For the private modules of the process-AGI path (this one, ``_protocol``, ``_stdio``)."""
    for module, names in public.items():
        for name in names:
            namespace[name].__module__ = module


_PUBLIC = {
    "agikit.errors": (
        "AGIError",
        "ArgumentError",
        "ProtocolError",
        "ConnectionClosed",
        "CommandInFlight",
        "CommandError",
        "InvalidCommand",
        "UsageError",
        "CommandFailed",
        "Hangup",
        "_new_error",
    ),
    "agikit.results": (
        "_Result",
        "StreamControl",
        "PlaybackResult",
        "ControlPlaybackResult",
        "DigitsResult",
        "RecordResult",
        "SpeechHypothesis",
        "SpeechResult",
        "GosubResult",
        "ChannelState",
    ),
}
publish(globals(), _PUBLIC)
