"""AmiClient against a fake AMI server on loopback (no Asterisk)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from typing import Any

import pytest

from agikit.ami import (
    ActionError,
    AmiClient,
    AmiDisconnected,
    EventQueue,
    LoginError,
    Message,
)

from . import _transcripts
from ._fakeami import FakeAmiServer, FakeConnection, encode, response, run, serving


def client(server: FakeAmiServer, **options: Any) -> AmiClient:
    options.setdefault("timeout", 2.0)
    options.setdefault("backoff", 0.05)
    return AmiClient("127.0.0.1", server.port, server.username, server.secret, **options)


def user_event(number: int, **headers: str) -> bytes:
    return encode(
        ("Event", "UserEvent"),
        ("Privilege", "user,all"),
        ("UserEvent", "Probe"),
        ("N", str(number)),
        *headers.items(),
    )


# -- login ------------------------------------------------------------------------------------
def test_plain_login() -> None:
    async def main() -> None:
        async with serving() as server, client(server, events="call,agi") as ami:
            assert ami.connected
            assert ami.banner == "Asterisk Call Manager/11.0.0"
            (login,) = server.actions("Login")
            assert login["Username"] == "harness"
            assert login["Secret"] == "harness-secret"
            assert login["Events"] == "call,agi"
            assert "AuthType" not in login
            assert (await ami.action("Ping"))["Ping"] == "Pong"
            assert "harness-secret" not in repr(ami)

    run(main())


def test_md5_login_sends_the_key_not_the_secret() -> None:
    async def main() -> None:
        # The transcript's challenge and key (login.txt, connection C).
        async with serving(challenge="112443435") as server, client(server, auth="md5") as ami:
            assert ami.connected
            (challenge,) = server.actions("Challenge")
            assert challenge["AuthType"].lower() == "md5"
            (login,) = server.actions("Login")
            assert login["Key"] == "9a7ce12d100145561bbba859c3a89921"
            assert login["Key"] == hashlib.md5(b"112443435harness-secret").hexdigest()
            assert login["AuthType"].lower() == "md5"
            assert "Secret" not in login
            assert all("harness-secret" not in repr(m) for m in server.received)

    run(main())


@pytest.mark.parametrize(
    ("auth", "username", "secret"),
    [("plain", "harness", "wrong"), ("plain", "nobody", "harness-secret"), ("md5", "harness", "x")],
)
def test_login_failure_after_asterisks_delay(auth: str, username: str, secret: str) -> None:
    async def main() -> None:
        async with serving(failure_delay=1.0) as server:
            ami = AmiClient("127.0.0.1", server.port, username, secret, auth=auth, reconnect=False)
            started = time.monotonic()
            with pytest.raises(LoginError, match="refused: Authentication failed") as info:
                await ami.connect()
            assert time.monotonic() - started >= 0.95
            assert secret not in str(info.value)
            assert not ami.connected
            await server.wait_for(lambda: not server.live)
            with pytest.raises(AmiDisconnected):
                await ami.action("Ping")

    run(main())


def test_unreachable_and_bad_banner() -> None:
    async def main() -> None:
        async with serving() as server:
            port = server.port
        ami = AmiClient("127.0.0.1", port, "u", "s", reconnect=False, timeout=1.0)
        with pytest.raises(AmiDisconnected, match="cannot reach"):
            await ami.connect()
        async with serving(banner=b"SSH-2.0-OpenSSH_9.2\r\n") as server:
            ami = client(server, reconnect=False)
            with pytest.raises(AmiDisconnected, match="before its banner"):
                await ami.connect()

    run(main())


# -- actions and events -----------------------------------------------------------------------
def test_actions_matched_by_actionid_with_interleaved_events() -> None:
    async def answer_later(connection: FakeConnection, request: Message) -> None:
        delay = float(request["Delay"])
        connection.write(user_event(int(delay * 100)))
        await asyncio.sleep(delay)
        connection.write(user_event(int(delay * 1000)))
        connection.write(response(request, "Success", ("Value", request["Delay"])))

    async def main() -> None:
        async with serving() as server:
            server.handlers["getvar"] = answer_later
            async with client(server) as ami, ami.subscribe("UserEvent") as events:
                delays = ["0.2", "0.05", "0.1", "0", "0.15"]
                results = await asyncio.gather(
                    *(ami.action("Getvar", {"Delay": d}) for d in delays)
                )
                assert [r["Value"] for r in results] == delays
                assert len({r.action_id for r in results}) == len(delays)
                assert events.qsize() == 2 * len(delays)
                # Responses never reach subscribers, even with an ActionID of nobody's.
                server.broadcast(encode(("Response", "Success"), ("ActionID", "stray")))
                await ami.action("Ping")
                assert events.qsize() == 2 * len(delays)

    run(main())


def test_action_error_and_check_false() -> None:
    async def main() -> None:
        async with serving() as server, client(server) as ami:
            with pytest.raises(ActionError, match="Invalid/unknown command: NoSuch") as info:
                await ami.action("NoSuch")
            assert info.value.action == "NoSuch"
            assert info.value.response.response == "Error"
            reply = await ami.action("NoSuch", check=False)
            assert reply.response == "Error"

    run(main())


def test_action_timeout() -> None:
    async def main() -> None:
        async with serving() as server, client(server) as ami:
            server.handlers["silent"] = lambda connection, request: None
            with pytest.raises(TimeoutError, match=r"no response to AMI Silent within 0\.1 s"):
                await ami.action("Silent", timeout=0.1)
            assert not ami._pending
            assert (await ami.action("Ping"))["Ping"] == "Pong"

    run(main())


def _list_items(action_id: str, name: str) -> list[bytes]:
    """The transcript's reply to an event-list action, re-labelled with ``action_id``."""
    original = next(
        r.data
        for r in _transcripts.records("eventlist.txt")
        if r.direction == ">>"
        and b"Action: " + name.encode() + b"\r\n" in r.data
        and b"ActionID" in r.data
        and b"Channel:" not in r.data
    )
    old = _transcripts.parse(original).action_id
    assert old is not None
    return [
        data.replace(old.encode(), action_id.encode())
        for data in _transcripts.incoming("eventlist.txt")
        if f"ActionID: {old}\r\n".encode() in data
    ]


def test_event_lists_with_actionid_anywhere() -> None:
    async def listing(connection: FakeConnection, request: Message) -> None:
        name = request["Action"]
        items = _list_items(request.action_id or "", name)
        assert len(items) == 4  # response, two items, complete
        for data in items:
            connection.write(data)
            # Unrelated events in between, as on a busy Asterisk.
            connection.write(user_event(1))
            await asyncio.sleep(0)

    async def main() -> None:
        async with serving() as server:
            server.handlers["coreshowchannels"] = listing
            server.handlers["status"] = listing
            async with client(server) as ami, ami.subscribe() as events:
                channels, status = await asyncio.gather(
                    ami.action_list("CoreShowChannels"), ami.action_list("Status")
                )
                assert channels.response["EventList"] == "start"
                assert [e.event for e in channels] == ["CoreShowChannel"] * 2
                assert channels.events[0].headers[1][0] == "ActionID"  # second line
                assert channels.complete.event == "CoreShowChannelsComplete"
                assert int(channels.complete["ListItems"]) == len(channels) == 2
                assert [e.event for e in status] == ["Status"] * 2
                assert status.events[0].headers[-1][0] == "ActionID"  # last line
                assert status.complete["Items"] == "2"
                assert repr(status) == "ListResult(2 events)"
                # Only the unrelated events were published.
                await ami.action("Ping")
                published = [events.get_nowait() for _ in range(events.qsize())]
                assert {e.event for e in published} == {"UserEvent"}
                assert not ami._lists and not ami._pending

    run(main())


def test_event_list_error_and_non_list_answer() -> None:
    async def main() -> None:
        async with serving() as server:
            server.handlers["status"] = lambda connection, request: connection.write(
                response(request, "Error", ("Message", "No such channel"))
            )
            server.handlers["getvar"] = lambda connection, request: connection.write(
                response(request, "Success", ("Value", "1"))
            )
            async with client(server) as ami:
                with pytest.raises(ActionError, match="No such channel"):
                    await ami.action_list("Status", {"Channel": "nope"})
                answer = await ami.action_list("Getvar")
                assert len(answer) == 0 and answer.complete["Value"] == "1"

    run(main())


def test_command_output() -> None:
    version = next(
        data for data in _transcripts.incoming("eventlist.txt") if b"L-command-10" in data
    )

    async def main() -> None:
        async with serving() as server:
            server.handlers["command"] = lambda connection, request: connection.write(
                version.replace(b"L-command-10", (request.action_id or "").encode())
            )
            async with client(server) as ami:
                output = await ami.command("core show version")
                assert output.startswith("Asterisk 22.10.1")
                (sent,) = server.actions("Command")
                assert sent["Command"] == "core show version"

    run(main())


# -- subscriptions and callbacks --------------------------------------------------------------
def test_subscriptions_filter_and_count_drops() -> None:
    async def main() -> None:
        async with serving() as server, client(server) as ami:
            async with (
                ami.subscribe("userevent", maxsize=3) as small,
                ami.subscribe("UserEvent", where={"N": "2"}) as by_header,
                ami.subscribe(where=lambda e: e.get("N") in ("3", "4")) as by_predicate,
                ami.subscribe("Other") as other,
                ami.subscribe(where=lambda e: 1 / 0 > 0) as broken,
            ):
                assert isinstance(small, EventQueue)
                for number in range(6):
                    server.broadcast(user_event(number))
                await ami.action("Ping")
                assert [small.get_nowait()["N"] for _ in range(small.qsize())] == ["0", "1", "2"]
                assert small.dropped == 3
                assert [e["N"] for e in [by_header.get_nowait()]] == ["2"]
                assert by_header.empty() and by_header.dropped == 0
                assert [by_predicate.get_nowait()["N"] for _ in range(2)] == ["3", "4"]
                assert other.empty() and broken.empty()  # a raising filter is logged
                assert ami.connected
            assert not ami._subscriptions

    run(main())


def test_events_iterator() -> None:
    async def main() -> None:
        async with serving() as server, client(server) as ami:
            seen: list[str] = []

            async def consume() -> None:
                async with contextlib.aclosing(ami.events("UserEvent")) as stream:
                    async for event in stream:
                        seen.append(event["N"])
                        if len(seen) == 3:
                            break

            task = asyncio.create_task(consume())
            await server.wait_for(lambda: ami._subscriptions)
            for number in range(5):
                server.broadcast(user_event(number))
            await task
            assert seen == ["0", "1", "2"]
            assert not ami._subscriptions

    run(main())


def test_callbacks_sync_and_async(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        async with serving() as server, client(server) as ami:
            sync_seen: list[str] = []
            async_seen: list[str] = []
            done = asyncio.Event()

            @ami.on("UserEvent", where={"UserEvent": "Probe"})
            def sync_callback(event: Message) -> bool:
                sync_seen.append(event["N"])
                return True  # not awaitable: ignored

            @ami.on("UserEvent")
            async def async_callback(event: Message) -> None:
                await asyncio.sleep(0.01)
                async_seen.append(event["N"])
                if len(async_seen) == 3:
                    done.set()

            @ami.on()
            def broken(event: Message) -> None:
                raise RuntimeError("callback bug")

            @ami.on("UserEvent")
            async def broken_async(event: Message) -> None:
                raise RuntimeError("async callback bug")

            for number in range(3):
                server.broadcast(user_event(number))
            await asyncio.wait_for(done.wait(), 2)
            assert sync_seen == ["0", "1", "2"]
            assert sorted(async_seen) == ["0", "1", "2"]
            assert ami.connected  # a failing callback does not break the connection
            ami.remove_callback(sync_callback)
            server.broadcast(user_event(9))
            await ami.action("Ping")
            assert sync_seen == ["0", "1", "2"]

    with caplog.at_level(logging.ERROR, "agikit.ami"):
        run(main())
    assert "callback bug" in caplog.text and "async callback bug" in caplog.text


# -- connection loss, keep-alive, reconnection ------------------------------------------------
def test_keepalive_timeout_reconnects() -> None:
    async def main() -> None:
        async with serving() as server:
            ami = client(server, ping_interval=0.1, timeout=0.2)
            async with ami, ami.subscribe("AgikitDisconnected", "AgikitReconnected") as events:
                await server.wait_for(lambda: len(server.actions("Ping")) >= 2)
                server.answer_pings = False
                first = await asyncio.wait_for(events.get(), 3)
                server.answer_pings = True
                second = await asyncio.wait_for(events.get(), 3)
                assert (first.event, second.event) == ("AgikitDisconnected", "AgikitReconnected")
                assert first["Synthetic"] == "agikit"
                assert len(server.actions("Login")) == 2
                assert ami.reconnects == 1
                assert (await ami.action("Ping"))["Ping"] == "Pong"

    run(main())


def test_server_restart_gives_synthetic_events_and_relogin() -> None:
    async def main() -> None:
        server = await FakeAmiServer().start()
        ami = client(server, ping_interval=None, backoff=0.05, max_backoff=0.2)
        await ami.connect()
        async with ami.subscribe() as events:
            server.handlers["silent"] = lambda connection, request: None
            pending = asyncio.create_task(ami.action("Silent", timeout=10))
            await server.wait_for(lambda: server.actions("Silent"))
            await server.stop()  # Asterisk goes away
            with pytest.raises(AmiDisconnected, match="was lost"):
                await pending  # its outcome is unknown: it fails, it is not retried
            gone = await asyncio.wait_for(events.get(), 2)
            assert gone.event == "AgikitDisconnected"
            assert not ami.connected
            # An action made meanwhile waits for the connection to come back.
            waiting = asyncio.create_task(ami.action("Ping", timeout=5))
            await asyncio.sleep(0.3)  # a few refused reconnection attempts
            await server.start()  # same port
            back = await asyncio.wait_for(events.get(), 5)
            assert back.event == "AgikitReconnected"
            assert (await waiting)["Ping"] == "Pong"
            assert ami.connected and ami.reconnects == 1
            assert len([c for c in server.live if c.logged_in]) == 1
            # Events flow on the new connection.
            server.broadcast(user_event(5))
            event = await asyncio.wait_for(events.get(), 2)
            while event.event != "UserEvent":
                event = await asyncio.wait_for(events.get(), 2)
            assert event["N"] == "5"
        await ami.close()
        await server.stop()

    run(main())


def test_relogin_refused_keeps_retrying() -> None:
    async def main() -> None:
        async with serving() as server:
            ami = client(server, ping_interval=None, backoff=0.02, max_backoff=0.05)
            await ami.connect()
            server.accept_logins = False
            for connection in server.live:
                connection.close()
            await server.wait_for(lambda: len(server.actions("Login")) >= 3)
            assert not ami.connected
            server.accept_logins = True
            await server.wait_for(lambda: ami.connected)
            await ami.close()

    run(main())


def test_pending_actions_fail_with_disconnected() -> None:
    async def main() -> None:
        async with serving() as server:
            server.handlers["silent"] = lambda connection, request: None
            async with client(server, reconnect=False, ping_interval=None) as ami:
                tasks = [asyncio.create_task(ami.action("Silent")) for _ in range(3)]
                listing = asyncio.create_task(ami.action_list("Silent"))
                await server.wait_for(lambda: len(server.actions("Silent")) == 4)
                for connection in server.live:
                    connection.close()
                for task in [*tasks, listing]:
                    with pytest.raises(AmiDisconnected):
                        await task
                assert not ami.connected
                with pytest.raises(AmiDisconnected, match="not connected"):
                    await ami.action("Ping")
                with pytest.raises(AmiDisconnected, match="not connected"):
                    ami.send("Ping")

    run(main())


def test_close_logs_off_and_stops_reconnecting() -> None:
    async def main() -> None:
        async with serving() as server:
            ami = client(server, ping_interval=0.05)
            await ami.connect()
            async with ami.subscribe() as events:
                await ami.close()
                (logoff,) = server.actions("Logoff")
                assert logoff.action_id is not None
                await server.wait_for(lambda: not server.live)
                await asyncio.sleep(0.2)
                assert len(server.actions("Login")) == 1  # no reconnection
                assert not ami.connected
                published = [events.get_nowait().event for _ in range(events.qsize())]
                assert "AgikitDisconnected" not in published
            with pytest.raises(AmiDisconnected):
                await ami.action("Ping")

    run(main())


def test_close_during_reconnection() -> None:
    async def main() -> None:
        server = await FakeAmiServer().start()
        ami = client(server, ping_interval=None, backoff=0.02, max_backoff=0.02)
        await ami.connect()
        await server.stop()
        await asyncio.sleep(0.1)  # reconnecting: refused attempts
        await ami.close()
        assert ami._supervisor is not None and ami._supervisor.done()

    run(main())


def test_protocol_error_drops_the_connection() -> None:
    async def main() -> None:
        async with serving() as server:
            ami = client(server, ping_interval=None)
            await ami.connect()
            async with ami.subscribe("AgikitDisconnected", "AgikitReconnected") as events:
                ami._protocol.parser._max_message = 100  # type: ignore[union-attr]
                server.broadcast(b"Event: Huge\r\nData: " + b"x" * 200)
                assert (await asyncio.wait_for(events.get(), 2)).event == "AgikitDisconnected"
                assert (await asyncio.wait_for(events.get(), 2)).event == "AgikitReconnected"
            await ami.close()

    run(main())


def test_send_action_returns_the_response_future() -> None:
    async def main() -> None:
        async with serving() as server, client(server) as ami:
            first = ami.send_action("Ping")
            second = ami.send_action("NoSuch")
            pong, error = await asyncio.gather(first, second)
            assert pong["Ping"] == "Pong"
            assert error.response == "Error"  # not raised: the caller checks
            assert not ami._pending
            # Both went out in one write, at the end of the loop turn.
            assert server.actions("Ping")[-1].action_id == pong.action_id

    run(main())


def test_works_on_uvloop() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def main() -> None:
        async with serving() as server, client(server, auth="md5") as ami:
            async with ami.subscribe("UserEvent") as events:
                server.broadcast(user_event(1))
                assert (await asyncio.wait_for(events.get(), 2))["N"] == "1"
            assert (await ami.action("Ping"))["Ping"] == "Pong"

    run(main(), loop_factory=uvloop.new_event_loop)


def test_constructor_checks_auth() -> None:
    with pytest.raises(ValueError, match="plain"):
        AmiClient(auth="sha1")
