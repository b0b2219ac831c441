"""The load process: a fake Asterisk manager on 127.0.0.1 that the AMI clients under test connect
to, one connection at a time or many.

It prints ``{"port": N}`` on stdout, then serves until its stdin closes (or 30 minutes pass).
Each connection gets the banner, then:

* ``Action: Login`` (any user, any secret) gets ``Response: Success`` /
  ``Authentication accepted``; ``Action: Ping`` gets ``Ping: Pong``.
* ``Action: BenchEvents`` with ``Repeat: R`` gets ``Response: Success``, then the recorded event
  stream (every event of the Asterisk 22 transcripts in ``tests/unit/ami/data``) R times, written
  as fast as the socket takes it, then ``Event: BenchEnd`` with ``Events: <count>``.
* ``Action: BenchStart`` with ``Channels: N`` gets ``Response: Success``, then N
  ``AsyncAGIStart`` events (channel snapshot of a real one, an environment with
  ``agi_uniqueid: bench.<i>``).
* ``Action: AGI`` gets what Asterisk sends for a command that runs at once: the response
  ``Added AGI command to queue``, then ``AGIExecStart``, ``AGIExecEnd`` and ``AsyncAGIExec``
  (``Result`` URL-encoded, ``CommandId`` echoed), each with the channel snapshot; and
  ``AsyncAGIEnd`` after ``ASYNCAGI BREAK``. ``GET VARIABLE <name>`` answers
  ``200 result=1 (<value of BENCH_<name>>)``, or the value given by ``--value``; anything else
  ``200 result=0``.

The per-action work is a split, a few ``find``\\ s and one ``write`` of preformatted bytes, so
that the clients, not this process, are the bottleneck (uvloop is used when installed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import threading
import urllib.parse
from pathlib import Path
from typing import cast

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "tests" / "unit" / "ami" / "data"
BANNER = b"Asterisk Call Manager/11.0.0\r\n"

#: The channel snapshot of a real AsyncAGIStart (asyncagi_session.txt), {name}/{uid} to fill.
SNAPSHOT = (
    "Privilege: agi,all\r\nChannel: {name}\r\nChannelState: 4\r\nChannelStateDesc: Ring\r\n"
    "CallerIDNum: 1000\r\nCallerIDName: Harness\r\nConnectedLineNum: 1000\r\n"
    "ConnectedLineName: Harness\r\nLanguage: en\r\nAccountCode: \r\nContext: asyncagi\r\n"
    "Exten: amisess\r\nPriority: 3\r\nUniqueid: {uid}\r\nLinkedid: bench.0\r\n"
)
ENVIRONMENT = (
    "agi_request: async\nagi_channel: {name}\nagi_language: en\nagi_type: Local\n"
    "agi_uniqueid: {uid}\nagi_version: 22.10.1+dfsg+~cs6.17.60671434-1\nagi_callerid: 1000\n"
    "agi_calleridname: Harness\nagi_callingpres: 0\nagi_callingani2: 0\nagi_callington: 0\n"
    "agi_callingtns: 0\nagi_dnid: unknown\nagi_rdnis: unknown\nagi_context: asyncagi\n"
    "agi_extension: amisess\nagi_priority: 3\nagi_enhanced: 0.0\nagi_accountcode: \n"
    "agi_threadid: 140615145821888\nagi_arg_1: bench\nagi_arg_2: second\n\n"
)


def recorded_events() -> list[bytes]:
    """Every event Asterisk sent in the transcripts, in file order, exact bytes."""
    sys.path.insert(0, str(HERE.parents[1]))
    from tests.unit.ami import _transcripts

    return [
        data
        for name in _transcripts.names()
        for data in _transcripts.incoming(name)
        if data.startswith(b"Event: ")
    ]


def quote(data: bytes) -> str:
    """Asterisk's ``ast_uri_encode`` (``ast_uri_http``) for short data."""
    return urllib.parse.quote(data, safe="-_.!~*'()")


class Channel:
    __slots__ = ("exec_end", "exec_start", "name", "snapshot", "uid")

    def __init__(self, number: int) -> None:
        self.uid = f"bench.{number}"
        self.name = f"Local/bench{number}@asyncagi-{number:08x};2"
        self.snapshot = SNAPSHOT.format(name=self.name, uid=self.uid).encode()
        self.exec_start = b"Event: AGIExecStart\r\n" + self.snapshot
        self.exec_end = b"Event: AGIExecEnd\r\n" + self.snapshot

    def start_event(self) -> bytes:
        env = ENVIRONMENT.format(name=self.name, uid=self.uid).encode()
        return (
            b"Event: AsyncAGIStart\r\n"
            + self.snapshot
            + b"Env: "
            + quote(env).encode()
            + b"\r\n\r\n"
        )


class Load(asyncio.Protocol):
    def __init__(self, server: LoadServer) -> None:
        self.server = server
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.numbers = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio's
        self.transport.write(BANNER)

    def data_received(self, data: bytes) -> None:
        data = self.buffer + data if self.buffer else data
        *messages, self.buffer = data.split(b"\r\n\r\n")
        out: list[bytes] = []
        for message in messages:
            self.handle(message, out)
        if out and self.transport is not None:
            self.transport.write(b"".join(out))

    def handle(self, message: bytes, out: list[bytes]) -> None:
        fields: dict[bytes, bytes] = {}
        for line in message.split(b"\r\n"):
            name, _, value = line.partition(b": ")
            fields.setdefault(name.lower(), value)
        action = fields.get(b"action", b"").lower()
        aid = fields.get(b"actionid")
        head = b"ActionID: " + aid + b"\r\n" if aid is not None else b""
        if action == b"agi":
            self.agi(fields, head, out)
        elif action in (b"login", b"events"):
            out.append(
                b"Response: Success\r\n" + head + b"Message: Authentication accepted\r\n\r\n"
            )
        elif action == b"ping":
            out.append(b"Response: Success\r\n" + head + b"Ping: Pong\r\nTimestamp: 1.0\r\n\r\n")
        elif action == b"benchevents":
            out.append(b"Response: Success\r\n" + head + b"\r\n")
            self.blast(int(fields.get(b"repeat", b"1")))
        elif action == b"benchstart":
            out.append(b"Response: Success\r\n" + head + b"\r\n")
            for _ in range(int(fields.get(b"channels", b"1"))):
                self.numbers += 1
                channel = Channel(self.numbers)
                self.server.channels[channel.uid] = self.server.channels[channel.name] = channel
                out.append(channel.start_event())
        elif action == b"logoff":
            out.append(
                b"Response: Goodbye\r\n" + head + b"Message: Thanks for all the fish.\r\n\r\n"
            )
            if self.transport is not None:
                self.transport.write(b"".join(out))
                out.clear()
                self.transport.close()
        else:
            out.append(b"Response: Error\r\n" + head + b"Message: Invalid/unknown command\r\n\r\n")

    def agi(self, fields: dict[bytes, bytes], head: bytes, out: list[bytes]) -> None:
        key = fields.get(b"channel", b"").decode()
        channel = self.server.channels.get(key)
        if channel is None:
            message = f"Channel {key} does not exist."
            out.append(
                b"Response: Error\r\n" + head + b"Message: " + message.encode() + b"\r\n\r\n"
            )
            return
        out.append(b"Response: Success\r\n" + head + b"Message: Added AGI command to queue\r\n\r\n")
        command = fields.get(b"command", b"")
        number = b"%d" % self.server.next_number()
        words = command.split(b" ")
        if words[:2] == [b"GET", b"VARIABLE"] and len(words) == 3:
            result = self.server.variable(words[2])
        else:
            result = b"200%20result%3D0%0A"
        cid = fields.get(b"commandid")
        tail = b"CommandId: " + cid + b"\r\n" if cid is not None else b""
        out.append(
            channel.exec_start + b"CommandId: " + number + b"\r\nCommand: " + command + b"\r\n\r\n"
        )
        out.append(
            channel.exec_end
            + b"CommandId: "
            + number
            + b"\r\nCommand: "
            + command
            + b"\r\nResultCode: 200\r\nResult: Success\r\n\r\n"
        )
        out.append(
            b"Event: AsyncAGIExec\r\n"
            + channel.snapshot
            + b"Result: "
            + result
            + b"\r\n"
            + tail
            + b"\r\n"
        )
        if words[:2] == [b"ASYNCAGI", b"BREAK"]:
            out.append(b"Event: AsyncAGIEnd\r\n" + channel.snapshot + b"\r\n")
            self.server.channels.pop(channel.uid, None)
            self.server.channels.pop(channel.name, None)

    def blast(self, repeat: int) -> None:
        transport = self.transport
        assert transport is not None
        stream = self.server.stream
        count = len(self.server.events)
        end = b"Event: BenchEnd\r\nEvents: %d\r\n\r\n" % (count * repeat)
        # Written in pieces as the socket drains, never more than a few MB queued.
        pieces = iter([stream] * repeat + [end])

        def more() -> None:
            for piece in pieces:
                transport.write(piece)
                if transport.get_write_buffer_size() > 4 << 20:
                    self.server.loop.call_later(0.001, more)
                    return

        more()


class LoadServer:
    def __init__(self, value: str, loop: asyncio.AbstractEventLoop) -> None:
        self.events = recorded_events()
        self.stream = b"".join(self.events)
        self.channels: dict[str, Channel] = {}
        self.value = value
        self._number = 0
        self._results: dict[bytes, bytes] = {}
        self.loop = loop

    def next_number(self) -> int:
        self._number += 1
        return self._number

    def variable(self, name: bytes) -> bytes:
        result = self._results.get(name)
        if result is None:
            reply = b"200 result=1 (" + self.value.encode() + b")\n"
            result = self._results[name] = quote(reply).encode()
        return result


async def main(port: int, value: str) -> None:
    loop = asyncio.get_running_loop()
    load = LoadServer(value, loop)
    server = await loop.create_server(lambda: Load(load), "127.0.0.1", port, backlog=1024)
    print(
        json.dumps({"port": server.sockets[0].getsockname()[1], "events": len(load.events)}),
        flush=True,
    )
    done = loop.create_future()

    def watch_stdin() -> None:
        sys.stdin.read()
        loop.call_soon_threadsafe(done.set_result, None)

    threading.Thread(target=watch_stdin, daemon=True).start()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done, 1800)
    server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--value", default="bench-value", help="GET VARIABLE's answer")
    parser.add_argument("--cpu", type=int, help="pin to this CPU")
    options = parser.parse_args()
    if options.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {options.cpu})
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(options.port, options.value))
