"""What ``Call`` and ``SyncCall`` need from a transport: a runner (type-checking only).

A runner sends one :class:`~agikit.commands.CommandRequest` and returns its typed result,
using :func:`agikit.commands.refuse_when_dead` before sending and
:func:`agikit.commands.complete` with the reply. It also exposes the session's
environment and whether the channel is known to be hung up. The transports (stdio, FastAGI,
Async AGI, the fake Asterisk) implement these structurally; nothing here exists at run time, so
importing this module costs nothing.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable
    from typing import Protocol, TypeVar

    from .commands import CommandRequest as CommandRequest
    from .protocol.environment import Environment

    T = TypeVar("T")

    class AsyncRunner(Protocol):
        """Runs commands for :class:`~agikit.call.Call`."""

        @property
        def environment(self) -> Environment:
            """The session's environment block."""
            ...

        @property
        def hung_up(self) -> bool:
            """True once the transport knows the channel hung up."""
            ...

        def run(self, request: CommandRequest[T]) -> Awaitable[T]:
            """Send ``request`` and return its typed result (or raise its error)."""
            ...

    class SyncRunner(Protocol):
        """Runs commands for :class:`~agikit.call.SyncCall` (blocking)."""

        @property
        def environment(self) -> Environment:
            """The session's environment block."""
            ...

        @property
        def hung_up(self) -> bool:
            """True once the transport knows the channel hung up."""
            ...

        def run(self, request: CommandRequest[T]) -> T:
            """Send ``request``, wait for the reply, and return its typed result."""
            ...
