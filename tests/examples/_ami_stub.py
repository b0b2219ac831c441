"""A stand-in for Asterisk's manager on loopback, just enough for the takeover example: the
banner, a plain Login, Ping, Logoff, and a ``Redirect`` that fails for channels that are gone.
The test pushes events (``Newexten``, ``Hangup``) and reads the actions received."""

from __future__ import annotations

import asyncio
from typing import Any

from agikit.ami import AmiParser, Message


def _encode(*headers: tuple[str, str]) -> bytes:
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in headers) + b"\r\n"


class AmiStub:
    """``async with AmiStub() as ami:`` listens on ``ami.port``; ``ami.actions`` lists what
    clients sent (Login, Ping and Logoff excepted); ``ami.gone`` holds channel names that
    ``Redirect`` answers with an error."""

    def __init__(self) -> None:
        self.port = 0
        self.actions: list[Message] = []
        self.gone: set[str] = set()
        self.redirected = asyncio.Event()
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> AmiStub:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()

    def event(self, *headers: tuple[str, str]) -> None:
        """Send an event to every client."""
        for writer in self._writers:
            writer.write(_encode(*headers))

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        parser = AmiParser()
        parser.feed(b"Asterisk Call Manager/9.0.0\r\n")  # clients send no banner
        while data := await reader.read(4096):
            for action in parser.feed(data):
                self._answer(action, writer)

    def _answer(self, action: Message, writer: asyncio.StreamWriter) -> None:
        name = (action.get("Action") or "").lower()
        reply = [("Response", "Success"), ("ActionID", action.get("ActionID") or "")]
        if name == "logoff":
            reply[0] = ("Response", "Goodbye")
        elif name not in ("login", "ping"):
            self.actions.append(action)
            if name == "redirect":
                self.redirected.set()
                if action.get("Channel") in self.gone:
                    reply = [reply[0], reply[1], ("Message", "Channel does not exist")]
                    reply[0] = ("Response", "Error")
        writer.write(_encode(*reply))
