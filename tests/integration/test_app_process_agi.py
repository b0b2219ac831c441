"""One App under process AGI on the real Asterisk: routing by argument or script name, hooks."""

from __future__ import annotations

from agikit.testing.asterisk import Asterisk
from agikit.testing.asterisk.pytest_plugin import ScriptWriter

from .agiscript import run_script

APP = """
app = agikit.App()

@app.on_startup
async def started():
    record("startup", True)

@app.on_shutdown
async def stopped():
    record("shutdown", True)

@app.route("/menu/{number:int}")
async def menu(call, number, lang: str = "en", *args: str):
    record("menu", [number, lang, list(args)])
    await call.set_variable("ROUTED", f"menu {number}")

@app.fallback
async def anything(call):
    record("fallback", call.env.request)

agikit.run(app)
"""


def test_app_routes_by_first_argument_and_runs_hooks(
    asterisk: Asterisk, agi_script: ScriptWriter
) -> None:
    run = run_script(
        asterisk, agi_script, APP, args=["/menu/2?lang=de", "x", "y"], report=["ROUTED"]
    )
    assert run.call.agi_status == "SUCCESS", run.call.log_text()
    assert run.recorded["menu"] == [2, "de", ["x", "y"]]
    assert run.recorded["startup"] is True and run.recorded["shutdown"] is True
    assert run.call.variables["ROUTED"] == "menu 2"


def test_unmatched_route_goes_to_the_fallback(asterisk: Asterisk, agi_script: ScriptWriter) -> None:
    run = run_script(asterisk, agi_script, APP, args=["/menu/two"])  # "two" is not an int
    assert run.recorded["fallback"].endswith(".py")
    assert run.call.agi_status == "SUCCESS"


def test_no_route_and_no_fallback_fails_the_agi(
    asterisk: Asterisk, agi_script: ScriptWriter
) -> None:
    without_fallback = APP.replace("@app.fallback", "")
    run = run_script(asterisk, agi_script, without_fallback, args=["/nowhere"])
    assert "fallback" not in run.recorded
    assert run.call.agi_status == "FAILURE"  # the script exited 1: "no route for '/nowhere'"
