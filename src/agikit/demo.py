"""The demo app that ``agikit serve`` runs when it is given none.

Point a dialplan at it: ``same => n,AGI(agi://127.0.0.1/demo)`` (or any path: the fallback
route answers too). It answers, plays a greeting, reads up to four digits and says them back.
"""

from .app import App
from .call import Call

app = App()


@app.route("/demo")
@app.fallback
async def demo(call: Call) -> None:
    """Answer, greet, collect up to four digits (``#`` ends), say them back, hang up."""
    await call.answer()
    await call.stream_file("hello-world")
    entered = await call.get_data("beep", timeout=5, max_digits=4)
    await call.verbose(f"agikit demo: caller {call.env.callerid} entered {entered.digits!r}")
    if entered.digits:
        await call.say_digits(entered.digits)
    await call.set_variable("AGIKIT_DEMO_DIGITS", entered.digits)
    await call.hangup()
