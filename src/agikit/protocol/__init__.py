"""The sans-IO AGI protocol core: quoting, the environment block, replies, the session."""

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
