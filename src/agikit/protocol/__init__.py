"""The sans-IO AGI protocol core: quoting, the environment block, replies, the session.

Names are imported from their modules on first use: importing one module of the package runs
this one first, and should not pay for anything more. (Process AGI loads neither: the code lives
in :mod:`agikit._protocol`, which the modules here re-export.)
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .environment import Environment
    from .quoting import encode_argument, format_command, max_line_bytes, split_command_line
    from .replies import Reply
    from .session import (
        AgiSession,
        EnvironmentReceived,
        Event,
        HangupReceived,
        ReplyReceived,
        State,
        StreamClosed,
    )

_LAZY = {
    "AgiSession": "session",
    "Environment": "environment",
    "EnvironmentReceived": "session",
    "Event": "session",
    "HangupReceived": "session",
    "Reply": "replies",
    "ReplyReceived": "session",
    "State": "session",
    "StreamClosed": "session",
    "encode_argument": "quoting",
    "format_command": "quoting",
    "max_line_bytes": "quoting",
    "split_command_line": "quoting",
}
_SUBMODULES = ("environment", "quoting", "replies", "session")

__all__ = [
    "AgiSession",
    "Environment",
    "EnvironmentReceived",
    "Event",
    "HangupReceived",
    "Reply",
    "ReplyReceived",
    "State",
    "StreamClosed",
    "encode_argument",
    "format_command",
    "max_line_bytes",
    "split_command_line",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is not None:
        # __import__ rather than importlib.import_module: importlib is not loaded at start-up.
        value = getattr(__import__(f"agikit.protocol.{module}", fromlist=[name]), name)
    elif name in _SUBMODULES:  # the submodules, as after the eager imports this module once had
        value = __import__(f"agikit.protocol.{name}", fromlist=[name])
    else:
        raise AttributeError(f"module 'agikit.protocol' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY, *_SUBMODULES])
