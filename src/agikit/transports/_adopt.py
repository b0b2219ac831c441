"""The asyncio side of process AGI, loaded only when a handler needs an event loop.

A handler started loop-free (see ``stdio.StdioRunner.drive``) is adopted mid-flight by a Task
that forwards whatever the handler awaits: asyncio futures go to the loop, agikit commands run
one at a time on a daemon worker thread (a blocked read must never keep the process alive).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import threading
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from ..commands import failure_or_hangup, hangup_unknown, refuse_when_dead
from ..errors import CommandFailed, CommandInFlight, ConnectionClosed, Hangup
from ._loop_free import _Pending
from .stdio import StdioRunner

if TYPE_CHECKING:
    from .._runner import CommandRequest

START = object()  # "the coroutine has not started yet"


class _Worker:
    """One daemon thread that runs blocking commands and resolves asyncio futures."""

    def __init__(self, runner: StdioRunner) -> None:
        self._runner = runner
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], asyncio.Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        #: The last command's future: done once its reply is in, or when its wait is cancelled.
        self._current: asyncio.Future[Any] | None = None
        self._thread = threading.Thread(target=self._loop, name="agikit-agi", daemon=True)
        self._thread.start()

    async def command(self, request: CommandRequest[Any]) -> Any:
        """Run one command on the thread (the async runner's ``run`` in asyncio mode).

        One command at a time: while another one's reply is awaited this raises
        :class:`CommandInFlight`. A command whose wait was cancelled (a timeout around it)
        still runs in Asterisk; the next one is queued behind it, so it is sent only once that
        late reply has been read (and dropped), as over FastAGI.
        """
        runner = self._runner
        refuse_when_dead(request, runner.hung_up)
        current = self._current
        if current is not None and not current.done():
            line = request.line.decode("utf-8", "surrogateescape")
            raise CommandInFlight(
                f"cannot send {line!r}: another command of this call is awaiting its reply "
                "(AGI runs one command at a time: await each one before starting the next)"
            )
        future = self._current = self.submit(functools.partial(runner.run, request, False))
        try:
            return await future
        except Hangup:
            raise
        except ConnectionClosed as error:
            # SIGHUP runs its Python handler on this (the main) thread, so the thread may have
            # read the reply before the hangup was recorded; now it is, if it came before.
            if not runner.hung_up:
                raise
            raise Hangup(
                "the channel hung up and Asterisk ended the session",
                command=request.line.decode("utf-8", "surrogateescape"),
                reply=None,
            ) from error
        except CommandFailed as failure:
            # The probe is decided here, not on the thread: a SIGHUP that came before the
            # reply has been handled on this thread by now, so no needless NOOP is sent.
            if hangup_unknown(request, runner.hung_up):
                try:
                    await self.submit(runner.probe_hangup)
                except ConnectionClosed:
                    # AGIEXITONHANGUP: Asterisk signals, then closes. The worker may read the
                    # end of the stream before this thread runs the SIGHUP handler; it has now.
                    if not runner.hung_up:
                        raise
            outcome = failure_or_hangup(request, failure, runner.hung_up)
            if outcome is failure:
                raise
            raise outcome from failure

    def submit(self, job: Callable[[], Any]) -> asyncio.Future[Any]:
        future = asyncio.get_running_loop().create_future()
        self._jobs.put((job, future))
        return future

    def _loop(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, future = item
            loop = future.get_loop()
            try:
                result = job()
            except BaseException as exc:  # handed to the awaiting task
                error: BaseException | None = exc
                result = None
            else:
                error = None
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_resolve, future, result, error)
            del item, job, future, result, error

    def stop(self) -> None:
        self._jobs.put(None)


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class _Adopted:
    """Awaitable that continues a coroutine which started without an event loop."""

    def __init__(self, runner: StdioRunner, coroutine: Any, first: Any) -> None:
        self._runner = runner
        self._coroutine = coroutine
        self._first = first

    def __await__(self) -> Generator[Any, Any, Any]:
        coroutine = self._coroutine
        worker: _Worker = self._runner._executor
        send_value: Any = None
        error: BaseException | None = None
        if self._first is START:
            try:
                yielded = coroutine.send(None)
            except StopIteration as stop:  # returned without awaiting anything
                return stop.value
        else:
            yielded = self._first
        while True:
            try:
                if type(yielded) is _Pending:  # started before the switch to asyncio
                    command = worker.command(yielded.request)
                    send_value, error = (yield from command.__await__()), None
                else:
                    send_value, error = (yield yielded), None
            except BaseException as exc:  # including CancelledError thrown in by the task
                send_value, error = None, exc
            try:
                if error is not None:
                    yielded = coroutine.throw(error)
                else:
                    yielded = coroutine.send(send_value)
            except StopIteration as stop:
                return stop.value


async def _main(runner: StdioRunner, coroutine: Any, first: Any) -> Any:
    return await _Adopted(runner, coroutine, first)


def _enter_asyncio(runner: StdioRunner) -> _Worker:
    worker = _Worker(runner)
    runner._executor = worker
    runner.asyncio_mode = True
    return worker


def prepare_loop() -> asyncio.AbstractEventLoop:
    """A new loop, marked as this thread's running loop so that asyncio calls made by the
    handler before it first yields (``asyncio.sleep`` ...) find it. It really runs later."""
    loop = asyncio.new_event_loop()
    asyncio.events._set_running_loop(loop)
    return loop


def discard_prepared_loop(loop: asyncio.AbstractEventLoop) -> None:
    if asyncio.events._get_running_loop() is loop:
        asyncio.events._set_running_loop(None)
    loop.close()


def run_adopted(
    runner: StdioRunner,
    coroutine: Any,
    first: Any,
    loop: asyncio.AbstractEventLoop | None = None,
) -> None:
    """Finish ``coroutine`` on an event loop (``loop``, if one was prepared for it); ``first``
    is what it last yielded, or ``START``."""
    worker = _enter_asyncio(runner)
    if loop is not None and asyncio.events._get_running_loop() is loop:
        asyncio.events._set_running_loop(None)  # now it runs for real
    try:
        with asyncio.Runner(loop_factory=(lambda: loop) if loop is not None else None) as run:
            run.run(_main(runner, coroutine, first))
    finally:
        worker.stop()


def run_with_audio(runner: StdioRunner, coroutine: Any, audio_fd: int) -> None:
    """EAGI: run the handler on an event loop from the start, with the caller's audio on fd 3."""
    from ._eagi import open_audio

    worker = _enter_asyncio(runner)

    async def main() -> Any:
        try:
            runner.audio = await open_audio(runner, audio_fd)
        except BaseException:
            coroutine.close()  # the handler never started: no "never awaited" warning
            raise
        try:
            return await _Adopted(runner, coroutine, START)
        finally:
            runner.audio.close()

    try:
        asyncio.run(main())
    finally:
        worker.stop()
