#!/usr/bin/env python3
"""Async AGI takeover: an AMI application takes over calls that wait on hold, offers each
caller a call back, and hands the call back to the dialplan.

Callers wait with music in ``[queue-hold]``. This program watches the AMI events; once a caller
has waited ``--after`` seconds it takes the call over: an AMI ``Redirect`` sends the channel
to ``[agikit-takeover]``, whose ``AGI(agi:async,...)`` hands it to this same program over AMI
(no script, no socket), where ``callback_offer`` runs with the usual ``Call`` API. A caller who
presses 1 is logged for a call back (AstDB family ``callback``) and hung up; for anyone else
the handler returns, agikit sends ``ASYNCAGI BREAK``, and the dialplan puts the call back on
hold (priority 2, so it is offered only once). The dialplan (async_agi_takeover.conf):

    [queue-hold]
    exten => s,1,Answer()
     same => n,MusicOnHold(default)

    [agikit-takeover]
    exten => s,1,AGI(agi:async,/callback-offer)
     same => n,Goto(queue-hold,s,2)

The AMI user (manager.conf) reads ``agi`` (the Async AGI events), ``call`` (hangups) and
``dialplan`` (``Newexten``: a call entering the hold context), and writes ``agi`` (the
``AGI`` action) and ``call`` (``Redirect``):

    [takeover]
    secret = ...
    read = agi,call,dialplan
    write = agi,call

Run it with the secret in the environment, never on the command line:

    AGIKIT_AMI_SECRET=... python async_agi_takeover.py --user takeover --after 60
"""

import argparse
import asyncio
import contextlib
import os
import signal
import time

from agikit import App, Call
from agikit.ami import ActionError, AmiClient
from agikit.transports.asyncagi import AsyncAGIServer

HOLD_CONTEXT = "queue-hold"
#: The priority at which a call enters the hold context (a call put back on hold after the
#: offer comes in at priority 2, so it is offered only once).
HOLD_PRIORITY = "1"
TAKEOVER_CONTEXT = "agikit-takeover"
#: Your recording: "To be called back instead of waiting, press 1."
OFFER_PROMPT = "callback-offer"

app = App()


@app.route("/callback-offer")
async def callback_offer(call: Call, prompt: str = OFFER_PROMPT) -> None:
    """Offer a call back: 1 takes it (logged, then the call ends), anything else returns."""
    answer = await call.get_data(prompt, timeout=5, max_digits=1)
    if answer.digits != "1":
        return  # back to the dialplan, and on hold
    await call.database_put("callback", call.env.callerid, int(time.time()))
    await call.stream_file("auth-thankyou")  # "Thank you."
    await call.hangup()


# --8<-- [start:takeover]
async def take_over(ami: AmiClient, channel: str, context: str = TAKEOVER_CONTEXT) -> bool:
    """Send ``channel`` to ``context`` (extension ``s``, priority 1); False if it is gone."""
    try:
        await ami.action(
            "Redirect", {"Channel": channel, "Context": context, "Exten": "s", "Priority": "1"}
        )
    except ActionError:
        return False  # the caller hung up meanwhile
    return True


async def watch_hold(ami: AmiClient, after: float, context: str = TAKEOVER_CONTEXT) -> None:
    """Take over every call that has waited ``after`` seconds since it entered the hold
    context; a call that hangs up first is forgotten. Runs until cancelled."""
    waiting: dict[str, asyncio.Task[bool]] = {}

    async def later(channel: str) -> bool:
        await asyncio.sleep(after)
        return await take_over(ami, channel, context)

    try:
        async for event in ami.events("Newexten", "Hangup"):
            uniqueid = event.get("Uniqueid") or ""
            if event.event == "Hangup":
                task = waiting.pop(uniqueid, None)
                if task is not None:
                    task.cancel()
            elif event.get("Context") == HOLD_CONTEXT and event.get("Priority") == HOLD_PRIORITY:
                task = asyncio.create_task(later(event.get("Channel") or ""))
                task.add_done_callback(lambda _, key=uniqueid: waiting.pop(key, None))
                waiting[uniqueid] = task
    finally:
        for task in waiting.values():
            task.cancel()


# --8<-- [end:takeover]


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--ami", default="127.0.0.1:5038", help="AMI host:port")
    parser.add_argument("--user", required=True, help="AMI user name")
    parser.add_argument("--after", type=float, default=60, help="seconds on hold before")
    args = parser.parse_args(argv)
    host, _, port = args.ami.rpartition(":")
    secret = os.environ["AGIKIT_AMI_SECRET"]

    async with AmiClient(host, int(port), args.user, secret, auth="md5") as ami:
        server = AsyncAGIServer(app, ami)
        await server.start()  # runs the app for each AsyncAGIStart
        watcher = asyncio.create_task(watch_hold(ami, args.after))
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        await stop.wait()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await server.stop(grace=30)  # let calls in progress finish


if __name__ == "__main__":
    asyncio.run(main())
