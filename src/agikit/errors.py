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

# The classes live in agikit._outcomes, with the result classes: process AGI imports them on
# every call, and pays for each module on top of its code. Each one's __module__ names this
# module, as if defined here.
from ._outcomes import (  # noqa: I001 - in the order of the documentation
    AGIError,
    ArgumentError,
    ProtocolError,
    ConnectionClosed,
    CommandInFlight,
    CommandError,
    InvalidCommand,
    UsageError,
    CommandFailed,
    Hangup,
    _new_error,  # noqa: F401 - what pickles of a CommandError name
)

__all__ = [
    "AGIError",
    "ArgumentError",
    "CommandError",
    "CommandFailed",
    "CommandInFlight",
    "ConnectionClosed",
    "Hangup",
    "InvalidCommand",
    "ProtocolError",
    "UsageError",
]
