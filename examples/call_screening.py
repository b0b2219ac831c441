#!/usr/bin/env python3
"""Call screening: turn away blocked callers, ring the callee, and log how every call ended,
including the calls whose caller hung up while the callee's phone was ringing.

The block list lives in Asterisk's database (``database put blocked 5551234 1`` on the CLI, or
the AMI ``DBPut`` action). For each call the handler stores ``DIALSTATUS`` under the family
``screening`` (key: the call's unique ID) and in the channel variable ``SCREEN_RESULT``. It
reads ``DIALSTATUS`` in a ``finally`` block: when the caller gives up during ``Dial``, agikit
marks the call hung up, and reading and writing variables and the database still work on the
dead channel, so the call is logged as ``CANCEL`` instead of not at all.

The callee is part of the URL (call_screening.conf):

    [incoming]
    exten => 200,1,AGI(agi://127.0.0.1/screen/PJSIP/bob?ring=30)
     same => n,Hangup()

Run it with ``agikit serve call_screening:app`` from this directory, or as a process-AGI script:
``AGI(call_screening.py,/screen/PJSIP/bob?ring=30)``.
"""

import agikit
from agikit import App, Call

#: Dial statuses after which the caller is still there and hears that nobody answered.
UNAVAILABLE = frozenset(("BUSY", "NOANSWER", "CHANUNAVAIL", "CONGESTION"))

app = App()


@app.route("/screen/{callee:path}")
async def screen(call: Call, callee: str, ring: int = 30) -> None:
    """Ring ``callee`` (a dial string such as ``PJSIP/bob``) for ``ring`` seconds at most."""
    await call.answer()
    if await call.database_get("blocked", call.env.callerid) is not None:
        await call.stream_file("ss-noservice")  # "The number you have dialed is not in service"
        await call.set_variable("SCREEN_RESULT", "BLOCKED")
        return

    await call.stream_file("pls-hold-while-try")  # "Please hold while I try that extension"
    status = "UNKNOWN"
    try:
        await call.exec("Dial", callee, str(ring))
    finally:
        # Runs even when the caller hung up during Dial: these commands work on a dead channel.
        status = await call.get_variable("DIALSTATUS") or "UNKNOWN"
        await call.set_variable("SCREEN_RESULT", status)
        await call.database_put("screening", call.env.uniqueid, status)

    if status in UNAVAILABLE and not call.hung_up:
        await call.stream_file("vm-nobodyavail")  # "Nobody is available to take your call"


if __name__ == "__main__":
    agikit.run(app)  # process AGI: the route is the first AGI() argument
