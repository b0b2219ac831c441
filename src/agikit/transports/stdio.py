"""Process AGI and EAGI: Asterisk runs the script per call and talks over stdin/stdout (fd 3 audio).

The blocking path imports nothing heavy (no asyncio, typing, signal module): each call pays for
Python's start-up plus this module. An ``async def`` handler is driven without an event loop by
sending each reply into its coroutine, since process AGI is strictly one command at a time; only
when the handler awaits something else (or under EAGI, where audio flows beside the commands) does
the session move onto asyncio, with the commands then running on one worker thread.

Protocol hygiene: the protocol descriptors are moved off fds 0 and 1 at start, fd 1 is pointed at
stderr and fd 0 at /dev/null, so a stray ``print()`` or ``input()`` (or a child process) cannot
corrupt or steal the command stream. SIGHUP (Asterisk's hangup signal) marks the call hung up
instead of killing the script, so ``finally`` blocks run and dead-channel commands still work.
Asterisk sends nothing unasked over process AGI, so before each command the transport reads
whatever has arrived: a stray line raises ``ProtocolError`` instead of passing for the next
command's reply and shifting every later one.
"""

# The code lives in agikit._stdio, outside this package: a process-AGI script imports it on
# every call, and would pay for importing the package too. Each public name's __module__ names
# this module, as if defined here.
from .._stdio import StdioRunner, is_async_handler, run, serve

__all__ = ["StdioRunner", "is_async_handler", "run", "serve"]
