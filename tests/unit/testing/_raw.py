"""Raw AGI clients for the fake Asterisk's tests: plain pipes and sockets, no agikit code."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import BinaryIO


class RawClient:
    """The AGI side of a session, line by line, over a reader and a writer."""

    def __init__(self, reader: BinaryIO, writer: Callable[[bytes], object]) -> None:
        self.reader = reader
        self._write = writer
        self.env: dict[str, str] = {}
        self.hangups = 0
        self.received: list[bytes] = []

    @classmethod
    def over_pipes(cls, stdin: BinaryIO, stdout: BinaryIO) -> RawClient:
        def write(data: bytes) -> None:
            stdout.write(data)
            stdout.flush()

        return cls(stdin, write)

    @classmethod
    def over_socket(cls, sock: socket.socket) -> RawClient:
        sock.settimeout(10)
        return cls(sock.makefile("rb"), sock.sendall)

    def readline(self) -> bytes:
        """One line with its LF (b"" at EOF)."""
        line = self.reader.readline()
        self.received.append(line)
        return line

    def read_env(self) -> dict[str, str]:
        while True:
            line = self.readline()
            if line in (b"\n", b""):
                return self.env
            key, _, value = line.decode().rstrip("\n").partition(": ")
            self.env[key] = value

    def send(self, data: bytes) -> None:
        self._write(data)

    def reply(self) -> list[bytes]:
        """The lines of one reply (without LFs), skipping HANGUP notices; [] at EOF."""
        lines: list[bytes] = []
        while True:
            raw = self.readline()
            if not raw:
                return lines
            line = raw.rstrip(b"\n")
            if line == b"HANGUP":
                self.hangups += 1
                continue
            lines.append(line)
            if line.startswith(b"100 ") or line.startswith(b"520-"):
                continue
            if lines[0].startswith(b"520-") and not line.startswith(b"520 "):
                continue
            return lines

    def command(self, line: bytes | str) -> list[bytes]:
        data = line.encode() if isinstance(line, str) else line
        self.send(data + b"\n")
        return self.reply()


class RawServer:
    """A FastAGI server for one connection: runs ``handler(client)`` in a thread."""

    def __init__(self, handler: Callable[[RawClient], object], family: int = socket.AF_INET):
        host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        self.listener = socket.create_server((host, 0), family=family)
        self.port: int = self.listener.getsockname()[1]
        self.handler = handler
        self.client: RawClient | None = None
        self.sock: socket.socket | None = None
        self.error: BaseException | None = None
        self.value: object = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(10)
        try:
            conn, _ = self.listener.accept()
            self.sock = conn
            self.client = RawClient.over_socket(conn)
            self.value = self.handler(self.client)
        except BaseException as error:  # reported by join()
            self.error = error
        finally:
            if self.client is not None:
                self.client.reader.close()  # the makefile holds the socket open otherwise
            if self.sock is not None:
                self.sock.close()
            self.listener.close()

    def join(self) -> object:
        self._thread.join(15)
        assert not self._thread.is_alive(), "the raw FastAGI handler did not finish"
        if self.error is not None:
            raise self.error
        return self.value
