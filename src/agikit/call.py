"""The handler's API: ``env`` and one method per AGI command, async and blocking.

:class:`Call` is what an ``async def`` handler receives, :class:`SyncCall` the blocking twin for
plain scripts; their methods have the same names, signatures and results. Each method checks its
arguments, sends one command and returns the typed result (see :mod:`agikit.results`), or raises
an :class:`~agikit.errors.AGIError`: :class:`~agikit.errors.Hangup` once the channel is hung up
(commands allowed on a dead channel keep working), :class:`~agikit.errors.CommandFailed`,
:class:`~agikit.errors.UsageError` ... Times are in seconds.

Both classes are generated from the command table (``python -m agikit._codegen``), each into a
module of its own (``agikit._async_call``, ``agikit._sync_call``), and imported from here on
first use: a blocking process-AGI script pays for every import on every call, so it never loads
the async class.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._async_call import Call
    from ._sync_call import SyncCall

__all__ = ["Call", "SyncCall"]

_MODULES = {"Call": "_async_call", "SyncCall": "_sync_call"}


def __getattr__(name: str) -> object:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'agikit.call' has no attribute {name!r}")
    # __import__ rather than importlib.import_module: importlib is not loaded at start-up.
    value = getattr(__import__(f"agikit.{module}", fromlist=[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_MODULES])
