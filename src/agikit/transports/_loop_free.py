"""``async def`` handlers over process AGI, driven without an event loop while they can be.

Loaded only when the handler is an ``async def`` function: a blocking script never pays for it.
Process AGI runs strictly one command at a time, so a coroutine that only awaits ``Call`` methods
is driven by sending each reply into it (:func:`drive`); once it awaits something else, the rest
of it runs on asyncio (see ``_adopt``).
"""

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Generator
    from typing import Any, TypeVar

    from .._runner import CommandRequest
    from ..protocol.environment import Environment
    from .stdio import StdioRunner

    T = TypeVar("T")


class _Pending:
    """What an ``async`` Call method awaits in the loop-free mode: the driver runs it."""

    __slots__ = ("request",)

    def __init__(self, request: "CommandRequest[Any]") -> None:
        self.request = request

    def __await__(self) -> "Generator[Any, Any, Any]":
        return (yield self)


def run_async(runner: "StdioRunner", request: "CommandRequest[T]") -> "Awaitable[T]":
    """The async runner interface: a loop-free awaitable, or an asyncio future."""
    if not runner.asyncio_mode:
        return _Pending(request)
    command: Awaitable[T] = runner._executor.command(request)
    return command


def drive(runner: "StdioRunner", coroutine: "Any") -> None:
    """Run an ``async def`` handler's coroutine to completion, without asyncio if it can.

    asyncio's own awaitables need a running loop as soon as they are created (before they
    yield anything), so the loop cannot be started after the fact: while the handler runs,
    an import hook waits for ``asyncio`` to be imported and then prepares a loop, marked as
    running, for it to find. The first time the handler awaits something other than an
    agikit command, the rest of it runs on that loop.
    """
    watcher = _AsyncioWatcher(runner)
    sys.meta_path.insert(0, watcher)
    try:
        send_value: Any = None
        error: BaseException | None = None
        while True:
            try:
                if error is not None:
                    yielded = coroutine.throw(error)
                else:
                    yielded = coroutine.send(send_value)
            except StopIteration:
                return
            if type(yielded) is not _Pending:
                from ._adopt import run_adopted

                run_adopted(runner, coroutine, yielded, runner.prepared_loop)
                return
            try:
                send_value, error = runner.run(yielded.request), None
            except Exception as exc:  # delivered into the handler, where it belongs
                send_value, error = None, exc
    finally:
        watcher.remove()
        if runner.prepared_loop is not None and not runner.prepared_loop.is_closed():
            from ._adopt import discard_prepared_loop

            discard_prepared_loop(runner.prepared_loop)


class _AsyncioWatcher:
    """A meta-path finder that notices the handler importing asyncio, and nothing else."""

    def __init__(self, runner: "StdioRunner") -> None:
        self._runner = runner

    def remove(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)

    def find_spec(self, name: str, path: "Any" = None, target: "Any" = None) -> "Any":
        if name != "asyncio":
            return None
        self.remove()
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find is not None else None
            if spec is not None and spec.loader is not None:
                break
        else:
            return None
        loader = spec.loader
        execute = loader.exec_module
        runner = self._runner

        def exec_module(module: "Any") -> None:
            execute(module)
            from ._adopt import prepare_loop

            runner.prepared_loop = prepare_loop()

        loader.exec_module = exec_module
        return spec


class AsyncRunnerView:
    """The async runner interface over a :class:`StdioRunner` (what ``Call`` holds)."""

    __slots__ = ("_runner",)

    def __init__(self, runner: "StdioRunner") -> None:
        self._runner = runner

    @property
    def environment(self) -> "Environment":
        return self._runner.environment

    @property
    def hung_up(self) -> bool:
        return self._runner.hung_up

    @property
    def audio(self) -> "Any":
        return self._runner.audio

    def run(self, request: "CommandRequest[T]") -> "Awaitable[T]":
        return run_async(self._runner, request)
