"""A bare FastAGI endpoint for harness tests: no agikit code, just sockets and lines."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable


class RawSession:
    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.reader = conn.makefile("rb")
        self.env: dict[str, str] = {}
        self.lines_seen: list[str] = []

    def read_line(self) -> str:
        raw = self.reader.readline()
        if not raw:
            raise EOFError("Asterisk closed the connection")
        line = raw.decode("utf-8", "replace").rstrip("\n")
        self.lines_seen.append(line)
        return line

    def read_env(self) -> dict[str, str]:
        while (line := self.read_line()) != "":
            key, _, value = line.partition(": ")
            self.env[key] = value
        return self.env

    def command(self, line: str) -> str:
        """Send one command and return its reply, skipping (and recording) HANGUP notices."""
        self.conn.sendall(line.encode() + b"\n")
        while (reply := self.read_line()) == "HANGUP":
            pass
        return reply


class RawFastAgiServer:
    """Accepts FastAGI connections on loopback and runs ``handler(session)`` for each."""

    def __init__(self, handler: Callable[[RawSession], None]) -> None:
        self.handler = handler
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.errors: list[BaseException] = []
        self.sessions: list[RawSession] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        session = RawSession(conn)
        self.sessions.append(session)
        try:
            session.read_env()
            self.handler(session)
        except BaseException as exc:  # reported by the test through .errors
            self.errors.append(exc)
        finally:
            # The makefile() reader holds the descriptor open: close both, or Asterisk never
            # sees EOF and keeps the session alive.
            session.reader.close()
            conn.close()

    def close(self) -> None:
        self.listener.close()
