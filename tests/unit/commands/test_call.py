"""The generated Call and SyncCall: same surface, one-line delegation to the command table."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
from typing import Any

import pytest

from agikit import _codegen
from agikit import commands as C
from agikit.call import Call, SyncCall
from agikit.commands import CommandRequest
from agikit.protocol.environment import Environment

from .test_requests import LINES

ENV = Environment({"agi_channel": "PJSIP/alice-00000012", "agi_uniqueid": "1732712345.87"})


class RecordingRunner:
    """A runner that records each request and returns a marker instead of talking to Asterisk."""

    def __init__(self) -> None:
        self.environment = ENV
        self.hung_up = False
        self.requests: list[CommandRequest[Any]] = []

    def run(self, request: CommandRequest[Any]) -> object:
        self.requests.append(request)
        return ("result of", request.line)


class AsyncRecordingRunner(RecordingRunner):
    async def run(self, request: CommandRequest[Any]) -> object:
        return super().run(request)


def test_the_generated_file_is_up_to_date() -> None:
    assert _codegen.main(["--check"]) == 0, "run: python -m agikit._codegen"


def test_codegen_check_from_the_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agikit._codegen", "--check"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_codegen_check_reports_a_stale_file(tmp_path: Any, monkeypatch: Any) -> None:
    texts = _codegen.generate()
    assert set(texts) == {"_async_call.py", "_sync_call.py"}
    (tmp_path / "_async_call.py").write_text(texts["_async_call.py"])
    stale = tmp_path / "_sync_call.py"
    stale.write_text("# old\n")
    monkeypatch.setattr(_codegen, "DIRECTORY", tmp_path)
    assert _codegen.main(["--check"]) == 1
    assert stale.read_text() == "# old\n"
    assert _codegen.main([]) == 0
    assert stale.read_text() == texts["_sync_call.py"]
    assert _codegen.main(["--check"]) == 0


def test_call_imports_each_class_from_its_own_module() -> None:
    """A blocking script never loads the async class (process AGI pays for every import)."""
    script = (
        "import sys\n"
        "from agikit.call import SyncCall\n"
        "assert SyncCall.__module__ == 'agikit._sync_call', SyncCall.__module__\n"
        "assert 'agikit._async_call' not in sys.modules\n"
        "import agikit, agikit.call\n"
        "assert agikit.SyncCall is SyncCall and agikit.call.Call is agikit.Call\n"
        "assert agikit.Call.__module__ == 'agikit._async_call'\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


def annotation_text(annotation: object) -> str:
    """An annotation as written in the source (quoted ones are strings, the others evaluated)."""
    if isinstance(annotation, str):
        return annotation.strip('"')
    if annotation is None:
        return "None"
    return inspect.formatannotation(annotation)


@pytest.mark.parametrize("command", C.COMMANDS, ids=lambda command: command.method)
def test_one_method_per_command_with_identical_signatures(command: C.Command[Any]) -> None:
    async_method = getattr(Call, command.method)
    sync_method = getattr(SyncCall, command.method)
    assert inspect.iscoroutinefunction(async_method)
    assert not inspect.iscoroutinefunction(sync_method)
    assert inspect.signature(async_method) == inspect.signature(sync_method)
    parameters = list(inspect.signature(async_method).parameters.values())[1:]
    assert [p.name for p in parameters] == [p.name for p in command.params]
    for parameter, param in zip(parameters, command.params, strict=True):
        assert annotation_text(parameter.annotation) == param.annotation
        if param.variadic:
            assert parameter.kind is inspect.Parameter.VAR_POSITIONAL
        elif not param.required:
            assert parameter.default == param.default
    assert annotation_text(inspect.signature(async_method).return_annotation) == command.returns
    assert async_method.__doc__ == sync_method.__doc__
    assert async_method.__doc__.startswith(command.summary)


def test_no_other_public_methods() -> None:
    methods = {command.method for command in C.COMMANDS} | {"raw", "hung_up", "env"}
    # EAGI audio is an async stream, so only the async Call has it.
    for cls, extra in ((Call, {"audio"}), (SyncCall, set())):
        public = {name for name in dir(cls) if not name.startswith("_")}
        assert public == methods | extra


@pytest.mark.parametrize(("command", "args", "kwargs", "line"), LINES)
def test_methods_send_what_the_table_builds(
    command: C.Command[Any], args: tuple[Any, ...], kwargs: dict[str, Any], line: str
) -> None:
    runner = RecordingRunner()
    call = SyncCall(runner)  # type: ignore[arg-type]
    assert getattr(call, command.method)(*args, **kwargs) == ("result of", line.encode())
    (request,) = runner.requests
    assert request.command is command
    assert request.line == line.encode()

    async_runner = AsyncRecordingRunner()
    async_call = Call(async_runner)  # type: ignore[arg-type]
    result = asyncio.run(getattr(async_call, command.method)(*args, **kwargs))
    assert result == ("result of", line.encode())
    assert async_runner.requests[0].line == line.encode()


def test_env_hung_up_and_raw() -> None:
    runner = RecordingRunner()
    call = SyncCall(runner)  # type: ignore[arg-type]
    assert call.env is ENV
    assert repr(call) == "SyncCall(channel='PJSIP/alice-00000012')"
    assert call.hung_up is False
    runner.hung_up = True
    assert call.hung_up is True
    assert call.raw("NEW COMMAND", "a b", 1) == ("result of", b'NEW COMMAND "a b" 1')
    assert runner.requests[-1].command is None

    async_runner = AsyncRecordingRunner()
    async_call = Call(async_runner)
    assert repr(async_call) == "Call(channel='PJSIP/alice-00000012')"
    assert asyncio.run(async_call.raw("NOOP")) == ("result of", b"NOOP")


def test_argument_errors_are_raised_before_anything_is_sent() -> None:
    runner = RecordingRunner()
    call = SyncCall(runner)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"stream_file\(\) argument 'escape_digits'"):
        call.stream_file("beep", escape_digits="x")
    assert runner.requests == []
