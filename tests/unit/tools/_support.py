"""Apps the tool tests run, and a FastAGI server in a thread of its own for the blocking tools."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import agikit
from agikit import App, Call
from agikit.testing.fake import Result
from agikit.transports.fastagi import FastAGIServer

DATA = Path(__file__).with_name("data")

app = App()


@app.route("/menu")
async def menu(call: Call, lang: str = "en") -> None:
    """Answer, offer a menu; 1 reads an account number, anything else says goodbye."""
    await call.answer()
    await call.set_variable("CHANNEL(language)", lang)
    choice = await call.stream_file("main-menu", escape_digits="12")
    if choice.digit == "1":
        account = await call.get_data("enter-account", timeout=5, max_digits=6)
        await call.set_variable("ACCOUNT", account.digits)
    else:
        await call.stream_file("goodbye")


@app.route("/fail")
async def fail(call: Call) -> None:
    await call.answer()
    raise RuntimeError("the handler broke")


@app.route("/basic")
async def basic(call: Call, origin: str = "", n: int = 0, *args: str) -> None:
    """What the reference call ``basic`` sent (in Asterisk's debug log, ``data/``)."""
    await call.answer()
    await call.get_variable("HARNESS_VAR")
    await call.get_variable("NOT_SET_ANYWHERE")
    await call.get_variable("CHANNEL(name)")
    await call.stream_file("hello-world")
    await call.stream_file("demo-congrats", escape_digits="#5")
    await call.wait_for_digit(5)
    await call.get_data("beep", timeout=5, max_digits=4)
    await call.set_variable("AGI_RESULT", "ok done")
    await call.get_full_variable("${AGI_RESULT}|${CHANNEL(state)}|${CALLERID(num)}")
    await call.channel_status()
    await call.verbose("hello from the harness", 1)
    await call.raw("NOOP just a noop")
    with contextlib.suppress(agikit.InvalidCommand):
        await call.raw("FOO BAR")
    with contextlib.suppress(agikit.UsageError):
        await call.raw("STREAM FILE")
    await call.hangup()
    await call.get_variable("HARNESS_VAR")


@app.route("/hupbusy")
async def hupbusy(call: Call) -> None:
    """What the reference call ``hupbusy`` sent, up to the hangup, written with agikit."""
    await call.answer()
    for name in ("HUP_LABEL", "AGISIGHUP", "AGIEXITONHANGUP"):
        await call.get_variable(name)
    while True:
        await call.wait_for_digit(0.5)


@contextlib.contextmanager
def fastagi_server(handler: Callable[..., Any] = app) -> Iterator[int]:
    """A FastAGIServer for ``handler`` on a loopback port, in a thread with its own event loop;
    yields the port. (The tools under test block, or run an event loop of their own.)"""
    loop = asyncio.new_event_loop()
    server = FastAGIServer(handler, host="127.0.0.1", port=0)
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(server.shutdown(grace=5))
        loop.close()

    thread = threading.Thread(target=serve, name="fastagi-server", daemon=True)
    thread.start()
    assert ready.wait(10), "the FastAGI server did not start"
    try:
        yield server.bound_port
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def as_debug_log(result: Result, channel: str, *, thread: int = 4242) -> str:
    """The session of ``result`` as Asterisk's AGI debug log would show it (FastAGI's first two
    environment lines without the channel, as Asterisk logs them)."""
    from agikit.testing.fake import Direction

    lines = []
    for entry in result.transcript:
        if entry.direction is Direction.NOTE:
            continue
        stamp = f"[2026-11-27 10:00:{entry.time:06.3f}] VERBOSE[{thread}][C-00000042] res_agi.c: "
        text = entry.data.decode("utf-8", "surrogateescape").rstrip("\n")
        if entry.direction is Direction.TO_AGI:
            prefix = (
                "" if text.startswith(("agi_network: ", "agi_network_script: ")) else f"<{channel}>"
            )
            lines.append(f"{stamp}{prefix}AGI Tx >> {text}")
        else:
            lines.append(f"{stamp}<{channel}>AGI Rx << {text}")
    # Asterisk's result: 4 (AGI_RESULT_HANGUP) when the call hung up, else 0 (SUCCESS).
    code = 4 if result.hung_up else 0
    request = result.environment.request if result.environment is not None else "?"
    lines.append(
        f"[2026-11-27 10:01:00.000] VERBOSE[{thread}][C-00000042] res_agi.c: "
        f"<{channel}>AGI Script {request} completed, returning {code}"
    )
    return "\n".join(lines) + "\n"
