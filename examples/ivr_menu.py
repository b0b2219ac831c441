#!/usr/bin/env python3
"""An IVR menu with retries: press 1 for sales, 2 for support, 0 for the operator.

The caller hears the menu and has ``timeout`` seconds to press a key. A key that is not on the
menu, or no key at all, costs one try; after ``retries`` tries the call goes to the operator.
The handler does not route the call itself: it leaves the choice in ``IVR_CHOICE`` (and the
tries it took in ``IVR_TRIES``) and the dialplan goes on from there (ivr_menu.conf):

    [incoming]
    exten => 100,1,Answer()
     same => n,AGI(agi://127.0.0.1/menu?retries=3)
     same => n,GotoIf($["${AGISTATUS}" != "SUCCESS"]?operator,s,1)
     same => n,Goto(${IVR_CHOICE},s,1)

Run it as a FastAGI server from this directory with ``agikit serve ivr_menu:app``. The same
file is also a process-AGI script: copy it into Asterisk's agi-bin, make it executable, and use
``AGI(ivr_menu.py,/menu?retries=3)`` instead of the ``agi://`` URL.
"""

import agikit
from agikit import App, Call

#: The keys on the menu, and the dialplan context each one leads to.
MENU = {"1": "sales", "2": "support", "0": "operator"}
#: Where the call goes when the caller never picks an option.
NO_CHOICE = "operator"

app = App()


@app.route("/menu")
async def menu(
    call: Call, retries: int = 3, timeout: float = 5.0, prompt: str = "demo-instruct"
) -> None:
    """Ask for a menu option, ``retries`` times at most; leave the outcome in channel variables.

    ``prompt`` is the sound file that lists the options (Asterisk's ``demo-instruct`` by default:
    replace it with your own recording).
    """
    await call.answer()
    key, tries = await ask(call, prompt, MENU, retries=retries, timeout=timeout)
    if key is None:
        await call.stream_file("transfer")  # "Transfer..." to the operator
    await call.set_variable("IVR_CHOICE", MENU[key] if key is not None else NO_CHOICE)
    await call.set_variable("IVR_TRIES", tries)


async def ask(
    call: Call, prompt: str, choices: dict[str, str], *, retries: int, timeout: float
) -> tuple[str | None, int]:
    """Play ``prompt`` and read one key, until the key is one of ``choices``.

    Returns the key (``None`` when every try failed) and the number of tries used. A key pressed
    while the prompt plays interrupts it (that is what ``GET DATA`` does), so callers who know
    the menu need not listen to all of it.
    """
    for attempt in range(1, retries + 1):
        answer = await call.get_data(prompt, timeout=timeout, max_digits=1)
        if answer.digits in choices:
            return answer.digits, attempt
        if attempt < retries:
            # A wrong key, or none: say so before the menu plays again.
            await call.stream_file("pm-invalid-option" if answer.digits else "please-try-again")
    return None, retries


if __name__ == "__main__":
    agikit.run(app)  # process AGI: the route is the first AGI() argument, e.g. /menu?retries=3
