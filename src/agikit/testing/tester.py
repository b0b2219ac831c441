"""Run a handler or an App against the fake Asterisk in one call, and check what it sent.

:class:`AgiTester` is what the pytest plugin's ``agi`` fixture gives (see
:mod:`agikit.testing.pytest_plugin` for a complete example); it works without pytest too::

    from agikit.testing.tester import AgiTester

    agi = AgiTester()
    run = agi.run(main, digits="1", variables={"LANG": "fr"})
    run.assert_commands(["ANSWER", 'STREAM FILE menu "12"', ...])
    assert run.variables["CHOICE"] == "1"

Two ways to say what Asterisk does:

- a **scenario** (the default): the fake answers every command as Asterisk would on a call
  where nothing goes wrong, shaped by ``digits``, ``variables``, ``database``, ``replies``,
  ``fail``, ``hangup_after`` and ``hangup_during`` (see
  :class:`~agikit.testing.scenario.Scenario`); the test then checks the commands sent
  (:meth:`AgiRun.assert_commands`) or the state they left (:attr:`AgiRun.variables`);
- a **script** (``script=[expect(...), hangup(), ...]``): the exact conversation, checked
  step by step as it runs (the scenario still answers the steps that give no reply).

Two transports:

- ``"process"`` (:meth:`AgiTester.run`'s default): the handler runs in this thread through
  ``agikit.serve`` on pipes, as a process AGI; sync and async handlers; a hangup is a real
  SIGHUP to this process, sent before the reply to the command it interrupts or follows, so
  that the handler knows of it before its next command (in the main thread; an ``async def``
  handler that moved onto an event loop may see it one command late, as in production);
- ``"fastagi"`` (:meth:`AgiTester.run_app`'s default): a real
  :class:`~agikit.transports.fastagi.FastAGIServer` on a loopback port, and the fake connects
  to it as Asterisk does; async handlers and Apps; hangups are ``HANGUP`` lines. In an
  ``async def`` test, use :meth:`AgiTester.arun` / :meth:`AgiTester.arun_app`, which serve on
  the test's own event loop.

By default a run *checks*: an exception the handler raised is raised again (the conversation
is attached to it as a note), and a departure from the script raises
:class:`~agikit.testing.fake.ScriptMismatch` (an ``AssertionError``). ``check=False`` returns
the :class:`AgiRun` whatever happened.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import EllipsisType, FrameType
from typing import TYPE_CHECKING, Any, TypedDict

from ..errors import ConnectionClosed, Hangup, ProtocolError
from ._commands_diff import commands_match, diff_commands
from .fake import FakeAsterisk, Result, ScriptMismatch, Step, expect_rest
from .scenario import Scenario, ScenarioReply, ScenarioState

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.12; types only

__all__ = ["AgiRun", "AgiTester", "CallOptions", "ReplayOptions"]


class ReplayOptions(TypedDict, total=False):
    """How Asterisk behaves in a replay (see :meth:`AgiTester.replay`)."""

    #: Environment lines over the recorded ones (keys with or without ``agi_``).
    env: Mapping[str, str | None]
    #: ``AGISIGHUP``: notify hangups (a SIGHUP, or the FastAGI ``HANGUP`` line). Default True.
    agisighup: bool
    #: ``AGIEXITONHANGUP=yes``: the session ends at the hangup. Default False.
    exit_on_hangup: bool
    #: The channel is hung up from the start (``AGI()`` in the ``h`` extension).
    dead: bool
    #: Seconds the fake waits for each command (default 5).
    timeout: float


class CallOptions(ReplayOptions, total=False):
    """What a call looks like and what happens on it (see :meth:`AgiTester.run`)."""

    #: The ``AGI()`` arguments (``agi_arg_N``).
    args: Sequence[str]
    #: The keys the caller presses (see :class:`~agikit.testing.scenario.Scenario`).
    digits: str
    #: Channel variables ``GET VARIABLE`` reads.
    variables: Mapping[str, str]
    #: AstDB entries, ``{"family/key": "value"}``.
    database: Mapping[str, str]
    #: Replies by the start of a command line.
    replies: Mapping[str, ScenarioReply]
    #: Starts of command lines that fail.
    fail: Sequence[str]
    #: The caller hangs up after the Nth command.
    hangup_after: int | None
    #: The caller hangs up while the Nth command runs.
    hangup_during: int | None
    #: Raise what the handler raised, or the script mismatch (default True).
    check: bool


TRANSPORTS = ("process", "fastagi")
#: The ``agi_request`` of a process-AGI run, unless the test gives one.
DEFAULT_SCRIPT = "test.agi"


class AgiRun:
    """What one run of a handler against the fake Asterisk gave.

    ``result`` is the fake Asterisk's :class:`~agikit.testing.fake.Result` (the transcript,
    the failures, ``agi_status``); ``error`` the exception the handler raised (``None`` when it
    returned, or ended on the hangup as handlers do); ``returned`` what it returned;
    ``transport`` ``"process"`` or ``"fastagi"``.
    """

    def __init__(
        self,
        result: Result,
        *,
        transport: str,
        error: BaseException | None,
        returned: Any,
    ) -> None:
        self.result = result
        self.transport = transport
        self.error = error
        self.returned: Any = returned

    # ------------------------------------------------------------------ what happened

    @property
    def commands(self) -> list[str]:
        """Every command line the handler sent, in order (``"STREAM FILE menu 12"``).

        The ``failure`` line a FastAGI server sends when the handler raises is not among them
        (:attr:`agi_status` says ``FAILURE``).
        """
        return [line for line in self.result.commands if line[:7].lower() != "failure"]

    @property
    def ok(self) -> bool:
        """True when the handler did not raise and followed the script, if there was one."""
        return self.error is None and self.result.ok

    @property
    def hung_up(self) -> bool:
        """True when the call was hung up (by the caller, or by the handler's ``hangup()``)."""
        return self.result.hung_up

    @property
    def agi_status(self) -> str:
        """What Asterisk would set ``AGISTATUS`` to: SUCCESS, FAILURE or HANGUP."""
        return self.result.agi_status

    @property
    def state(self) -> ScenarioState:
        """The scenario as the call left it."""
        state = self.result.scenario
        if state is None:  # pragma: no cover - every run plays a scenario
            raise RuntimeError("this run played no scenario")
        return state

    @property
    def variables(self) -> dict[str, str]:
        """The channel variables at the end: the scenario's, updated by ``SET VARIABLE``."""
        return self.state.variables

    @property
    def database(self) -> dict[str, str]:
        """The AstDB at the end (``{"family/key": "value"}``), updated by the handler."""
        return self.state.database

    @property
    def digits_left(self) -> str:
        """The keys the caller pressed that no command took."""
        return self.state.digits

    @property
    def transcript(self) -> str:
        """The conversation in the reference transcripts' format (environment summarised)."""
        return self.result.format_transcript(environment=False)

    def report(self) -> str:
        """The fake Asterisk's account of the run, with the handler's error if it raised."""
        text = self.result.report()
        if self.error is not None:
            text = f"the handler raised {self.error!r}\n{text}"
        return text

    # ------------------------------------------------------------------ checks

    def assert_commands(self, expected: Sequence[str | EllipsisType]) -> AgiRun:
        """Assert that the handler sent exactly ``expected``, in order; return this run.

        Lines compare by words, as Asterisk reads them (``'STREAM FILE menu "12"'`` equals
        ``STREAM FILE menu 12``; command words in any case). ``...`` stands for any number of
        commands: ``["ANSWER", ..., "HANGUP"]``. The ``AssertionError`` shows a diff.
        """
        __tracebackhide__ = True
        if not commands_match(expected, self.commands):
            raise AssertionError(diff_commands(expected, self.commands))
        return self

    def assert_ok(self) -> AgiRun:
        """Raise as a checking run does (see :meth:`AgiTester.run`); return this run."""
        __tracebackhide__ = True
        _check(self)
        return self

    def __repr__(self) -> str:
        error = f" error={self.error!r}" if self.error is not None else ""
        return (
            f"<AgiRun {self.transport} commands={len(self.commands)} "
            f"agi_status={self.agi_status} ok={self.ok}{error}>"
        )


class _Outcome:
    """What the wrapped handler saw: its return value, or its exception."""

    def __init__(self) -> None:
        self.error: BaseException | None = None
        self.returned: Any = None


class AgiTester:
    """Runs handlers against the fake Asterisk; the pytest plugin's ``agi`` fixture.

    The keyword arguments of :meth:`run` that describe the call (``digits``, ``variables``,
    ``env`` ...) can be given here once as defaults for every run:
    ``AgiTester(env={"callerid": "5551234"}, timeout=2)``. :attr:`runs` holds every run, and
    :attr:`last` the latest (``agi.assert_commands`` checks it).
    """

    def __init__(self, **defaults: Unpack[CallOptions]) -> None:
        unknown = set(defaults) - _RUN_OPTIONS
        if unknown:
            raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
        self.defaults: dict[str, Any] = dict(defaults)
        self.runs: list[AgiRun] = []

    @property
    def last(self) -> AgiRun:
        """The latest run."""
        if not self.runs:
            raise RuntimeError("nothing has run yet: call agi.run(...) first")
        return self.runs[-1]

    def assert_commands(self, expected: Sequence[str | EllipsisType]) -> AgiRun:
        """:meth:`AgiRun.assert_commands` on the latest run."""
        __tracebackhide__ = True
        return self.last.assert_commands(expected)

    # ------------------------------------------------------------------ running

    def run(
        self,
        handler: Callable[..., Any],
        script: Iterable[Step] | None = None,
        *,
        transport: str = "process",
        request: str | None = None,
        **options: Unpack[CallOptions],
    ) -> AgiRun:
        """Run ``handler`` for one call against the fake Asterisk and return the :class:`AgiRun`.

        ``handler`` is what ``agikit.run`` or ``agikit serve`` would run: a plain function
        taking a ``SyncCall``, an ``async def`` taking a ``Call``, or an ``App``.
        ``script`` is a list of steps (:func:`~agikit.testing.fake.expect`,
        :func:`~agikit.testing.fake.hangup` ...) the conversation must follow; without one,
        the fake answers every command (see the module docstring).

        The call: ``args`` (the ``AGI()`` arguments), ``env`` (environment lines, keys with or
        without ``agi_``: ``{"callerid": "5551234"}``), ``request`` (process: the script name,
        ``agi_request``, default ``test.agi``; FastAGI: the path and query after the host,
        ``"ivr/en?x=1"``). What happens on it: ``digits``, ``variables``, ``database``,
        ``replies``, ``fail``, ``hangup_after``, ``hangup_during``, as in
        :class:`~agikit.testing.scenario.Scenario`. Asterisk's settings: ``agisighup``,
        ``exit_on_hangup``, ``dead`` (the channel is hung up from the start), ``timeout``
        (seconds the fake waits for each command, default 5). ``transport``: ``"process"``
        or ``"fastagi"``. ``check`` (default True): raise the handler's exception, or
        :class:`~agikit.testing.fake.ScriptMismatch` when it did not follow the script.
        """
        __tracebackhide__ = True
        merged: dict[str, Any] = {**self.defaults, **options}
        check = bool(merged.pop("check", True))
        fake = self._fake(script, merged)
        if transport == "process":
            run = _run_process(handler, fake, request or DEFAULT_SCRIPT)
        elif transport == "fastagi":
            run = _run_fastagi_blocking(handler, fake, request or "")
        else:
            raise ValueError(f"transport is one of {TRANSPORTS}, not {transport!r}")
        return self._done(run, check)

    def run_app(
        self,
        app: Callable[..., Any],
        target: str = "/",
        script: Iterable[Step] | None = None,
        *,
        transport: str = "fastagi",
        **options: Unpack[CallOptions],
    ) -> AgiRun:
        """Run one call of ``app`` (an :class:`~agikit.app.App`) routed to ``target``.

        ``target`` is the script path and query the dialplan gives (``"/ivr/en?retries=5"``):
        over FastAGI, the call is ``AGI(agi://127.0.0.1:<port>/ivr/en?retries=5,args...)``; as
        a process AGI (``transport="process"``) it is
        ``AGI(app.py,/ivr/en?retries=5,args...)``. The other options are :meth:`run`'s.
        """
        __tracebackhide__ = True
        if not target.startswith("/"):
            raise ValueError(f"target is a route path starting with '/': {target!r}")
        if transport == "process":
            options["args"] = [target, *options.get("args", self.defaults.get("args", ()))]
            return self.run(app, script, transport="process", request="app.py", **options)
        return self.run(app, script, transport=transport, request=target.lstrip("/"), **options)

    def replay(
        self,
        handler: Callable[..., Any],
        transcript: str | os.PathLike[str],
        *,
        channel: str | None = None,
        check: bool = True,
        **options: Unpack[ReplayOptions],
    ) -> AgiRun:
        """Replay a recorded call against ``handler`` (or an App): it must send what was sent.

        ``transcript`` is a path (``str`` or ``Path``), or the text, of a transcript in the
        reference transcripts' format, or of Asterisk's AGI debug log (``channel`` picks the
        call; see :mod:`agikit.testing.debug_log`). The
        recorded environment and replies are played back; a call recorded over FastAGI runs
        on the FastAGI transport with its recorded path, any other as a process AGI with its
        recorded script name. ``options``: ``env``, ``agisighup``,
        ``exit_on_hangup``, ``dead``, ``timeout`` (see :class:`ReplayOptions`).
        """
        __tracebackhide__ = True
        if isinstance(transcript, str) and "\n" not in transcript and os.path.exists(transcript):
            transcript = Path(transcript)
        fake = FakeAsterisk.from_transcript(transcript, channel=channel, **options)
        fake.scenario = Scenario()
        recorded = fake.recorded_request or ""
        if recorded.lower().startswith(("agi://", "hagi://")):
            run = _run_fastagi_blocking(handler, fake, _url_path(recorded))
        else:
            run = _run_process(handler, fake, recorded or DEFAULT_SCRIPT)
        return self._done(run, check)

    async def arun(
        self,
        handler: Callable[..., Awaitable[Any]],
        script: Iterable[Step] | None = None,
        *,
        request: str | None = None,
        **options: Unpack[CallOptions],
    ) -> AgiRun:
        """:meth:`run` for ``async def`` tests: FastAGI, served on the running event loop."""
        __tracebackhide__ = True
        merged: dict[str, Any] = {**self.defaults, **options}
        check = bool(merged.pop("check", True))
        fake = self._fake(script, merged)
        run = await _run_fastagi(handler, fake, request or "")
        return self._done(run, check)

    async def arun_app(
        self,
        app: Callable[..., Awaitable[Any]],
        target: str = "/",
        script: Iterable[Step] | None = None,
        **options: Unpack[CallOptions],
    ) -> AgiRun:
        """:meth:`run_app` for ``async def`` tests: FastAGI, served on the running event loop."""
        __tracebackhide__ = True
        if not target.startswith("/"):
            raise ValueError(f"target is a route path starting with '/': {target!r}")
        return await self.arun(app, script, request=target.lstrip("/"), **options)

    # ------------------------------------------------------------------ helpers

    def _fake(self, script: Iterable[Step] | None, options: dict[str, Any]) -> FakeAsterisk:
        unknown = set(options) - _RUN_OPTIONS
        if unknown:
            raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
        scenario = Scenario(
            digits=options.get("digits", ""),
            variables=dict(options.get("variables") or {}),
            database=dict(options.get("database") or {}),
            replies=_replies(options.get("replies")),
            fail=tuple(options.get("fail") or ()),
            hangup_after=options.get("hangup_after"),
            hangup_during=options.get("hangup_during"),
        )
        steps = [expect_rest()] if script is None else list(script)
        return FakeAsterisk(
            steps,
            args=tuple(options.get("args", ())),
            env=options.get("env"),
            agisighup=options.get("agisighup", True),
            exit_on_hangup=options.get("exit_on_hangup", False),
            dead=options.get("dead", False),
            timeout=options.get("timeout", 5.0),
            scenario=scenario,
        )

    def _done(self, run: AgiRun, check: bool) -> AgiRun:
        __tracebackhide__ = True
        self.runs.append(run)
        if check:
            _check(run)
        return run


_RUN_OPTIONS = frozenset(CallOptions.__annotations__) | frozenset(ReplayOptions.__annotations__)


def _replies(given: Mapping[str, ScenarioReply] | None) -> dict[str, ScenarioReply]:
    return dict(given or {})


def _url_path(url: str) -> str:
    """The script part of ``agi://host[:port]/script?query`` (what follows the host)."""
    rest = url.split("://", 1)[1]
    return rest.partition("/")[2]


def _check(run: AgiRun) -> None:
    """Raise what a checking run raises: the handler's error, or the script mismatch."""
    __tracebackhide__ = True
    error = run.error
    result = run.result
    if error is not None and not (result.failures and isinstance(error, ProtocolError)):
        # The handler's own failure comes first; the conversation explains it.
        if hasattr(error, "add_note"):
            error.add_note("agikit: the call as the fake Asterisk saw it:\n" + result.report())
        raise error
    if result.failures:
        mismatch = ScriptMismatch(result)
        if error is not None:
            mismatch.add_note(f"the handler raised {error!r}")
        raise mismatch


# ---------------------------------------------------------------------- process transport


def _run_process(handler: Callable[..., Any], fake: FakeAsterisk, request: str) -> AgiRun:
    """Serve ``handler`` with ``agikit.serve`` on the fake's pipes, in this thread."""
    from ..transports import stdio

    outcome = _Outcome()
    wrapped = _capture_for_stdio(handler, outcome)
    main = threading.current_thread() is threading.main_thread()
    serving = False

    def sighup() -> None:
        # From the fake's thread: a real SIGHUP, to the thread that runs the handler.
        ident = threading.main_thread().ident
        if serving and ident is not None:
            signal.pthread_kill(ident, signal.SIGHUP)

    # A SIGHUP the fake sends as the handler returns must not kill the test run: ignore them
    # until the session is over (serve installs its own handler while it runs).
    previous = signal.signal(signal.SIGHUP, _ignore) if main else None
    try:
        # A recorded EAGI call replays as EAGI; its audio is not recorded: the stream is empty.
        audio = b"" if fake.recorded_enhanced else None
        with fake.in_process(
            request=request, on_sighup=sighup if main else None, eagi_audio=audio
        ) as session:
            serving = True
            try:
                stdio.serve(
                    wrapped,
                    stdin=session.stdin,
                    stdout=session.stdout,
                    audio_fd=session.audio,
                    handle_sighup=main,
                )
            finally:
                serving = False
    finally:
        if main:
            signal.signal(signal.SIGHUP, previous if previous is not None else signal.SIG_DFL)
    return AgiRun(
        session.result, transport="process", error=outcome.error, returned=outcome.returned
    )


def _ignore(signum: int, frame: FrameType | None) -> None:
    return None


def _capture_for_stdio(handler: Callable[..., Any], outcome: _Outcome) -> Callable[..., Any]:
    """``handler``, keeping what it returns or raises instead of letting ``serve`` print it.

    A hangup is the normal end of a call: ``Hangup`` goes on to ``serve``, and so does a
    closed stream after the hangup.
    """
    from ..transports.stdio import is_async_handler

    def keep(call: Any, error: Exception) -> None:
        if isinstance(error, Hangup) or (isinstance(error, ConnectionClosed) and call.hung_up):
            raise error
        outcome.error = error

    if is_async_handler(handler):

        async def run_async(call: Any) -> None:
            try:
                outcome.returned = await handler(call)
            except Exception as error:
                keep(call, error)

        return run_async

    def run_sync(call: Any) -> None:
        try:
            returned = handler(call)
        except Exception as error:
            keep(call, error)
            return
        if hasattr(returned, "__await__"):
            close = getattr(returned, "close", None)
            if close is not None:
                close()
            outcome.error = TypeError(
                f"the handler returned {type(returned).__name__!r}, an awaitable: "
                "agikit runs it only if the handler is an async def function"
            )
            return
        outcome.returned = returned

    return run_sync


# ---------------------------------------------------------------------- FastAGI transport


class _CapturingApp:
    """An async handler (or App) for the FastAGI server that remembers what it raised; it
    keeps the App's start-up and shutdown hooks, which the server runs."""

    def __init__(self, handler: Callable[..., Awaitable[Any]], outcome: _Outcome) -> None:
        self._handler = handler
        self._outcome = outcome

    async def __call__(self, call: Any) -> None:
        try:
            self._outcome.returned = await self._handler(call)
        except Hangup:
            raise  # the normal end of a call the caller hung up, as for a process AGI
        except ConnectionClosed as error:
            if not call.hung_up:
                self._outcome.error = error
            raise
        except Exception as error:
            self._outcome.error = error
            raise

    async def start(self) -> None:
        start = getattr(self._handler, "start", None)
        if start is not None:
            await start()

    async def stop(self) -> None:
        stop = getattr(self._handler, "stop", None)
        if stop is not None:
            await stop()


async def _run_fastagi(
    handler: Callable[..., Awaitable[Any]], fake: FakeAsterisk, path: str
) -> AgiRun:
    """Serve ``handler`` on a loopback port of the running loop; the fake calls it once."""
    from ..transports.fastagi import FastAGIServer
    from ..transports.stdio import is_async_handler

    if not is_async_handler(handler):
        raise TypeError(
            f"{handler!r} is not an async handler: FastAGI runs async def handlers and Apps "
            "(use transport='process' for a plain function)"
        )
    outcome = _Outcome()
    server = FastAGIServer(_CapturingApp(handler, outcome), host="127.0.0.1", port=0)
    await server.start()
    try:
        url = f"agi://127.0.0.1:{server.bound_port}/{path.lstrip('/')}"
        result = await fake.start_fastagi(url).wait_async()
    finally:
        await server.shutdown(grace=fake.options.timeout)
    return AgiRun(result, transport="fastagi", error=outcome.error, returned=outcome.returned)


def _run_fastagi_blocking(handler: Callable[..., Any], fake: FakeAsterisk, path: str) -> AgiRun:
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        running = False
    else:
        running = True
    if not running:
        return asyncio.run(_run_fastagi(handler, fake, path))
    raise RuntimeError(
        "an event loop is running in this thread (an async test?): use `await agi.arun(...)` "
        "or `await agi.arun_app(...)`"
    )
