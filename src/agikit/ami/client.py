"""An asyncio AMI client: login (plain or MD5), actions matched by ActionID, event lists,
event subscriptions, keep-alive pings, reconnection with back-off, clean logoff.

::

    async with AmiClient("127.0.0.1", 5038, "admin", secret) as ami:
        print(await ami.command("core show version"))
        async for event in ami.events("Hangup"):
            print(event["Channel"])

The connection's state changes reach subscribers as synthetic events ``AgikitDisconnected`` and
``AgikitReconnected`` (header ``Synthetic: agikit``): events sent while the connection was down
are lost, and actions waiting for a response when it went down fail with
:class:`AmiDisconnected` (whether Asterisk ran them is unknown). Secrets never appear in logs or
in ``repr``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import itertools
import logging
import random
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping
from typing import Any, cast

from ..errors import AGIError, ProtocolError
from .codec import AmiParser, Message, encode_action

log = logging.getLogger("agikit.ami")

#: A plain function or a coroutine function; what a plain one returns is ignored.
EventCallback = Callable[[Message], object]
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


def _matches(event: Message, name: str, names: frozenset[str], where: EventFilter) -> bool:
    """Whether ``event`` (whose lower-case name is ``name``) passes a subscription's test."""
    if names and name not in names:
        return False
    if where is None:
        return True
    if callable(where):
        return bool(where(event))
    return all(event.get(key) == value for key, value in where.items())


class EventQueue(asyncio.Queue[Message]):
    """The queue :meth:`AmiClient.subscribe` fills. The connection never waits for a reader:
    an event arriving while ``maxsize`` events wait is dropped, and counted in ``dropped``."""

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(maxsize)
        self.dropped = 0


class _Subscription:
    __slots__ = ("names", "queue", "where")

    def __init__(self, names: Iterable[str], where: EventFilter, maxsize: int) -> None:
        self.names = frozenset(name.lower() for name in names)
        self.where = where
        self.queue = EventQueue(maxsize)


class _Protocol(asyncio.Protocol):
    def __init__(self, client: AmiClient) -> None:
        self.client = client
        self.parser = AmiParser()
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()
        self.banner: asyncio.Future[str] = self.loop.create_future()
        self.lost: asyncio.Future[None] = self.loop.create_future()
        #: Actions written during this turn of the event loop, sent together at its end.
        self.outbox: list[bytes] = []
        #: Events that came before the login completed (``FullyBooted``): published after it,
        #: so that subscribers see ``AgikitReconnected`` first.
        self.held: list[Message] | None = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not an isinstance check: uvloop's transports are not asyncio.Transport.
        self.transport = cast(asyncio.Transport, transport)

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
        held = self.held
        for message in messages:
            if held is not None and message.event is not None:
                held.append(message)
            else:
                dispatch(message)

    def write(self, data: bytes) -> None:
        """Write ``data`` at the end of this loop turn, with whatever else is written in it:
        one system call for the commands of many channels resumed by the same read."""
        outbox = self.outbox
        outbox.append(data)
        if len(outbox) == 1:
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(b"".join(self.outbox))
        self.outbox.clear()

    def release(self) -> None:
        """The login is done: publish the events held back, then dispatch as they come."""
        held, self.held = self.held, None
        for message in held or ():
            self.client._dispatch(message)

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
    ``"call,agi"``). A ``Ping`` goes out every ``ping_interval`` seconds; no answer within
    ``timeout`` drops and re-opens the connection. ``timeout`` also bounds connecting, the
    banner, and the wait for each action's response. Reconnection waits ``backoff`` seconds,
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

    async def _open(self, *, reconnecting: bool = False) -> None:
        loop = asyncio.get_running_loop()
        protocol: _Protocol | None = None
        try:
            try:
                _, opened = await asyncio.wait_for(
                    loop.create_connection(lambda: _Protocol(self), self.host, self.port),
                    self.timeout,
                )
                protocol = opened
                self.banner = await asyncio.wait_for(opened.banner, self.timeout)
            except (OSError, TimeoutError) as exc:
                raise AmiDisconnected(
                    f"cannot reach AMI at {self.host}:{self.port}: {exc or type(exc).__name__}"
                ) from exc
            self._protocol = protocol
            await self._login()
        except BaseException:
            # Also on cancellation (close() during a reconnection): no half-open connection.
            if protocol is not None and protocol.transport is not None:
                protocol.transport.abort()
            raise
        self._connected.set()
        log.info(
            "AMI logged in to %s:%d as %s (%s)", self.host, self.port, self.username, self.banner
        )
        if reconnecting:
            self.reconnects += 1
            self._publish_synthetic("AgikitReconnected")
        protocol.release()

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
                await self.action("Ping", timeout=self.timeout)
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
                await self._open(reconnecting=True)
            except LoginError as exc:
                log.error("AMI re-login failed: %s", exc)
            except AmiDisconnected as exc:
                log.info("AMI still down (%s); retrying in %.1f s", exc, delay)
            else:
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
        protocol.write(encode_action(action, headers, action_id=action_id))
        return action_id

    def send_action(
        self,
        action: str,
        headers: Mapping[str, str | Iterable[str]] | Iterable[tuple[str, str]] = (),
    ) -> asyncio.Future[Message]:
        """Send an action now; returns a future for its response, whatever it is (no check, no
        timeout: it fails with :class:`AmiDisconnected` if the connection goes down first).
        Raises :class:`AmiDisconnected` at once when not connected. For callers that cannot
        wait (the Async AGI transport queues commands this way)."""
        action_id = self._next_id()
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = future
        try:
            self.send(action, headers, action_id=action_id)
        except BaseException:
            del self._pending[action_id]
            raise
        return future

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
        (unless ``check=False``), :class:`AmiDisconnected` if the connection is down (or goes
        down before the response), ``TimeoutError`` if no response came within ``timeout``.

        While the client reconnects, the action waits up to ``timeout`` for the connection."""
        wait = self.timeout if timeout is None else timeout
        if not _login and not self.connected:
            await self._wait_connected(wait)
        action_id = self._next_id()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Message] = loop.create_future()
        self._pending[action_id] = future
        # Cheaper than asyncio.wait_for (one future, one timer): this is the hot path.
        expiry = loop.call_later(wait, _expire, future, action, wait)
        try:
            self.send(action, headers, action_id=action_id)
            response = await future
        finally:
            expiry.cancel()
            self._pending.pop(action_id, None)
        if check and response.response == "Error":
            raise ActionError(action, response)
        return response

    async def _wait_connected(self, timeout: float) -> None:
        if self._closing or not self.reconnect or self._supervisor is None:
            raise AmiDisconnected("not connected to AMI")
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            raise AmiDisconnected(
                f"not connected to AMI at {self.host}:{self.port} (reconnecting)"
            ) from None

    async def action_list(
        self,
        action: str,
        headers: Mapping[str, str | Iterable[str]] | Iterable[tuple[str, str]] = (),
        *,
        timeout: float | None = None,
    ) -> ListResult:
        """Send an event-list action (``CoreShowChannels``, ``Status`` ...) and return the
        response with every item event up to ``EventList: Complete``."""
        wait = self.timeout if timeout is None else timeout
        if not self.connected:
            await self._wait_connected(wait)
        action_id = self._next_id()
        loop = asyncio.get_running_loop()
        first: asyncio.Future[Message] = loop.create_future()
        done: asyncio.Future[Message] = loop.create_future()
        self._pending[action_id] = first
        self._lists[action_id] = []
        self._pending[action_id + "\0complete"] = done
        try:
            self.send(action, headers, action_id=action_id)
            response = await asyncio.wait_for(first, wait)
            if response.response == "Error":
                raise ActionError(action, response)
            if (response.get("EventList") or "").lower() != "start":
                # Not a list after all (or an Asterisk that answers it in one response).
                return ListResult(response, [], response)
            complete = await asyncio.wait_for(done, wait)
            return ListResult(response, self._lists.get(action_id, []), complete)
        finally:
            self._pending.pop(action_id, None)
            self._pending.pop(action_id + "\0complete", None)
            self._lists.pop(action_id, None)
            for future in (first, done):
                if future.done() and not future.cancelled():
                    future.exception()  # retrieved: no "never retrieved" log when it was lost
                else:
                    future.cancel()

    async def command(self, cli: str, *, timeout: float | None = None) -> str:
        """Run a CLI command (``Action: Command``) and return its output."""
        response = await self.action("Command", {"Command": cli}, timeout=timeout)
        if response.output is not None:
            return response.output
        return "\n".join(response.get_all("Output"))

    # -- events -----------------------------------------------------------------------------
    def _dispatch(self, message: Message) -> None:
        name = message.event  # reads only the first line of most events
        if name is None:
            # A response: to the action waiting for it (or to nobody, without an ActionID).
            action_id = message.action_id
            if action_id is not None:
                future = self._pending.pop(action_id, None)
                if future is not None and not future.done():
                    future.set_result(message)
            return
        if self._lists:
            # The items of an event list carry the ActionID of the action that asked for them.
            action_id = message.action_id
            items = self._lists.get(action_id) if action_id is not None else None
            if items is not None:
                if (message.get("EventList") or "").lower() == "complete":
                    future = self._pending.get(f"{action_id}\0complete")
                    if future is not None and not future.done():
                        future.set_result(message)
                else:
                    items.append(message)
                return
        self._publish(message, name)

    def _publish(self, event: Message, name: str | None = None) -> None:
        name = ((event.event or "") if name is None else name).lower()
        for subscription in self._subscriptions:
            try:
                if not _matches(event, name, subscription.names, subscription.where):
                    continue
            except Exception:
                log.exception("AMI subscription filter %r raised", subscription.where)
                continue
            queue = subscription.queue
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                queue.dropped += 1
        for names, where, callback in self._callbacks:
            if names and name not in names:
                continue
            try:
                if where is not None and not _matches(event, name, names, where):
                    continue
                result = callback(event)
            except Exception:
                log.exception("AMI event callback %r raised", callback)
                continue
            if result is not None and inspect.isawaitable(result):
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
        events if none) that pass ``where`` (a predicate, or headers that must be equal).

        A plain callback runs inside the connection's read loop, so it must be quick; an
        ``async`` one runs as a task of its own. What either raises is logged."""

        def register(callback: EventCallback) -> EventCallback:
            self._callbacks.append((frozenset(n.lower() for n in names), where, callback))
            return callback

        return register

    def remove_callback(self, callback: EventCallback) -> None:
        # ==, not "is": each ``obj.method`` is a new bound-method object, equal to the others.
        self._callbacks = [entry for entry in self._callbacks if entry[2] != callback]

    @contextlib.asynccontextmanager
    async def subscribe(
        self, *names: str, where: EventFilter = None, maxsize: int = 10_000
    ) -> AsyncIterator[EventQueue]:
        """A queue receiving matching events while the block runs (events beyond ``maxsize``
        waiting in it are dropped and counted in its ``dropped``, never blocking the
        connection)."""
        subscription = _Subscription(names, where, maxsize)
        self._subscriptions.append(subscription)
        try:
            yield subscription.queue
        finally:
            self._subscriptions.remove(subscription)

    async def events(
        self, *names: str, where: EventFilter = None, maxsize: int = 10_000
    ) -> AsyncGenerator[Message, None]:
        """``async for event in ami.events("Hangup", where={"Channel": name})``.

        The subscription lasts until the generator is closed: leave the loop with ``break``
        inside ``contextlib.aclosing(ami.events(...))`` to end it at once."""
        async with self.subscribe(*names, where=where, maxsize=maxsize) as queue:
            while True:
                yield await queue.get()


def _expire(future: asyncio.Future[Message], action: str, timeout: float) -> None:
    if not future.done():
        future.set_exception(TimeoutError(f"no response to AMI {action} within {timeout} s"))
