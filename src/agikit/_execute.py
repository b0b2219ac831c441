"""The one place where a reply becomes a command's typed result, or an error.

Transports call :func:`refuse_when_dead` before sending a request and
:func:`complete` with the reply. Both run once per command on the hot path, so they do
as little as possible: one comparison for the common ``200`` case, then the command's parser.
"""

from .commands import _Failed
from .errors import CommandFailed, Hangup, InvalidCommand, ProtocolError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeVar

    from .commands import CommandRequest
    from .protocol.replies import Reply

    T = TypeVar("T")

__all__ = ["complete", "refuse_when_dead"]


def _text(request: "CommandRequest[T]") -> str:
    return request.line.decode("utf-8", "surrogateescape")


def complete(request: "CommandRequest[T]", reply: "Reply", hung_up: bool) -> "T":
    """The typed result of ``request`` from Asterisk's ``reply``, or the matching error.

    ``hung_up`` is whether the transport knew the channel was hung up when the reply arrived
    (``HANGUP`` line or SIGHUP). Codes: ``200`` goes to the command's parser; a failure it
    reports raises :class:`CommandFailed`, or :class:`Hangup` when the channel is known to be
    hung up and the command is one that needs a live channel (a dead-channel command, such as
    ``DATABASE PUT``, fails for its own reasons). ``510`` raises :class:`InvalidCommand`,
    ``511`` :class:`Hangup`, ``520`` :class:`UsageError`, ``503`` :class:`CommandFailed`; any
    other code :class:`ProtocolError`. Every :class:`~agikit.errors.CommandError` carries the
    command line sent (``command``) and the reply (``reply``).
    """
    code = reply.code
    if code == 200:
        try:
            return request.parse(reply)
        except _Failed as failure:
            if failure.hangup or (hung_up and not request.dead_ok):
                raise Hangup(str(failure), command=_text(request), reply=reply) from None
            raise CommandFailed(str(failure), command=_text(request), reply=reply) from None
    if code == 511:
        raise Hangup(
            "the channel is hung up: Asterisk runs only dead-channel commands now",
            command=_text(request),
            reply=reply,
        )
    if code == 510:
        raise InvalidCommand(
            "Asterisk does not know this command (or the module providing it is not loaded)",
            command=_text(request),
            reply=reply,
        )
    if code == 520:
        raise UsageError(
            "Asterisk rejected the command's arguments", command=_text(request), reply=reply
        )
    if code == 503:
        raise CommandFailed(
            "Asterisk could not run the command (out of memory)",
            command=_text(request),
            reply=reply,
        )
    raise ProtocolError(f"unexpected reply {reply.raw_text!r} to command {_text(request)!r}")


def refuse_when_dead(request: "CommandRequest[T]", hung_up: bool) -> None:
    """Raise :class:`Hangup` without sending, when the channel is known to be hung up and
    Asterisk would answer ``511`` anyway (the command needs a live channel)."""
    if hung_up and not request.dead_ok:
        raise Hangup(
            "the channel is hung up and this command needs a live channel (not sent)",
            command=_text(request),
            reply=None,
        )
