"""agikit.ami against the real Asterisk 22: login, actions, event lists, events."""

from __future__ import annotations

import asyncio

import pytest

from agikit.ami import ActionError, AmiClient, LoginError
from agikit.testing.asterisk import Asterisk


def client(asterisk: Asterisk, **options: object) -> AmiClient:
    return AmiClient(
        "127.0.0.1", asterisk.ami_port, asterisk.ami_user, asterisk.ami_secret, **options
    )  # type: ignore[arg-type]


@pytest.mark.parametrize("auth", ["plain", "md5"])
def test_login_actions_and_command(asterisk: Asterisk, auth: str) -> None:
    async def main() -> None:
        async with client(asterisk, auth=auth) as ami:
            assert ami.banner and ami.banner.startswith("Asterisk Call Manager/")
            pong = await ami.action("Ping")
            assert pong["Ping"] == "Pong"
            assert "Asterisk 22." in await ami.command("core show version")
            with pytest.raises(ActionError, match="Invalid/unknown command"):
                await ami.action("NoSuchAction")
            assert "secret" not in repr(ami).lower()

    asyncio.run(main())


def test_bad_secret_is_a_login_error(asterisk: Asterisk) -> None:
    async def main() -> None:
        ami = AmiClient("127.0.0.1", asterisk.ami_port, asterisk.ami_user, "wrong", reconnect=False)
        with pytest.raises(LoginError, match="refused"):
            await ami.connect()

    asyncio.run(main())


def test_originate_events_and_event_list(asterisk: Asterisk) -> None:
    async def main() -> None:
        async with client(asterisk) as ami:
            async with ami.subscribe("Newchannel", "Hangup", "OriginateResponse") as events:
                await ami.action(
                    "Originate",
                    {
                        "Channel": "Local/hangup@agikit-dial",
                        "Application": "Wait",
                        "Data": "5",
                        "Async": "true",
                        "Variable": ["A=1", "B=2"],
                    },
                )
                seen: list[str] = []
                while "Hangup" not in seen:
                    event = await asyncio.wait_for(events.get(), 15)
                    seen.append(event.event or "")
                    if event.event == "Newchannel" and "channels" not in seen:
                        listing = await ami.action_list("CoreShowChannels")
                        seen.append("channels")
                        assert listing.complete["EventList"] == "Complete"
                        assert int(listing.complete["ListItems"]) == len(listing.events)
                        assert all(item.event == "CoreShowChannel" for item in listing)
            assert "Newchannel" in seen and "OriginateResponse" in seen

    asyncio.run(main())


@pytest.mark.integration
def test_reconnects_after_asterisk_restarts() -> None:
    """The client reports the disconnect and the reconnect, logs in again, and works on."""
    first = Asterisk().start()
    port, secret = first.ami_port, first.ami_secret

    async def main() -> list[str]:
        seen: list[str] = []
        ami = AmiClient(
            "127.0.0.1", port, first.ami_user, secret, auth="md5", backoff=0.2, max_backoff=0.5
        )
        async with ami, ami.subscribe("AgikitDisconnected", "AgikitReconnected") as changes:
            assert (await ami.action("Ping"))["Ping"] == "Pong"
            await asyncio.to_thread(first.stop)
            seen.append((await asyncio.wait_for(changes.get(), 10)).event or "")
            second = await asyncio.to_thread(Asterisk(ami_port=port, ami_secret=secret).start)
            try:
                seen.append((await asyncio.wait_for(changes.get(), 20)).event or "")
                assert (await ami.action("Ping"))["Ping"] == "Pong"
                assert ami.reconnects == 1
            finally:
                await asyncio.to_thread(second.stop)
        return seen

    try:
        assert asyncio.run(main()) == ["AgikitDisconnected", "AgikitReconnected"]
    finally:
        first.stop()
