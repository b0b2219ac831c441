"""The Asterisk Manager Interface: a sans-IO codec and an asyncio client."""

from .client import (
    ActionError,
    AmiClient,
    AmiDisconnected,
    AmiError,
    EventQueue,
    ListResult,
    LoginError,
)
from .codec import AmiParser, Message, encode_action

__all__ = [
    "ActionError",
    "AmiClient",
    "AmiDisconnected",
    "AmiError",
    "AmiParser",
    "EventQueue",
    "ListResult",
    "LoginError",
    "Message",
    "encode_action",
]
