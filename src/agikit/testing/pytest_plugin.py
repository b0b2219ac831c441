"""pytest plugin: the ``agi`` fixture runs your AGI handlers and apps against a fake Asterisk.

Installing agikit registers it (an entry point in the ``pytest11`` group): nothing to add to
``conftest.py``. It imports nothing from agikit until a test uses the fixture. (The fixtures
that run a *real* Asterisk, ``agikit.testing.asterisk.pytest_plugin``, stay opt-in.)

A complete example, ``test_ivr.py``::

    import pytest

    import agikit
    from agikit import App, Call
    from agikit.testing.fake import expect

    # --- the code under test -------------------------------------------------------------

    def menu(call: agikit.SyncCall) -> None:           # a process-AGI script's handler
        call.answer()
        choice = call.get_data("main-menu", timeout=5, max_digits=1)
        if choice.digits == "1":
            account = call.get_data("enter-account", timeout=5, max_digits=6)
            call.set_variable("ACCOUNT", account.digits)
            owner = call.database_get("accounts", account.digits)
            call.stream_file("welcome" if owner else "unknown-account", escape_digits="#")
        else:
            call.stream_file("goodbye")

    app = App()

    @app.route("/ivr/{lang}")
    async def ivr(call: Call, lang: str, retries: int = 3) -> None:
        await call.answer()
        await call.set_variable("CHANNEL(language)", lang)
        for _ in range(retries):
            key = await call.wait_for_digit(5)
            if key is not None:
                await call.set_variable("CHOICE", key)
                return
        await call.stream_file("goodbye")

    # --- the tests -----------------------------------------------------------------------

    def test_known_account(agi):
        run = agi.run(menu, digits="1 123456#", database={"accounts/123456": "alice"})
        agi.assert_commands([
            "ANSWER",
            "GET DATA main-menu 5000 1",
            "GET DATA enter-account 5000 6",
            "SET VARIABLE ACCOUNT 123456",
            "DATABASE GET accounts 123456",
            'STREAM FILE welcome "#"',
        ])
        assert run.variables["ACCOUNT"] == "123456"

    def test_anything_else_says_goodbye(agi):
        agi.run(menu, digits="9")
        agi.assert_commands(["ANSWER", ..., 'STREAM FILE goodbye ""'])   # ... : any commands

    def test_caller_hangs_up_at_the_menu(agi):
        run = agi.run(menu, hangup_during=2)            # while the 2nd command (GET DATA) runs
        assert run.hung_up and run.commands[-1].startswith("GET DATA")

    def test_missing_prompt_fails_the_call(agi):
        with pytest.raises(agikit.CommandFailed):
            agi.run(menu, digits="9", fail=["STREAM FILE goodbye"])

    def test_exact_conversation(agi):                 # a script: each step checked as it runs
        agi.run(menu, [
            expect("ANSWER"),
            expect("GET DATA main-menu 5000 1", reply="200 result=2"),
            expect('STREAM FILE goodbye ""', reply="200 result=0 endpos=8000"),
        ])

    def test_hangup_as_the_call_is_answered(agi):
        run = agi.run(menu, [expect("ANSWER", "200 result=0", hangup_before_reply=True)])
        assert run.hung_up and run.commands == ["ANSWER"]    # GET DATA raised Hangup, unsent

    def test_ivr_route(agi):                            # an App, over a real FastAGI socket
        run = agi.run_app(app, "/ivr/fr?retries=2", digits=".5")   # . : a timeout
        agi.assert_commands([
            "ANSWER",
            "SET VARIABLE CHANNEL(language) fr",
            "WAIT FOR DIGIT 5000",
            "WAIT FOR DIGIT 5000",
            "SET VARIABLE CHOICE 5",
        ])
        assert run.agi_status == "SUCCESS"

    def test_regression_from_production(agi):
        # Asterisk's own log with `agi set debug on`, one call picked by its channel
        agi.replay(app, "tests/calls/full.log", channel="PJSIP/alice-0000002a")

    async def test_from_async_code(agi):              # with pytest-asyncio or anyio
        await agi.arun_app(app, "/ivr/en", digits="1")

What the fixture gives is an :class:`~agikit.testing.tester.AgiTester`:

- ``agi.run(handler, script=None, *, args=(), env=None, digits="", variables=None,
  database=None, replies=None, fail=(), hangup_after=None, hangup_during=None, ...)``: one call
  of a sync or async handler, as a process AGI on pipes (``transport="fastagi"`` for a real
  FastAGI socket); returns an :class:`~agikit.testing.tester.AgiRun`: ``commands``,
  ``variables``, ``database``, ``hung_up``, ``agi_status``, ``transcript``, ``returned``,
  ``error``;
- ``agi.run_app(app, "/path?query", ...)``: one call of an App routed to that target, over
  FastAGI by default;
- ``agi.replay(handler_or_app, transcript_or_log, channel=...)``: a recorded call must go
  the same way again;
- ``agi.assert_commands([...])``: the latest run sent exactly these commands (compared by
  words as Asterisk reads them; ``...`` for any commands), else an ``AssertionError`` with a
  diff;
- ``await agi.arun(...)`` / ``await agi.arun_app(...)`` in ``async def`` tests.

A run raises what the handler raised (with the conversation attached as a note) and
:class:`~agikit.testing.fake.ScriptMismatch` when a ``script`` was not followed; pass
``check=False`` to inspect instead. When a test that used the fixture fails, its report shows
the transcript of each call in an "agikit" section.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .tester import AgiTester

_TESTER = pytest.StashKey["AgiTester"]()


@pytest.fixture
def agi(request: pytest.FixtureRequest) -> Iterator[AgiTester]:
    """Runs AGI handlers and apps against a fake Asterisk (see ``agikit.testing.pytest_plugin``)."""
    from .tester import AgiTester

    tester = AgiTester()
    request.node.stash[_TESTER] = tester
    yield tester
    # pytest keeps every test item to the end of the session: drop the runs (a handler's
    # error holds its traceback, and through it the call and its connection).
    del request.node.stash[_TESTER]
    tester.runs.clear()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """A failed test that used ``agi`` gets the transcripts of its calls in its report."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    tester = item.stash.get(_TESTER, None)
    if tester is not None and report.failed and report.when == "call" and tester.runs:
        report.sections.append(("agikit: the calls of this test", _transcripts(tester)))


def _transcripts(tester: AgiTester) -> str:
    parts = []
    for number, run in enumerate(tester.runs, 1):
        parts.append(f"call {number}: {run!r}\n{run.transcript}")
    return "\n".join(parts)
