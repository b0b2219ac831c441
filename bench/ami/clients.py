"""One measurement in a process of its own: an AMI client (agikit or panoramisk) against the load
process, or a parser in memory. Prints one JSON line: ``count`` (events or commands), ``seconds``
(wall clock), ``cpu`` (this process's CPU seconds, user + system), ``errors``.

::

    python bench/ami/clients.py --bench events --impl agikit --port 5038 --repeat 20
    python bench/ami/clients.py --bench asyncagi --impl panoramisk --port 5038 --channels 50
    python bench/ami/clients.py --bench parse --impl agikit --repeat 20

``events``: the load process streams the recorded events ``--repeat`` times; the client counts
them with an all-events callback (agikit ``AmiClient.on()``, panoramisk
``Manager.register_event('*')``) until ``BenchEnd``. ``events-read``: the callback also looks up
two headers (``Uniqueid``, ``Channel``) of every event, as a consumer that uses them would
(agikit splits a message into headers on first use; panoramisk always does).

``parse``: the same bytes fed in 64 KiB chunks straight to the parser, no socket, every message
split into all its headers: agikit's ``AmiParser.feed`` then ``Message.headers`` (which a
message otherwise does only when needed), panoramisk's ``AMIProtocol.data_received`` with a
factory whose ``dispatch`` counts (bytes to ``Message`` dicts, plus its response look-up).

``asyncagi``: the load process starts ``--channels`` channels in Async AGI; each runs
``--commands`` ``GET VARIABLE BENCH`` and checks the value, then ``ASYNCAGI BREAK``. agikit runs
an ``AsyncAGIServer`` handler using ``Call``; panoramisk sends the same ``AGI`` actions
(``actions.Command``, acknowledged with ``as_list=False``) and matches each ``AsyncAGIExec`` to its
``CommandID`` in an event callback, then parses the ``Result`` with ``parse_agi_result``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
VALUE = "bench-value"


def _measure() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _result(count: int, start: tuple[float, float], errors: int = 0) -> dict[str, Any]:
    wall, cpu = _measure()
    return {"count": count, "seconds": wall - start[0], "cpu": cpu - start[1], "errors": errors}


# -- events over loopback ---------------------------------------------------------------------
async def agikit_events(port: int, repeat: int, read: bool) -> dict[str, Any]:
    from agikit.ami import AmiClient, Message

    ami = AmiClient(
        "127.0.0.1", port, "bench", "bench", ping_interval=None, reconnect=False, timeout=600
    )
    await ami.connect()
    loop = asyncio.get_running_loop()
    done: asyncio.Future[int] = loop.create_future()
    count = 0

    def on_event(event: Message) -> None:
        nonlocal count
        count += 1
        if read:
            event.get("Uniqueid")
            event.get("Channel")
        if event.event == "BenchEnd":
            done.set_result(int(event["Events"]))

    ami.on()(on_event)
    start = _measure()
    await ami.action("BenchEvents", {"Repeat": str(repeat)})
    expected = await done
    result = _result(count - 1, start, errors=abs(count - 1 - expected))
    await ami.close()
    return result


async def panoramisk_events(port: int, repeat: int, read: bool) -> dict[str, Any]:
    from panoramisk import Manager

    loop = asyncio.get_running_loop()
    logged_in: asyncio.Future[None] = loop.create_future()
    done: asyncio.Future[int] = loop.create_future()
    count = 0

    def on_event(manager: Any, event: Any) -> None:
        nonlocal count
        count += 1
        if read:
            event.get("Uniqueid")
            event.get("Channel")
        if event.event == "BenchEnd":
            done.set_result(int(event["Events"]))

    manager = Manager(
        host="127.0.0.1",
        port=port,
        username="bench",
        secret="bench",
        loop=loop,
        ping_delay=3600,
        on_login=lambda m: logged_in.set_result(None),
    )
    manager.register_event("*", on_event)
    await manager.connect()
    await logged_in
    count = 0
    start = _measure()
    await manager.send_action({"Action": "BenchEvents", "Repeat": str(repeat)})
    expected = await done
    result = _result(count - 1, start, errors=abs(count - 1 - expected))
    manager.close()
    return result


# -- parsing in memory ------------------------------------------------------------------------
def _stream(repeat: int) -> list[bytes]:
    sys.path.insert(0, str(HERE))
    from load import BANNER, recorded_events

    data = BANNER + b"".join(recorded_events()) * repeat
    return [data[i : i + 65536] for i in range(0, len(data), 65536)]


def agikit_parse(repeat: int) -> dict[str, Any]:
    from agikit.ami import AmiParser

    chunks = _stream(repeat)
    parser = AmiParser()
    count = 0
    start = _measure()
    for chunk in chunks:
        for message in parser.feed(chunk):
            message.headers  # noqa: B018 - split into headers, as panoramisk does for every one
            count += 1
    return _result(count, start)


def panoramisk_parse(repeat: int) -> dict[str, Any]:
    from panoramisk.ami_protocol import AMIProtocol

    chunks = _stream(repeat)
    count = 0

    class Factory:
        save_stream = None

        def dispatch(self, event: Any) -> None:
            nonlocal count
            count += 1

    class Transport:
        def write(self, data: bytes) -> None:
            pass

    protocol = AMIProtocol()
    protocol.connection_made(Transport())
    protocol.factory = Factory()
    protocol.encoding = "utf8"
    start = _measure()
    for chunk in chunks:
        protocol.data_received(chunk)
    return _result(count, start)


# -- Async AGI --------------------------------------------------------------------------------
async def agikit_asyncagi(port: int, channels: int, commands: int) -> dict[str, Any]:
    from agikit.ami import AmiClient
    from agikit.transports.asyncagi import AsyncAGIServer

    ami = AmiClient(
        "127.0.0.1", port, "bench", "bench", ping_interval=None, reconnect=False, timeout=600
    )
    await ami.connect()
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    finished = errors = 0

    async def handler(call: Any) -> None:
        nonlocal finished, errors
        for _ in range(commands):
            if await call.get_variable("BENCH") != VALUE:
                errors += 1
        finished += 1
        if finished == channels:
            done.set_result(None)

    server = AsyncAGIServer(handler, ami)
    await server.start()
    start = _measure()
    await ami.action("BenchStart", {"Channels": str(channels)})
    await done
    await asyncio.wait_for(server._idle.wait(), 60)  # every ASYNCAGI BREAK answered
    result = _result(channels * commands, start, errors)
    await server.stop(1)
    await ami.close()
    return result


async def panoramisk_asyncagi(port: int, channels: int, commands: int) -> dict[str, Any]:
    from panoramisk import Manager
    from panoramisk.actions import Command
    from panoramisk.utils import parse_agi_result

    loop = asyncio.get_running_loop()
    logged_in: asyncio.Future[None] = loop.create_future()
    manager = Manager(
        host="127.0.0.1",
        port=port,
        username="bench",
        secret="bench",
        loop=loop,
        ping_delay=3600,
        on_login=lambda m: logged_in.set_result(None),
    )
    pending: dict[str, asyncio.Future[Any]] = {}
    tasks: list[asyncio.Task[None]] = []
    errors = 0

    def on_exec(manager: Any, event: Any) -> None:
        future = pending.pop(event.commandid, None)
        if future is not None:
            future.set_result(event)

    async def agi(channel: str, line: str) -> Any:
        action = Command({"Action": "AGI", "Channel": channel, "Command": line})
        future = loop.create_future()
        pending[action.id] = future
        ack = await manager.send_action(action, as_list=False)
        if not ack.success:
            raise RuntimeError(f"AGI action refused: {ack}")
        return await future

    async def drive(channel: str) -> None:
        nonlocal errors
        for _ in range(commands):
            event = await agi(channel, "GET VARIABLE BENCH")
            result = parse_agi_result(event["Result"])
            if result.get("status_code") != 200 or result["result"] != ("1", VALUE):
                errors += 1
        await agi(channel, "ASYNCAGI BREAK")

    def on_start(manager: Any, event: Any) -> None:
        tasks.append(loop.create_task(drive(event["Channel"])))

    manager.register_event("AsyncAGIExec", on_exec)
    manager.register_event("AsyncAGIStart", on_start)
    await manager.connect()
    await logged_in
    start = _measure()
    await manager.send_action({"Action": "BenchStart", "Channels": str(channels)})
    while len(tasks) < channels:
        await asyncio.sleep(0.001)
    await asyncio.gather(*tasks)
    result = _result(channels * commands, start, errors)
    manager.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--bench", choices=("events", "events-read", "parse", "asyncagi"), required=True
    )
    parser.add_argument("--impl", choices=("agikit", "panoramisk"), required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--commands", type=int, default=100)
    parser.add_argument("--cpu", type=int, help="pin to this CPU")
    parser.add_argument("--agikit-src", help="import agikit from this src/ directory")
    parser.add_argument("--profile", help="write a cProfile of the measurement to this file")
    options = parser.parse_args()
    if options.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {options.cpu})
    if options.agikit_src:
        sys.path.insert(0, options.agikit_src)
    if options.loop == "uvloop":
        import uvloop

        uvloop.install()
    work: Any
    if options.bench == "parse":
        work = globals()[f"{options.impl}_parse"]
        run = lambda: work(options.repeat)  # noqa: E731
    elif options.bench.startswith("events"):
        work = globals()[f"{options.impl}_events"]
        read = options.bench == "events-read"
        run = lambda: asyncio.run(work(options.port, options.repeat, read))  # noqa: E731
    else:
        work = globals()[f"{options.impl}_asyncagi"]
        run = lambda: asyncio.run(work(options.port, options.channels, options.commands))  # noqa: E731
    if options.profile:
        profile = cProfile.Profile()
        result = profile.runcall(run)
        profile.dump_stats(options.profile)
        pstats.Stats(options.profile, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    else:
        result = run()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
