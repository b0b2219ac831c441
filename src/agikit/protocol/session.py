"""The AGI session as a sans-IO state machine: bytes in, events out; commands in, bytes out.

No sockets, pipes, clocks or threads here (h11's model). A transport feeds whatever it read to
:meth:`AgiSession.receive_data` and acts on the events it returns; to run a command it writes the
bytes :meth:`AgiSession.send_command` returns, then feeds data until a :class:`ReplyReceived`.

States::

    ENVIRONMENT --empty line--> IDLE --send_command--> AWAITING_REPLY --final line--> IDLE
    any state --EOF--> CLOSED;  any state --protocol violation--> ERROR (raises, stays broken)

End of stream while IDLE or AWAITING_REPLY (even after GOSUB's ``100`` line) is the
:class:`StreamClosed` event; inside a line, a ``520`` usage block or the environment it raises
:class:`~agikit.errors.ConnectionClosed`. A protocol violation raises
:class:`~agikit.errors.ProtocolError` at once (events from earlier lines of the same chunk are
dropped with the session, though :attr:`AgiSession.hung_up` is kept) and every later call raises
it again: the session never reads on past bytes it does not understand.

The ``HANGUP`` line (FastAGI) may arrive in IDLE or AWAITING_REPLY; it sets :attr:`hung_up`
and never counts as a reply. Process AGI learns of the hangup from SIGHUP instead: the
transport calls :meth:`AgiSession.hangup_signalled`.

The code lives in :mod:`agikit._protocol`, with the rest of the protocol core: process AGI
imports it on every call, and pays for each module on top of its code.
"""

from .._protocol import (
    AgiSession,
    EnvironmentReceived,
    Event,
    HangupReceived,
    ReplyReceived,
    State,
    StreamClosed,
)

__all__ = [
    "AgiSession",
    "EnvironmentReceived",
    "Event",
    "HangupReceived",
    "ReplyReceived",
    "State",
    "StreamClosed",
]
