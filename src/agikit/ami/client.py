"""An asyncio AMI client: login (plain or MD5), actions matched by ActionID, event lists,
event subscriptions, keep-alive pings, reconnection with back-off, clean logoff.

::

    async with AmiClient("127.0.0.1", 5038, "admin", secret) as ami:
        print(await ami.command("core show version"))
        async for event in ami.events("Hangup"):
            print(event["Channel"])

The connection's state changes reach subscribers as synthetic events ``AgikitDisconnected`` and
``AgikitReconnected`` (header ``Synthetic: agikit``): events sent while the connection was down
are lost. Secrets never appear in logs or in ``repr``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any

from ..errors import AGIError, ProtocolError
from .codec import AmiParser, Message, encode_action

log = logging.getLogger("agikit.ami")

EventCallback = Callable[[Message], "Awaitable[None] | None"]
EventFilter = Callable[[Message], bool] | Mapping[str, str] | None


class AmiError(AGIError):
    """Base class of AMI errors."""


class LoginError(AmiError):
    """Asterisk refused the login (wrong user, secret or key, or not permitted)."""


class ActionError(AmiError):
    """An action was answered with ``Response: Error``; ``response`` is the message."""

    def __init__(self, action: str, response: Message) -> None:
        super().__init__(f"{action} failed: {response.get('Message', '(no message)')}")
        self.action = action
        self.response = response


class AmiDisconnected(AmiError):
    """The connection to Asterisk is down; the action's outcome is unknown."""


class ListResult:
    """An event-list action's answer: the first response and the item events, in order."""

    __slots__ = ("complete", "events", "response")

    def __init__(self, response: Message, events: list[Message], complete: Message) -> None:
        self.response = response
        self.events = events
        self.complete = complete

    def __iter__(self) -> Any:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def __repr__(self) -> str:
        return f"ListResult({len(self.events)} events)"


def _matches(event: Message, names: frozenset[str], where: EventFilter) -> bool:
    if names and (event.event or "").lower() not in names:
        return False
    if where is None:
        return True
    if callable(where):
        return bool(where(event))
    return all(event.get(key) == value for key, value in where.items())


class _Subscription:
    def __init__(self, names: Iterable[str], where: EventFilter, maxsize: int) -> None:
        self.names = frozenset(name.lower() for name in names)
        self.where = where
        self.queue: asyncio.Queue[Message] = asyncio.Queue(maxsize)
        self.dropped = 0


class _Protocol(asyncio.Protocol):
    def __init__(self, client: AmiClient) -> None:
        self.client = client
        self.parser = AmiParser()
        self.transport: asyncio.Transport | None = None
        self.banner: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            messages = self.parser.feed(data)
        except ProtocolError as exc:
            log.error("AMI stream broken: %s", exc)
            if self.transport is not None:
                self.transport.abort()
            return
        if self.parser.banner is not None and not self.banner.done():
            self.banner.set_result(self.parser.banner)
        dispatch = self.client._dispatch
        for message in messages:
            dispatch(message)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.banner.done():
            self.banner.set_exception(
                AmiDisconnected("AMI closed the connection before its banner")
            )
        if not self.lost.done():
            self.lost.set_result(None)
        self.client._connection_lost(self, exc)


class AmiClient:
    """A logged-in AMI session that reconnects by itself.

    ``auth`` is ``"plain"`` or ``"md5"`` (challenge-response: the secret never crosses the
    wire). ``events`` is the Login ``Events`` mask (``"on"``, ``"off"`` or a class list such as
    ``"call,agi"``). ``ping_interval`` seconds of silence trigger a ``Ping``; no answer within
    ``timeout`` drops and re-opens the connection. Reconnection waits ``backoff`` seconds,
    doubling up to ``max_backoff``, with jitter.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 5038,
        username: str = "",
        secret: str = "",
        *,
        auth: str = "plain",
        events: str = "on",
        reconnect: bool = True,
        ping_interval: float | None = 20.0,
        timeout: float = 10.0,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        if auth not in ("plain", "md5"):
            raise ValueError(f"auth is 'plain' or 'md5', not {auth!r}")
        self.host = host
        self.port = port
        self.username = username
        self._secret = secret
        self.auth = auth
        self.events_mask = events
        self.reconnect = reconnect
        self.ping_interval = ping_interval
        self.timeout = timeout
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.banner: str | None = None
        self._protocol: _Protocol | None = None
        self._pending: dict[str, asyncio.Future[Message]] = {}
        self._lists: dict[str, list[Message]] = {}
        self._ids = itertools.count(1)
        self._prefix = f"agikit-{random.getrandbits(32):08x}-"
        self._subscriptions: list[_Subscription] = []
        self._callbacks: list[tuple[frozenset[str], EventFilter, EventCallback]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False
        self._connected = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self.reconnects = 0

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"AmiClient({self.username}@{self.host}:{self.port}, {state})"

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # -- lifecycle ----------------------------------------------------------------------------
    async def connect(self) -> AmiClient:
        """Connect and log in (raises :class:`LoginError` or :class:`AmiDisconnected`)."""
        await self._open()
        if self.reconnect or self.ping_interval:
            self._supervisor = asyncio.get_running_loop().create_task(self._supervise())
        return self

    async def __aenter__(self) -> AmiClient:
        return await self.connect()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(lambda: _Protocol(self), self.host, self.port),
                self.timeout,
            )
            self.banner = await asyncio.wait_for(protocol.banner, self.timeout)
        except (OSError, TimeoutError) as exc:
            raise AmiDisconnected(f"cannot reach AMI at {self.host}:{self.port}: {exc}") from exc
        self._protocol = protocol
        try:
            await self._login()
        except BaseException:
            if protocol.transport is not None:
                protocol.transport.abort()
            raise
        self._connected.set()
        log.info(
            "AMI logged in to %s:%d as %s (%s)", self.host, self.port, self.username, self.banner
        )

    async def _login(self) -> None:
        if self.auth == "md5":
            challenge = await self.action("Challenge", {"AuthType": "MD5"}, _login=True)
            key = hashlib.md5((challenge["Challenge"] + self._secret).encode()).hexdigest()
            headers = {"AuthType": "MD5", "Username": self.username, "Key": key}
        else:
            headers = {"Username": self.username, "Secret": self._secret}
        headers["Events"] = self.events_mask
        try:
            await self.action("Login", headers, _login=True)
        except ActionError as exc:
            raise LoginError(
                f"AMI login as {self.username!r} refused: {exc.response.get('Message')}"
            ) from None
        except AmiDisconnected as exc:
            raise LoginError(f"AMI login as {self.username!r} failed: {exc}") from None

    async def close(self) -> None:
        """Log off (``Response: Goodbye``) and close; stop reconnecting."""
        self._closing = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        protocol = self._protocol
        if protocol is not None and protocol.transport is not None and self.connected:
            with contextlib.suppress(AmiError, TimeoutError):
                await asyncio.wait_for(self.action("Logoff", check=False), 2.0)
            protocol.transport.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(protocol.lost), 2.0)
        for task in list(self._tasks):
            task.cancel()

    async def _supervise(self) -> None:
        while not self._closing:
            protocol = self._protocol
            if protocol is not None:
                await self._watch(protocol)
            if self._closing or not self.reconnect:
                return
            await self._reconnect()

    async def _watch(self, protocol: _Protocol) -> None:
        """Return when the connection is lost; ping it when it is quiet."""
        while not protocol.lost.done():
            if self.ping_interval is None:
                await asyncio.shield(protocol.lost)
                return
            try:
                await asyncio.wait_for(asyncio.shield(protocol.lost), self.ping_interval)
                return
            except TimeoutError:
                pass
            try:
                await asyncio.wait_for(self.action("Ping"), self.timeout)
            except (AmiError, TimeoutError) as exc:
                log.warning("AMI keep-alive failed (%s); reconnecting", exc)
                if protocol.transport is not None:
                    protocol.transport.abort()
                await asyncio.shield(protocol.lost)
                return

    async def _reconnect(self) -> None:
        delay = self.backoff
        while not self._closing:
            try:
                await self._open()
            except LoginError as exc:
                log.error("AMI re-login failed: %s", exc)
            except AmiDisconnected as exc:
                log.info("AMI still down (%s); retrying in %.1f s", exc, delay)
            else:
                self.reconnects += 1
                self._publish_synthetic("AgikitReconnected")
                return
            await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
            delay = min(delay * 2, self.max_backoff)

    def _connection_lost(self, protocol: _Protocol, exc: Exception | None) -> None:
        if protocol is not self._protocol:
            return
        was_connected = self.connected
        self._connected.clear()
        error = AmiDisconnected(f"the AMI connection to {self.host}:{self.port} was lost")
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        self._pending.clear()
        self._lists.clear()
        if was_connected and not self._closing:
            log.warning("AMI connection to %s:%d lost", self.host, self.port)
            self._publish_synthetic("AgikitDisconnected")

    # -- actions ----------------------------------------------------------------------------
    def _next_id(self) -> str:
        return f"{self._prefix}{next(self._ids)}"

    def send(
        self,
        action: str,
        headers: Mapping[str, str | Iterable[str]] | Iterable[tuple[str, str]] = (),
        *,
        action_id: str | None = None,
    ) -> str:
        """Send an action without waiting for its response; returns its ActionID."""
        protocol = self._protocol
        if protocol is None or protocol.transport is None or protocol.transport.is_closing():
            raise AmiDisconnected("not connected to AMI")
        action_id = action_id or self._next_id()
        protocol.transport.write(encode_action(action, headers, action_id=action_id))
        return action_id

    async def action(
        self,
        action: str,
        headers: Mapping[str, str | Iterable[str]] | Iterable[tuple[str, str]] = (),
        *,
        check: bool = True,
        timeout: float | None = None,
        _login: bool = False,
    ) -> Message:
        """Send an action and return its response; :class:`ActionError` on ``Response: Error``
        (unless ``check=False``)."""
        if not _login and not self.connected:
            await asyncio.wait_for(self._connected.wait(), timeout or self.timeout)
        action_id = self._next_id()
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = future
        try:
            self.send(action, headers, action_id=action_id)
            response = await asyncio.wait_for(future, timeout or self.timeout)
        finally:
            self._pending.pop(action_id, None)
        if check and response.response == "Error":
            raise ActionError(action, response)
        return response

    async def action_list(
        self,
        action: str,
        headers: Mapping[str, str | Iterable[str]] | Iterable[tuple[str, str]] = (),
        *,
        timeout: float | None = None,
    ) -> ListResult:
        """Send an event-list action (``CoreShowChannels``, ``Status`` ...) and return the
        response with every item event up to ``EventList: Complete``."""
        if not self.connected:
            await asyncio.wait_for(self._connected.wait(), timeout or self.timeout)
        action_id = self._next_id()
        loop = asyncio.get_running_loop()
        first: asyncio.Future[Message] = loop.create_future()
        done: asyncio.Future[Message] = loop.create_future()
        self._pending[action_id] = first
        self._lists[action_id] = []
        self._pending[action_id + "\0complete"] = done
        try:
            self.send(action, headers, action_id=action_id)
            response = await asyncio.wait_for(first, timeout or self.timeout)
            if response.response == "Error":
                raise ActionError(action, response)
            complete = await asyncio.wait_for(done, timeout or self.timeout)
            return ListResult(response, self._lists.get(action_id, []), complete)
        finally:
            self._pending.pop(action_id, None)
            self._pending.pop(action_id + "\0complete", None)
            self._lists.pop(action_id, None)

    async def command(self, cli: str, *, timeout: float | None = None) -> str:
        """Run a CLI command (``Action: Command``) and return its output."""
        response = await self.action("Command", {"Command": cli}, timeout=timeout)
        if response.output is not None:
            return response.output
        return "\n".join(response.get_all("Output"))

    # -- events -----------------------------------------------------------------------------
    def _dispatch(self, message: Message) -> None:
        action_id = message.action_id
        if action_id is not None:
            items = self._lists.get(action_id)
            if items is not None and message.event is not None:
                if (message.get("EventList") or "").lower() == "complete":
                    future = self._pending.get(action_id + "\0complete")
                    if future is not None and not future.done():
                        future.set_result(message)
                else:
                    items.append(message)
                return
            if message.event is None:
                future = self._pending.get(action_id)
                if future is not None and not future.done():
                    future.set_result(message)
                return
        if message.event is not None:
            self._publish(message)

    def _publish(self, event: Message) -> None:
        for subscription in self._subscriptions:
            if _matches(event, subscription.names, subscription.where):
                try:
                    subscription.queue.put_nowait(event)
                except asyncio.QueueFull:
                    subscription.dropped += 1
        for names, where, callback in self._callbacks:
            if _matches(event, names, where):
                try:
                    result = callback(event)
                except Exception:
                    log.exception("AMI event callback %r raised", callback)
                    continue
                if result is not None:
                    task = asyncio.ensure_future(result)
                    self._tasks.add(task)
                    task.add_done_callback(self._callback_done)

    def _callback_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("AMI event callback failed", exc_info=task.exception())

    def _publish_synthetic(self, name: str) -> None:
        self._publish(Message([("Event", name), ("Synthetic", "agikit")]))

    def on(
        self, *names: str, where: EventFilter = None
    ) -> Callable[[EventCallback], EventCallback]:
        """Decorator: call ``callback(event)`` (sync or async) for events named ``names`` (all
        events if none) that pass ``where`` (a predicate, or headers that must be equal)."""

        def register(callback: EventCallback) -> EventCallback:
            self._callbacks.append((frozenset(n.lower() for n in names), where, callback))
            return callback

        return register

    def remove_callback(self, callback: EventCallback) -> None:
        self._callbacks = [entry for entry in self._callbacks if entry[2] is not callback]

    @contextlib.asynccontextmanager
    async def subscribe(
        self, *names: str, where: EventFilter = None, maxsize: int = 10_000
    ) -> AsyncIterator[asyncio.Queue[Message]]:
        """A queue receiving matching events while the block runs (events beyond ``maxsize``
        waiting in it are dropped and counted, never blocking the connection)."""
        subscription = _Subscription(names, where, maxsize)
        self._subscriptions.append(subscription)
        try:
            yield subscription.queue
        finally:
            self._subscriptions.remove(subscription)

    async def events(
        self, *names: str, where: EventFilter = None, maxsize: int = 10_000
    ) -> AsyncIterator[Message]:
        """``async for event in ami.events("Hangup", where={"Channel": name})``."""
        async with self.subscribe(*names, where=where, maxsize=maxsize) as queue:
            while True:
                yield await queue.get()
