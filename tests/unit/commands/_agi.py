"""Helpers: run a request's reply through the real session and the generic result mapping."""

from __future__ import annotations

from typing import Any

from agikit.commands import CommandRequest, complete
from agikit.protocol.replies import Reply
from agikit.protocol.session import AgiSession, ReplyReceived

ENVIRONMENT = b"agi_request: test\nagi_channel: Local/test-00000001;2\nagi_version: 22.10.1\n\n"


def reply_for(request: CommandRequest[Any], text: str) -> Reply:
    """The Reply the session assembles from ``text`` (one or more lines, LF-separated) sent by
    Asterisk in answer to ``request``."""
    session = AgiSession()
    session.receive_data(ENVIRONMENT)
    session.send_command(request.line)
    events = session.receive_data(text.encode("utf-8", "surrogateescape") + b"\n")
    replies = [event.reply for event in events if isinstance(event, ReplyReceived)]
    assert len(replies) == 1, events
    return replies[0]


def result_of(request: CommandRequest[Any], text: str, *, hung_up: bool = False) -> Any:
    """The typed result (or the error raised) for Asterisk's reply ``text`` to ``request``."""
    return complete(request, reply_for(request, text), hung_up)


def usage_block(first: str = "Send the given file.") -> str:
    """A multi-line 520 as Asterisk 22 sends it."""
    return "\n".join(
        [
            "520-Invalid command syntax.  Proper usage follows:",
            first,
            "<variable>PLAYBACKSTATUS</variable>: The status of the playback attempt.",
            "520 End of proper usage.",
        ]
    )
