"""Every error agikit raises, in one hierarchy.

::

    AGIError
    ├── ArgumentError        an argument cannot be sent (CR, LF, NUL, too long); nothing sent
    ├── ProtocolError        the peer sent something that is not AGI; the session is unusable
    │   └── ConnectionClosed the peer closed the stream (EOF) where AGI data was expected
    ├── CommandInFlight      a second command was started while one is awaiting its reply
    └── CommandError         Asterisk answered a command with an error; has .command and .reply
        ├── InvalidCommand   510: the command is unknown to this Asterisk
        ├── UsageError       520: wrong arguments; .usage holds Asterisk's usage text
        ├── CommandFailed    200 with a failure result (e.g. result=-1), or 503
        └── Hangup           the channel is hung up: 511, or a failure after the hangup was seen

``Hangup`` is what a handler usually wants to let propagate: its ``finally`` blocks run, and
commands allowed on a dead channel (``get_variable``, ``set_variable``, ``verbose``, ``database_*``,
``exec`` ...) keep working there.
"""

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs process AGI startup
if TYPE_CHECKING:
    from .protocol.replies import Reply


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
