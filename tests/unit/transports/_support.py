"""Running handlers on the stdio transport against the fake Asterisk, in-process or spawned."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import textwrap
from collections.abc import Callable, Coroutine, Iterator, Mapping
from pathlib import Path
from typing import Any

import agikit
from agikit import _stdio as stdio  # the code of agikit.transports.stdio: patch it there
from agikit.testing.fake import FakeAsterisk, Result

#: The directory holding the ``agikit`` package, for a spawned script's PYTHONPATH.
SRC = str(Path(agikit.__file__).resolve().parents[1])

#: How an ``async def`` test handler is run in-process: through a ``SyncCall`` (``sync``), on an
#: event loop (``asyncio``: the test process has imported asyncio) or loop-free (``loop-free``).
MODES = ("sync", "asyncio", "loop-free")

AsyncHandler = Callable[[Any], Coroutine[Any, Any, Any]]


class _AwaitableCall:
    """A ``SyncCall`` whose methods are coroutines returning at once: one handler source for
    both kinds of call, the blocking methods doing the real work."""

    def __init__(self, call: agikit.SyncCall) -> None:
        self._call = call

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._call, name)
        if not callable(attribute):
            return attribute

        async def method(*args: Any, **kwargs: Any) -> Any:
            return attribute(*args, **kwargs)

        return method


def as_sync(handler: AsyncHandler) -> Callable[[agikit.SyncCall], Any]:
    """A blocking handler running ``handler``'s code on a ``SyncCall``."""

    def sync_handler(call: agikit.SyncCall) -> Any:
        coroutine = handler(_AwaitableCall(call))
        try:
            coroutine.send(None)
        except StopIteration as stop:
            return stop.value
        coroutine.close()
        raise AssertionError("a sync-mode test handler awaited something other than a command")

    return sync_handler


@contextlib.contextmanager
def loop_free() -> Iterator[None]:
    """Make ``serve`` drive async handlers without asyncio although this process imported it."""
    saved = stdio._asyncio_loaded
    stdio._asyncio_loaded = lambda: False
    try:
        yield
    finally:
        stdio._asyncio_loaded = saved


class Served:
    """What an in-process run gave: the exit status and the fake's result."""

    def __init__(self, status: int, result: Result) -> None:
        self.status = status
        self.result = result

    def sent(self) -> list[str]:
        """The command lines the AGI sent, in order."""
        return self.result.commands


def serve_in_process(
    fake: FakeAsterisk,
    handler: Callable[..., Any],
    mode: str = "asyncio",
    *,
    sighup: bool = True,
    eagi_audio: Any = None,
    record: Path | None = None,
    **options: Any,
) -> Served:
    """Run ``handler`` with ``agikit.serve`` over the fake's in-process pipes.

    ``mode`` as in :data:`MODES` (``handler`` is an ``async def``; ``sync`` runs it through
    :func:`as_sync`); a plain function is served as it is whatever the mode. With ``sighup``,
    the fake's hangup is a real SIGHUP to this process, handled by ``serve`` (only while it
    runs: afterwards a stray one is dropped, not fatal to the test run).
    """
    serving = False

    def send_sighup() -> None:
        if serving:
            os.kill(os.getpid(), signal.SIGHUP)

    if mode == "sync" and stdio.is_async_handler(handler):
        handler = as_sync(handler)
    with fake.in_process(
        on_sighup=send_sighup if sighup else None, eagi_audio=eagi_audio, **options
    ) as agi:
        serving = True
        try:
            with loop_free() if mode == "loop-free" else contextlib.nullcontext():
                status = agikit.serve(
                    handler,
                    stdin=agi.stdin,
                    stdout=agi.stdout,
                    audio_fd=agi.audio,
                    handle_sighup=sighup,
                    record=record,
                )
        finally:
            serving = False
    return Served(status, agi.result)


def write_script(directory: Path, body: str, name: str = "script.py") -> Path:
    """Write a process-AGI script (``body``, dedented) that can import agikit."""
    path = directory / name
    path.write_text(textwrap.dedent(body))
    return path


def run_script(
    fake: FakeAsterisk,
    script: Path,
    *,
    env: Mapping[str, str] | None = None,
    exit_status: int | None = 0,
    **options: Any,
) -> Result:
    """Run ``script`` with this Python as a process AGI (EAGI with ``eagi_audio=...``)."""
    process_env = {"PYTHONPATH": SRC, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    return fake.run_process(
        script.name,
        agi_dir=script.parent,
        interpreter=[sys.executable],
        process_env=process_env,
        exit_status=exit_status,
        **options,
    )


def stderr_text(result: Result) -> str:
    return (result.stderr or b"").decode("utf-8", "replace")
