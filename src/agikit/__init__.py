"""agikit: the Python toolkit for Asterisk's AGI family (process AGI, EAGI, FastAGI, Async AGI).

A process-AGI script::

    import agikit

    async def main(call: agikit.Call) -> None:
        await call.answer()
        await call.stream_file("hello-world")

    agikit.run(main)

Names are imported on first use, so ``import agikit`` stays cheap: process AGI pays for every
import on every call.
"""

__version__ = "0.1.0.dev0"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._async_call import Call
    from ._sync_call import SyncCall
    from .app import App, RouteError
    from .errors import (
        AGIError,
        ArgumentError,
        CommandError,
        CommandFailed,
        CommandInFlight,
        ConnectionClosed,
        Hangup,
        InvalidCommand,
        ProtocolError,
        UsageError,
    )
    from .protocol.environment import Environment
    from .protocol.replies import Reply
    from .transports._eagi import AudioFormat as AudioFormat
    from .transports._eagi import AudioStream as AudioStream
    from .transports.stdio import run, serve

_LAZY = {
    "App": "app",
    "RouteError": "app",
    "Call": "_async_call",
    "SyncCall": "_sync_call",
    "AGIError": "_outcomes",
    "ArgumentError": "_outcomes",
    "CommandError": "_outcomes",
    "CommandFailed": "_outcomes",
    "CommandInFlight": "_outcomes",
    "ConnectionClosed": "_outcomes",
    "Hangup": "_outcomes",
    "InvalidCommand": "_outcomes",
    "ProtocolError": "_outcomes",
    "UsageError": "_outcomes",
    "Environment": "protocol.environment",
    "Reply": "protocol.replies",
    # Not in __all__: they import asyncio, which ``from agikit import *`` in a process-AGI
    # script must not pay for (a loop-free async handler never loads it).
    "AudioFormat": "transports._eagi",
    "AudioStream": "transports._eagi",
    "run": "_stdio",
    "serve": "_stdio",
}

__all__ = [
    "AGIError",
    "App",
    "ArgumentError",
    "Call",
    "CommandError",
    "CommandFailed",
    "CommandInFlight",
    "ConnectionClosed",
    "Environment",
    "Hangup",
    "InvalidCommand",
    "ProtocolError",
    "Reply",
    "RouteError",
    "SyncCall",
    "UsageError",
    "run",
    "serve",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agikit' has no attribute {name!r}")
    # What these imports allocate (modules, classes, functions, the command table) lives as
    # long as the process, yet on the way to ``run`` it sets off two or three collections of
    # the cyclic garbage collector, each walking every young object for nothing: about a
    # tenth of what agikit adds to a process-AGI call. Pause the collector meanwhile (``run``
    # then freezes what the imports left, so they are not walked later either).
    import gc  # a built-in module, but not in the start-up set

    collecting = gc.isenabled()
    gc.disable()
    try:
        # __import__ rather than importlib.import_module: importlib is not loaded at start-up.
        value = getattr(__import__(f"agikit.{module}", fromlist=[name]), name)
    finally:
        if collecting:
            gc.enable()
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
