"""A small blocking AMI client for the test harness: actions matched by ActionID, events handed
to listeners from one reader thread.

It is deliberately minimal; the product's own asyncio AMI client lives elsewhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import queue
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass


class AmiError(RuntimeError):
    """An AMI action failed, or the connection did."""


@dataclass(frozen=True)
class Message:
    """One AMI message: its header lines in order (names keep Asterisk's spelling)."""

    headers: tuple[tuple[str, str], ...]

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name`` (case-insensitive)."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    @property
    def event(self) -> str | None:
        return self.get("Event")

    @classmethod
    def parse(cls, block: bytes) -> Message:
        headers = []
        for raw in block.split(b"\r\n"):
            line = raw.decode("utf-8", "replace")
            key, sep, value = line.partition(":")
            if sep:
                headers.append((key.strip(), value.lstrip(" ")))
        return cls(tuple(headers))


EventListener = Callable[[Message], None]


class AmiConnection:
    """A logged-in AMI session over TCP."""

    def __init__(self, host: str, port: int, *, timeout: float = 10.0) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._timeout = timeout
        self._ids = itertools.count(1)
        self._pending: dict[str, queue.Queue[Message | None]] = {}
        self._listeners: list[EventListener] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        banner = self._read_line()
        if not banner.startswith(b"Asterisk Call Manager/"):
            self._sock.close()
            raise AmiError(f"not an AMI banner: {banner!r}")
        self.banner = banner.decode()
        self._sock.settimeout(None)
        self._reader = threading.Thread(target=self._read_loop, name="agikit-ami", daemon=True)
        self._reader.start()

    # -- reading -------------------------------------------------------------------------
    def _read_line(self) -> bytes:
        line = b""
        while not line.endswith(b"\r\n"):
            chunk = self._sock.recv(1)
            if not chunk:
                raise AmiError("AMI closed the connection before its banner")
            line += chunk
        return line[:-2]

    def _read_loop(self) -> None:
        buffer = b""
        try:
            while True:
                chunk = self._sock.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                while b"\r\n\r\n" in buffer:
                    block, buffer = buffer.split(b"\r\n\r\n", 1)
                    self._dispatch(Message.parse(block))
        except OSError:
            pass
        finally:
            self._closed.set()
            with self._lock:
                waiting = list(self._pending.values())
            for slot in waiting:
                slot.put(None)

    def _dispatch(self, message: Message) -> None:
        action_id = message.get("ActionID")
        if action_id is not None:
            with self._lock:
                slot = self._pending.get(action_id)
            if slot is not None:
                slot.put(message)
                if message.event is None:
                    return
        if message.event is not None:
            with self._lock:
                listeners = list(self._listeners)
            for listener in listeners:
                listener(message)

    # -- public ---------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def add_listener(self, listener: EventListener) -> None:
        """Call ``listener(event)`` from the reader thread for every event from now on."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: EventListener) -> None:
        with self._lock:
            self._listeners.remove(listener)

    def send(
        self, action: str, headers: Iterable[tuple[str, str]] = (), *, track: bool = True
    ) -> str:
        """Send an action without waiting; returns its ActionID.

        With ``track=False`` its response is dropped (events carrying its ActionID still reach
        the listeners).
        """
        action_id = f"agikit-{next(self._ids)}"
        lines = [f"Action: {action}", f"ActionID: {action_id}"]
        for key, value in headers:
            if "\r" in value or "\n" in value:
                raise AmiError(f"AMI header {key} may not contain CR or LF: {value!r}")
            lines.append(f"{key}: {value}")
        if track:
            with self._lock:
                self._pending[action_id] = queue.Queue()
        self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return action_id

    def _next_for(self, action_id: str, what: str, timeout: float) -> Message:
        slot = self._pending[action_id]
        try:
            message = slot.get(timeout=timeout)
        except queue.Empty:
            raise AmiError(f"no answer to {what} within {timeout} s") from None
        if message is None:
            raise AmiError(f"AMI connection closed while waiting for {what}")
        return message

    def action(
        self,
        action: str,
        headers: Iterable[tuple[str, str]] = (),
        *,
        timeout: float | None = None,
        check: bool = True,
    ) -> Message:
        """Send an action and return its response; raise AmiError on ``Response: Error``."""
        action_id = self.send(action, headers)
        try:
            response = self._next_for(action_id, action, timeout or self._timeout)
        finally:
            with self._lock:
                self._pending.pop(action_id, None)
        if check and response.get("Response") != "Success":
            raise AmiError(f"{action} failed: {response.get('Message')}")
        return response

    def action_list(
        self, action: str, headers: Iterable[tuple[str, str]] = (), *, timeout: float | None = None
    ) -> list[Message]:
        """Send an event-list action and return the events between start and Complete."""
        action_id = self.send(action, headers)
        limit = timeout or self._timeout
        items: list[Message] = []
        try:
            first = self._next_for(action_id, action, limit)
            if first.get("Response") != "Success":
                raise AmiError(f"{action} failed: {first.get('Message')}")
            while True:
                item = self._next_for(action_id, action, limit)
                if item.get("EventList") == "Complete":
                    return items
                items.append(item)
        finally:
            with self._lock:
                self._pending.pop(action_id, None)

    def login(self, username: str, secret: str, *, md5: bool = False) -> None:
        """Log in with a plain secret or with an MD5 challenge."""
        if md5:
            challenge = self.action("Challenge", [("AuthType", "MD5")])["Challenge"]
            key = hashlib.md5((challenge + secret).encode()).hexdigest()
            auth = [("AuthType", "MD5"), ("Username", username), ("Key", key)]
        else:
            auth = [("Username", username), ("Secret", secret)]
        self.action("Login", auth)

    def command(self, cli: str, *, timeout: float | None = None) -> str:
        """Run a CLI command through the ``Command`` action and return its output."""
        response = self.action("Command", [("Command", cli)], timeout=timeout)
        return "\n".join(response.get_all("Output"))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._reader.join(timeout=5)
