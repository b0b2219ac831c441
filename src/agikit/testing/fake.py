"""A fake Asterisk: plays Asterisk 22's side of AGI over a real socket or pipe, from a script.

Test an AGI application without Asterisk. The fake sends the environment block, then walks its
script: it waits for each command the script expects, checks it, and sends the scripted reply
(or the reply Asterisk would send). It hangs up when told to (a ``HANGUP`` line over FastAGI,
a real SIGHUP to a process AGI), answers ``511`` on the dead channel afterwards, and at the end
waits for the AGI to close the stream. Every wait has a timeout, and the :class:`Result` says
exactly what differed::

    from agikit.testing.fake import FakeAsterisk, expect, hangup

    fake = FakeAsterisk(
        [
            expect("ANSWER"),
            expect('STREAM FILE welcome "#"', reply="200 result=35 endpos=8000"),
            hangup(),
            expect("SET VARIABLE DONE 1"),  # allowed on a dead channel: 200 result=1
        ],
        args=["sales"],
        env={"callerid": "5551234"},
    )

FastAGI (the fake connects to your server, like ``AGI(agi://127.0.0.1:4573/ivr?lang=en,sales)``)::

    result = fake.run_fastagi("agi://127.0.0.1:4573/ivr?lang=en")
    result.assert_ok()
    # from async code, while the server runs on the same event loop:
    result = await fake.start_fastagi("agi://127.0.0.1:4573/ivr").wait_async()

Process AGI and EAGI (argv[0] is the script as written; SIGHUP on hangup; audio on fd 3)::

    result = fake.run_process("ivr.py", interpreter=[sys.executable], agi_dir=tmp_path)
    result = fake.run_process("/usr/local/bin/ivr", eagi_audio=b"\\0" * 32000)
    assert result.exit_status == 0 and b"Traceback" not in result.stderr

In-process (your handler and the fake share the process; the fake runs in a thread)::

    with fake.in_process() as agi:
        agikit.transports.stdio.serve(handler, stdin=agi.stdin, stdout=agi.stdout)
    agi.result.assert_ok()

Scripts are built with :func:`expect`, :func:`expect_any`, :func:`expect_rest`, :func:`hangup`,
:func:`send_raw`, :func:`pause`, :func:`close_stream` and :func:`end_session`; replies can be
single lines, several lines (:func:`usage_reply`), ``bytes`` (invalid UTF-8), :class:`Raw`
bytes without a LF, or :data:`NO_REPLY`. What a script leaves open (a step without a reply, or
everything with :func:`expect_rest`) a :class:`~agikit.testing.scenario.Scenario` can answer:
keys the caller presses, channel variables, the AstDB, failing commands, a hangup after the Nth
command (``FakeAsterisk([expect_rest()], scenario=Scenario(digits="1#"))``).
:meth:`FakeAsterisk.from_transcript` replays a recorded session, from a transcript or from
Asterisk's own AGI debug log (:mod:`agikit.testing.debug_log`). Standard library only;
``import agikit`` does not import this module.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from ..protocol.environment import Environment
from ..transcript import Direction, TranscriptEntry
from ._fake_engine import Engine, Options, Transport
from ._fake_env import DEFAULT_AST_VARIABLES, DEFAULT_ENVIRONMENT, ast_variables, build_environment
from ._fake_result import Failure, Result, ScriptMismatch
from ._fake_script import (
    DEAD_CHANNEL,
    DEFAULT_REPLIES,
    INVALID_COMMAND,
    NO_REPLY,
    USAGE_NOT_AVAILABLE,
    Raw,
    ReplySpec,
    ScriptError,
    Step,
    check_script,
    close_stream,
    default_reply,
    end_session,
    expect,
    expect_any,
    expect_rest,
    hangup,
    pause,
    send_raw,
    usage_reply,
)
from ._fake_transports import (
    CONNECT_TIMEOUT,
    AudioSource,
    FastAgiTransport,
    PipesTransport,
    ProcessTransport,
    parse_agi_url,
)
from .scenario import Scenario

__all__ = [
    "DEAD_CHANNEL",
    "DEFAULT_AST_VARIABLES",
    "DEFAULT_ENVIRONMENT",
    "DEFAULT_REPLIES",
    "INVALID_COMMAND",
    "NO_REPLY",
    "USAGE_NOT_AVAILABLE",
    "Direction",
    "Failure",
    "FakeAsterisk",
    "FakeSession",
    "InProcessSession",
    "Raw",
    "ReplySpec",
    "Result",
    "Scenario",
    "ScriptError",
    "ScriptMismatch",
    "Step",
    "TranscriptEntry",
    "close_stream",
    "default_reply",
    "end_session",
    "expect",
    "expect_any",
    "expect_rest",
    "hangup",
    "parse_agi_url",
    "pause",
    "send_raw",
    "usage_reply",
]


class FakeSession:
    """One running session of a :class:`FakeAsterisk`, played in a background thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._thread = threading.Thread(
            target=engine.run, name=f"fake-asterisk {engine.result.label}", daemon=True
        )
        self._thread.start()

    @property
    def environment(self) -> Environment:
        """The environment block this session sends."""
        environment = self._engine.result.environment
        assert environment is not None
        return environment

    @property
    def done(self) -> bool:
        """True once the session is over and :attr:`result` is final."""
        return not self._thread.is_alive()

    @property
    def progress(self) -> Result:
        """The :class:`Result` as the session fills it, readable while it runs (to follow the
        transcript live: entries are only ever appended). Use :attr:`result` for the outcome."""
        return self._engine.result

    @property
    def result(self) -> Result:
        """The session's :class:`Result`; raises ``RuntimeError`` while the session runs."""
        if not self.done:
            raise RuntimeError("the fake Asterisk session is still running: call wait() first")
        return self._engine.result

    def wait(self, timeout: float | None = None) -> Result:
        """Wait for the session to end and return its :class:`Result`.

        The session ends on its own (every wait inside it has a timeout); ``timeout`` bounds
        this call too: when it expires the session is aborted, and the result says so.
        """
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.abort(f"wait() timed out after {timeout:g} s")
            self._thread.join()
        return self._engine.result

    async def wait_async(self, timeout: float | None = None) -> Result:
        """:meth:`wait` for async code: the event loop keeps running (your server too)."""
        import asyncio

        return await asyncio.to_thread(self.wait, timeout)

    def abort(self, reason: str = "aborted by the test") -> None:
        """End the session now: every wait wakes up, the stream closes, a process is killed."""
        self._engine.abort(reason)


class InProcessSession(FakeSession):
    """A session whose AGI runs in this process, on :attr:`stdin` and :attr:`stdout`.

    Use it as a context manager: leaving the block closes the AGI's ends (if it did not) and
    waits for the fake to finish, so :attr:`result` is ready after the block.
    """

    def __init__(self, engine: Engine, transport: PipesTransport) -> None:
        self._pipes = transport
        super().__init__(engine)

    @property
    def stdin(self) -> BinaryIO:
        """The AGI's input, as ``sys.stdin.buffer`` would be: environment and replies."""
        return self._pipes.stdin

    @property
    def stdout(self) -> BinaryIO:
        """The AGI's output, as ``sys.stdout.buffer`` would be (buffered: flush each command)."""
        return self._pipes.stdout

    @property
    def audio(self) -> BinaryIO | None:
        """EAGI: the caller's audio, as fd 3 would carry it; ``None`` without ``eagi_audio``."""
        return self._pipes.audio

    def close(self) -> None:
        """Close the AGI's ends of the pipes: the fake sees the end of the stream."""
        self._pipes.close_app_side()

    def __enter__(self) -> InProcessSession:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
        self.wait()


class FakeAsterisk:
    """Asterisk's side of an AGI session, played from a script.

    ``script`` is the list of steps. ``args`` are the ``AGI()`` arguments after the script or
    URL (``agi_arg_1``... and, for process AGI, the program's arguments). ``env`` overrides or
    adds lines of the environment block: keys with or without ``agi_`` (``{"callerid": "555"}``),
    ``None`` to drop a line; see :data:`DEFAULT_ENVIRONMENT`.

    The dialplan settings Asterisk reads once per session: ``agisighup=False`` is
    ``AGISIGHUP=no`` (no ``HANGUP`` line, no SIGHUP); ``exit_on_hangup=True`` is
    ``AGIEXITONHANGUP=yes`` (the session ends right after the hangup notification).
    ``dead=True`` starts on a channel that is already hung up (``AGI()`` in the ``h``
    extension): no notification, and ``511`` for commands not allowed on a dead channel.

    ``timeout`` bounds every wait, in seconds: for a command, for the AGI to read a reply, to
    close the stream at the end, for a process to exit.

    ``scenario`` (a :class:`~agikit.testing.scenario.Scenario`) answers the commands whose step
    gives no reply, and those :func:`expect_rest` accepts: the keys the caller presses, the
    channel variables and AstDB entries, commands that fail, a hangup during or after the Nth
    command. It sees every command, so a ``SET VARIABLE`` is read back by a later
    ``GET VARIABLE``.

    A ``FakeAsterisk`` holds no state of its own: each ``run_*``/``start_*`` call plays the
    script once, in a fresh session (and a fresh state of the scenario).
    """

    def __init__(
        self,
        script: Iterable[Step] = (),
        *,
        args: Sequence[str] = (),
        env: Mapping[str, str | None] | None = None,
        agisighup: bool = True,
        exit_on_hangup: bool = False,
        dead: bool = False,
        timeout: float = 5.0,
        scenario: Scenario | None = None,
    ) -> None:
        self.script: tuple[Step, ...] = tuple(script)
        self.scenario = scenario
        #: ``agi_request`` of the recorded session (:meth:`from_transcript`), else ``None``.
        self.recorded_request: str | None = None
        #: Whether the recorded session was EAGI (:meth:`from_transcript`).
        self.recorded_enhanced = False
        check_script(self.script)
        if isinstance(args, str):
            raise TypeError("args is a sequence of arguments, not one string")
        self.args: tuple[str, ...] = tuple(args)
        self.env: dict[str, str | None] = dict(env or {})
        self.options = Options(
            agisighup=agisighup, exit_on_hangup=exit_on_hangup, dead_at_start=dead, timeout=timeout
        )

    def __repr__(self) -> str:
        options = ", ".join(
            f"{name}={value!r}"
            for name, value, default in (
                ("args", self.args, ()),
                ("env", self.env, {}),
                ("agisighup", self.options.agisighup, True),
                ("exit_on_hangup", self.options.exit_on_hangup, False),
                ("dead", self.options.dead_at_start, False),
                ("timeout", self.options.timeout, 5.0),
                ("scenario", self.scenario, None),
            )
            if value != default
        )
        return f"FakeAsterisk(<{len(self.script)} steps>{', ' if options else ''}{options})"

    @classmethod
    def from_transcript(
        cls,
        transcript: str | os.PathLike[str],
        *,
        env: Mapping[str, str | None] | None = None,
        agisighup: bool = True,
        exit_on_hangup: bool = False,
        dead: bool = False,
        timeout: float = 5.0,
        channel: str | None = None,
    ) -> FakeAsterisk:
        """A fake that replays the Asterisk side of a recorded session.

        ``transcript`` is the text (or a path to a file) in the reference transcripts' format,
        which :meth:`Result.format_transcript` also writes, or Asterisk's own AGI debug log
        (``agi set debug on``: ``AGI Tx >>`` / ``AGI Rx <<`` lines, see
        :mod:`agikit.testing.debug_log`); ``channel`` picks the call in a log that holds
        several (a channel name, a unique ID, or part of a channel name). The recorded
        environment (with its ``agi_arg_N`` as ``args``) is used, updated by ``env``, and its
        ``agi_request`` is kept in :attr:`recorded_request`; the other options are as for
        the class itself. Command lines are matched by words, so a client that quotes
        differently from the recorded one still matches.
        """
        from ._fake_replay import parse_transcript
        from .debug_log import is_debug_log, read_debug_log, select_call

        if isinstance(transcript, os.PathLike):
            transcript = Path(transcript).read_text("utf-8", "surrogateescape")
        if is_debug_log(transcript):
            call = select_call(read_debug_log(transcript), channel)
            if call.async_agi:
                raise ValueError(
                    f"{call.channel}: an Async AGI session; its commands came over AMI and "
                    "Asterisk's debug log holds only the replies, so it cannot be replayed"
                )
            transcript = call.to_transcript()
        elif channel is not None:
            raise ValueError("channel= picks a call in an Asterisk debug log; this is a transcript")
        recording = parse_transcript(transcript)
        merged: dict[str, str | None] = {**recording.env, **(env or {})}
        fake = cls(
            recording.steps,
            args=recording.args,
            env=merged,
            agisighup=agisighup,
            exit_on_hangup=exit_on_hangup,
            dead=dead,
            timeout=timeout,
        )
        fake.recorded_request = recording.request or None
        fake.recorded_enhanced = recording.enhanced
        return fake

    # ------------------------------------------------------------------ the environment

    def environment(
        self,
        request: str,
        *,
        args: Sequence[str] | None = None,
        network_script: str | None = None,
        enhanced: bool = False,
    ) -> Environment:
        """The environment block this fake sends for ``request`` (the script or URL)."""
        return build_environment(
            request=request,
            args=self.args if args is None else tuple(args),
            overrides=self.env,
            network_script=network_script,
            enhanced=enhanced,
        )

    def _start(self, transport: Transport, environment: Environment) -> Engine:
        result = Result(label=transport.label, environment=environment)
        responder = self.scenario.start() if self.scenario is not None else None
        result.scenario = responder
        return Engine(self.script, transport, self.options, result, responder)

    # ------------------------------------------------------------------ FastAGI

    def start_fastagi(
        self,
        url: str,
        *,
        args: Sequence[str] | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> FakeSession:
        """Connect to the FastAGI server at ``url`` and play the script there, in the background.

        ``url`` is what the dialplan gives ``AGI()``: ``agi://host[:port][/script[?query]]``
        (port 4573 by default). It is sent as ``agi_request``; the part after the host as
        ``agi_network_script``. ``args`` (default: the fake's) are the ``AGI()`` arguments
        after the URL. Each address of the host gets ``connect_timeout`` seconds, as in
        Asterisk; if none answers, the result fails with ``agi_status`` ``FAILURE``.
        """
        transport = FastAgiTransport(url, connect_timeout)
        environment = self.environment(url, args=args, network_script=transport.script)
        return FakeSession(self._start(transport, environment))

    def run_fastagi(
        self,
        url: str,
        *,
        args: Sequence[str] | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> Result:
        """:meth:`start_fastagi` and wait for the result (the server must run elsewhere: in
        another thread or process; from async code use ``start_fastagi(...).wait_async()``)."""
        return self.start_fastagi(url, args=args, connect_timeout=connect_timeout).wait()

    # ------------------------------------------------------------------ process AGI

    def start_process(
        self,
        script: str | os.PathLike[str],
        *,
        args: Sequence[str] | None = None,
        interpreter: Sequence[str] | None = None,
        agi_dir: str | os.PathLike[str] | None = None,
        eagi_audio: AudioSource | None = None,
        eagi_frame_size: int = 320,
        eagi_frame_interval: float = 0.0,
        process_env: Mapping[str, str] | None = None,
        capture_stderr: bool = True,
        exit_status: int | None = 0,
    ) -> FakeSession:
        """Run ``script`` as a process AGI, as ``AGI(script,args...)`` does, in the background.

        As Asterisk does: a relative ``script`` is found in ``agi_dir`` (default: the current
        directory); the program gets ``argv[0]`` = ``script`` as written and the ``args``; fds
        0 and 1 are the AGI pipes, every other fd above 2 is closed; SIGHUP, SIGPIPE, SIGINT,
        SIGTERM, SIGCHLD, SIGURG and SIGXFSZ are reset to their default actions; the process
        environment is this process's plus the ``AST_*`` directories
        (:data:`DEFAULT_AST_VARIABLES`, ``AST_AGI_DIR`` = ``agi_dir``), plus ``process_env``.
        ``agi_request`` is ``script`` as written.

        ``interpreter`` runs a script that is not executable itself, as its ``#!`` line would:
        ``interpreter=[sys.executable]`` runs ``python <resolved script> args...``.

        ``eagi_audio`` makes it EAGI: ``agi_enhanced: 1.0``, and the audio (bytes, cut into
        ``eagi_frame_size``-byte frames, or an iterable of frames) is written to the script's
        fd 3 from a thread, ``eagi_frame_interval`` seconds apart (0: as fast as it reads;
        0.02: real time for 8 kHz slin). Audio stops at the hangup; fd 3 closes at the end.

        stderr is collected in :attr:`Result.stderr` (``capture_stderr=False``: inherited).
        The process must exit within the timeout once the session is over (else it is killed)
        with ``exit_status`` (``None``: any status is fine); Asterisk says ``AGISTATUS=FAILURE``
        for a non-zero status. A missing script gives ``agi_status`` ``NOTFOUND``.
        """
        written = os.fspath(script)
        directory = os.path.abspath(os.fspath(agi_dir) if agi_dir is not None else os.getcwd())
        path = written if os.path.isabs(written) else os.path.join(directory, written)
        arguments = list(self.args if args is None else args)
        if interpreter is not None:
            argv = [*interpreter, path, *arguments]
            program = argv[0]
            if not os.path.isabs(program):
                import shutil

                program = shutil.which(program) or program
        else:
            argv = [written, *arguments]
            program = path
        environ = {**os.environ, **ast_variables(directory, None), **(process_env or {})}
        transport = ProcessTransport(
            script_path=path,
            program=program,
            argv=argv,
            environ=environ,
            audio=eagi_audio,
            frame_size=eagi_frame_size,
            frame_interval=eagi_frame_interval,
            capture_stderr=capture_stderr,
            exit_status=exit_status,
            label=f"{'EAGI' if eagi_audio is not None else 'process AGI'} {written!r}",
        )
        environment = self.environment(written, args=arguments, enhanced=eagi_audio is not None)
        return FakeSession(self._start(transport, environment))

    def run_process(
        self,
        script: str | os.PathLike[str],
        *,
        args: Sequence[str] | None = None,
        interpreter: Sequence[str] | None = None,
        agi_dir: str | os.PathLike[str] | None = None,
        eagi_audio: AudioSource | None = None,
        eagi_frame_size: int = 320,
        eagi_frame_interval: float = 0.0,
        process_env: Mapping[str, str] | None = None,
        capture_stderr: bool = True,
        exit_status: int | None = 0,
    ) -> Result:
        """:meth:`start_process` and wait for the result."""
        return self.start_process(
            script,
            args=args,
            interpreter=interpreter,
            agi_dir=agi_dir,
            eagi_audio=eagi_audio,
            eagi_frame_size=eagi_frame_size,
            eagi_frame_interval=eagi_frame_interval,
            process_env=process_env,
            capture_stderr=capture_stderr,
            exit_status=exit_status,
        ).wait()

    # ------------------------------------------------------------------ in-process

    def in_process(
        self,
        *,
        request: str = "test.agi",
        args: Sequence[str] | None = None,
        eagi_audio: AudioSource | None = None,
        eagi_frame_size: int = 320,
        eagi_frame_interval: float = 0.0,
        on_sighup: Callable[[], object] | None = None,
    ) -> InProcessSession:
        """Play the script over pipes to an AGI running in this process, from a thread.

        The returned session's :attr:`~InProcessSession.stdin` and
        :attr:`~InProcessSession.stdout` are the AGI's binary streams (``.fileno()`` gives the
        fds), ``request`` is the ``agi_request`` line. A hangup cannot send SIGHUP to a handler
        in this process: ``on_sighup`` is called (from the fake's thread) where Asterisk would
        send it, and without it nothing is delivered (as with ``AGISIGHUP=no``, but the
        transcript notes it). ``eagi_audio`` and the frame options are as in
        :meth:`start_process`, the audio arriving on :attr:`~InProcessSession.audio`.
        """
        transport = PipesTransport(
            audio=eagi_audio,
            frame_size=eagi_frame_size,
            frame_interval=eagi_frame_interval,
            on_sighup=on_sighup,
        )
        environment = self.environment(request, args=args, enhanced=eagi_audio is not None)
        return InProcessSession(self._start(transport, environment), transport)
