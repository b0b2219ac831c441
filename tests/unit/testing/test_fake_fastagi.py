"""The fake Asterisk connecting to a FastAGI server (a raw socket server in a thread)."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from agikit.testing.fake import (
    DEAD_CHANNEL,
    FakeAsterisk,
    close_stream,
    end_session,
    expect,
    hangup,
    send_raw,
)

from ._raw import RawClient, RawServer

DEAD = DEAD_CHANNEL.encode()


def test_session_over_tcp() -> None:
    def handler(raw: RawClient) -> list[list[bytes]]:
        raw.read_env()
        replies = [raw.command("ANSWER"), raw.command("GET VARIABLE X")]
        raw.reader.close()
        return replies

    server = RawServer(handler)
    url = f"agi://127.0.0.1:{server.port}/ivr/main?lang=en&x=1"
    fake = FakeAsterisk(
        [expect("ANSWER"), expect("GET VARIABLE X", reply="200 result=1 (y)")],
        args=["first arg", ""],
    )
    result = fake.run_fastagi(url)
    assert server.join() == [[b"200 result=0"], [b"200 result=1 (y)"]]
    assert server.client is not None
    env = server.client.env
    assert list(env)[:3] == ["agi_network", "agi_network_script", "agi_request"]
    assert env["agi_network"] == "yes"
    assert env["agi_network_script"] == "ivr/main?lang=en&x=1"
    assert env["agi_request"] == url
    assert env["agi_arg_1"] == "first arg" and env["agi_arg_2"] == ""
    assert env["agi_enhanced"] == "0.0"
    result.assert_ok()
    assert result.label == f"FastAGI {url}"
    assert result.notes[0].startswith("connected to 127.0.0.1 port")


def test_session_end_sends_hangup_then_closes() -> None:
    def handler(raw: RawClient) -> list[bytes]:
        raw.read_env()
        raw.command("ANSWER")
        assert raw.sock_shutdown is not None
        raw.sock_shutdown()
        return [raw.readline(), raw.readline()]

    def wrapped(raw: RawClient) -> list[bytes]:
        raw.sock_shutdown = lambda: server.sock.shutdown(socket.SHUT_WR)  # type: ignore[attr-defined, union-attr]
        return handler(raw)

    server = RawServer(wrapped)
    result = FakeAsterisk([expect("ANSWER")]).run_fastagi(f"agi://127.0.0.1:{server.port}")
    assert server.join() == [b"HANGUP\n", b""]
    result.assert_ok()


def test_no_final_hangup_with_agisighup_no() -> None:
    def handler(raw: RawClient) -> list[bytes]:
        raw.read_env()
        assert server.sock is not None
        server.sock.shutdown(socket.SHUT_WR)
        return [raw.readline()]

    server = RawServer(handler)
    FakeAsterisk(agisighup=False).run_fastagi(f"agi://127.0.0.1:{server.port}").assert_ok()
    assert server.join() == [b""]


def test_hangup_line_and_dead_channel() -> None:
    def handler(raw: RawClient) -> list[object]:
        raw.read_env()
        seen: list[object] = [raw.command("WAIT FOR DIGIT 500")]
        seen.append(raw.readline())  # the unsolicited HANGUP
        seen.append(raw.command("WAIT FOR DIGIT 500"))
        seen.append(raw.command("GET VARIABLE DIALSTATUS"))
        return seen

    server = RawServer(handler)
    fake = FakeAsterisk(
        [
            expect("WAIT FOR DIGIT 500", reply="200 result=-1"),
            hangup(),
            expect("WAIT FOR DIGIT 500"),
            expect("GET VARIABLE DIALSTATUS", reply="200 result=1 (ANSWER)"),
        ]
    )
    result = fake.run_fastagi(f"agi://127.0.0.1:{server.port}/x")
    assert server.join() == [
        [b"200 result=-1"],
        b"HANGUP\n",
        [DEAD],
        [b"200 result=1 (ANSWER)"],
    ]
    result.assert_ok()
    assert result.agi_status == "HANGUP"
    # the session-end HANGUP, sent after the AGI closed, is in the transcript too
    assert result.sent.endswith(b"HANGUP\n")


def test_hangup_before_reply_matches_the_real_transcript() -> None:
    def handler(raw: RawClient) -> list[bytes]:
        raw.read_env()
        raw.send(b"WAIT FOR DIGIT 500\n")
        return [raw.readline(), raw.readline()]

    server = RawServer(handler)
    fake = FakeAsterisk([expect("WAIT FOR DIGIT 500", hangup_before_reply=True)])
    fake.run_fastagi(f"agi://127.0.0.1:{server.port}").assert_ok()
    assert server.join() == [b"HANGUP\n", DEAD + b"\n"]


def test_exit_on_hangup_two_hangups_then_close() -> None:
    def handler(raw: RawClient) -> list[bytes]:
        raw.read_env()
        raw.command("ANSWER")
        return [raw.readline(), raw.readline(), raw.readline()]

    server = RawServer(handler)
    fake = FakeAsterisk([expect("ANSWER"), hangup()], exit_on_hangup=True)
    result = fake.run_fastagi(f"agi://127.0.0.1:{server.port}")
    assert server.join() == [b"HANGUP\n", b"HANGUP\n", b""]
    result.assert_ok()


def test_failure_line_gives_hangup_and_close() -> None:
    def handler(raw: RawClient) -> list[bytes]:
        raw.read_env()
        raw.send(b"failure\n")
        return [raw.readline(), raw.readline()]

    server = RawServer(handler)
    result = FakeAsterisk([expect("failure")]).run_fastagi(f"agi://127.0.0.1:{server.port}")
    assert server.join() == [b"HANGUP\n", b""]
    result.assert_ok()
    assert result.agi_status == "FAILURE"


def test_end_session() -> None:
    def handler(raw: RawClient) -> list[bytes]:
        raw.read_env()
        return [raw.readline(), raw.readline()]

    server = RawServer(handler)
    FakeAsterisk([end_session()]).run_fastagi(f"agi://127.0.0.1:{server.port}").assert_ok()
    assert server.join() == [b"HANGUP\n", b""]


def test_close_mid_reply_with_reset() -> None:
    def handler(raw: RawClient) -> object:
        raw.read_env()
        raw.send(b"ANSWER\n")
        try:
            data = raw.reader.read()
        except ConnectionResetError:
            return "reset"
        return data

    server = RawServer(handler)
    fake = FakeAsterisk([expect("ANSWER"), send_raw(b"200 res"), close_stream(reset=True)])
    fake.run_fastagi(f"agi://127.0.0.1:{server.port}").assert_ok()
    outcome = server.join()
    # The reset may arrive before the partial reply is read, or just after it.
    assert outcome in ("reset", b"200 res") or outcome == b"200 result=0\n200 res"


def test_ipv6() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        server = RawServer(lambda raw: raw.read_env(), family=socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback")
    result = FakeAsterisk().run_fastagi(f"agi://[::1]:{server.port}/v6")
    env = server.join()
    assert isinstance(env, dict) and env["agi_network_script"] == "v6"
    result.assert_ok()


def test_connection_refused() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    result = FakeAsterisk([expect("ANSWER")]).run_fastagi(f"agi://127.0.0.1:{port}")
    assert not result.ok and result.agi_status == "FAILURE"
    assert "could not connect to agi://127.0.0.1:" in result.failures[0].message
    assert result.failures[0].step is None


def test_unresolvable_host_like_a_query_without_a_path() -> None:
    result = FakeAsterisk().run_fastagi("agi://localhost?x=1")
    assert result.agi_status == "FAILURE"
    assert "could not resolve 'localhost?x=1'" in result.failures[0].message


def test_connect_timeout() -> None:
    # A listener whose accept queue is full leaves new connections pending (Linux drops the SYN).
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.1)
    try:
        start = time.monotonic()
        result = FakeAsterisk().run_fastagi(f"agi://127.0.0.1:{port}", connect_timeout=0.3)
        elapsed = time.monotonic() - start
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
    if result.ok:
        pytest.skip("this system completed the connection despite the full backlog")
    assert elapsed < 3
    assert result.agi_status == "FAILURE"
    assert "no answer in 0.3 s" in result.failures[0].message


def test_bad_url_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="not a FastAGI URL"):
        FakeAsterisk().start_fastagi("http://x")


def test_async_server_on_the_same_loop() -> None:
    async def main() -> list[bytes]:
        got: list[bytes] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while (await reader.readline()) != b"\n":
                pass
            writer.write(b"ANSWER\n")
            await writer.drain()
            got.append(await reader.readline())
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        result = (
            await FakeAsterisk([expect("ANSWER")])
            .start_fastagi(f"agi://127.0.0.1:{port}")
            .wait_async()
        )
        server.close()
        result.assert_ok()
        return got

    assert asyncio.run(main()) == [b"200 result=0\n"]
