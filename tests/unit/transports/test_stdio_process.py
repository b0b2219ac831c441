"""Process AGI for real: a script calling ``agikit.run`` spawned by the fake Asterisk, with
pipes on fds 0/1, its stderr collected, and real SIGHUP."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from agikit.testing.fake import (
    DEAD_CHANNEL,
    NO_REPLY,
    FakeAsterisk,
    Raw,
    close_stream,
    expect,
    expect_rest,
    hangup,
    usage_reply,
)

from ._support import run_script, stderr_text, write_script

pytestmark = pytest.mark.timeout(60)

#: Modules the blocking path must not import (process AGI pays for every import on every call).
HEAVY = ["asyncio", "typing", "dataclasses", "enum", "re", "inspect", "threading", "signal"]


def _report_modules(name: str) -> str:
    """Script code that writes ``NAME=<list of heavy modules loaded>`` to stderr."""
    return (
        f"sys.stderr.write({name!r} + '=' + repr(sorted(m for m in {HEAVY!r} "
        "if m in sys.modules)) + '\\n')"
    )


def _value(stderr: str, name: str) -> object:
    for line in stderr.splitlines():
        if line.startswith(name + "="):
            return ast.literal_eval(line[len(name) + 1 :])
    raise AssertionError(f"{name} not reported; stderr:\n{stderr}")


# ------------------------------------------------------------------------------ SIGHUP


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_sighup_marks_the_call_hung_up_instead_of_killing_the_script(
    tmp_path: Path, kind: str
) -> None:
    script = write_script(
        tmp_path,
        f"""
        import sys, time, agikit

        {"async " if kind == "async" else ""}def main(call):
            {"await " if kind == "async" else ""}call.answer()
            deadline = time.monotonic() + 5
            while not call.hung_up and time.monotonic() < deadline:
                time.sleep(0.01)
            print("hung up:", call.hung_up, file=sys.stderr)
            try:
                {"await " if kind == "async" else ""}call.stream_file("beep")  # not sent
            finally:
                {"await " if kind == "async" else ""}call.set_variable("CLEANUP", "done")

        agikit.run(main)
        """,
    )
    fake = FakeAsterisk([expect("ANSWER"), hangup(), expect("SET VARIABLE CLEANUP done")])
    result = run_script(fake, script)
    result.assert_ok()
    assert result.exit_status == 0 and result.agi_status == "HANGUP"
    assert "hung up: True" in stderr_text(result)
    assert "Traceback" not in stderr_text(result)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_sighup_as_the_script_exits_never_kills_it(tmp_path: Path, kind: str) -> None:
    """Asterisk may send SIGHUP right after the script's last command, while it exits. Python
    puts back SIGHUP's default action (die) while it shuts down, so agikit ignores SIGHUP once
    the session is over; the script ends with its own status (here: 10 runs, each with the
    hangup sent as the script ends)."""
    script = write_script(
        tmp_path,
        f"""
        import atexit, signal, sys, agikit

        {"async " if kind == "async" else ""}def main(call):
            {"await " if kind == "async" else ""}call.answer()

        def report():
            ignored = signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            print("after run:", ignored, file=sys.stderr)

        atexit.register(report)
        agikit.run(main)
        """,
    )
    for _ in range(10):
        result = run_script(FakeAsterisk([expect("ANSWER"), hangup()]), script)
        result.assert_ok()
        assert result.exit_status == 0
        assert "after run: True" in stderr_text(result)


def test_sighup_while_a_command_runs(tmp_path: Path) -> None:
    # The signal interrupts the blocked read; the failing reply that follows is a Hangup.
    script = write_script(
        tmp_path,
        """
        import sys, agikit

        def main(call):
            try:
                call.stream_file("long")
            except agikit.Hangup as error:
                print("Hangup:", error.reply.lines, file=sys.stderr)
            call.verbose("after", 1)

        agikit.run(main)
        """,
    )
    fake = FakeAsterisk(
        [
            expect(
                'STREAM FILE long ""',
                reply="200 result=-1 endpos=1200",
                hangup_before_reply=True,
                delay=0.2,
            ),
            expect("VERBOSE after 1"),
        ]
    )
    result = run_script(fake, script)
    result.assert_ok()
    assert "Hangup: (b'200 result=-1 endpos=1200',)" in stderr_text(result)


def test_agisighup_no_sends_no_signal_and_511_is_the_hangup(tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        """
        import sys, time, agikit

        def main(call):
            call.answer()
            time.sleep(0.3)  # the hangup happens now, unannounced
            print("hung up before:", call.hung_up, file=sys.stderr)
            try:
                call.stream_file("beep")
            except agikit.Hangup as error:
                print("Hangup:", error.reply.lines, file=sys.stderr)
                raise
            finally:
                call.set_variable("CLEANUP", "done")

        agikit.run(main)
        """,
    )
    fake = FakeAsterisk(
        [
            expect("ANSWER"),
            hangup(),
            expect('STREAM FILE beep ""'),
            expect("SET VARIABLE CLEANUP done"),
        ],
        agisighup=False,
    )
    result = run_script(fake, script)
    result.assert_ok()
    stderr = stderr_text(result)
    assert "hung up before: False" in stderr
    assert f"Hangup: ({DEAD_CHANNEL.encode()!r},)" in stderr
    assert result.exit_status == 0
    assert any("AGISIGHUP=no: no notification" in note for note in result.notes)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_exit_on_hangup_ends_the_script_cleanly(tmp_path: Path, kind: str) -> None:
    aw = "await " if kind == "async" else ""
    script = write_script(
        tmp_path,
        f"""
        import sys, time, agikit

        {"async " if kind == "async" else ""}def main(call):
            {aw}call.answer()
            try:
                while True:  # dead-channel commands, until Asterisk closes the pipes
                    {aw}call.noop()
                    time.sleep(0.01)
            finally:
                print("cleanup", file=sys.stderr)
                {aw}call.set_variable("CLEANUP", "done")  # the pipe is closed: Hangup

        agikit.run(main)
        """,
    )
    fake = FakeAsterisk([expect("ANSWER"), expect("NOOP"), hangup()], exit_on_hangup=True)
    result = run_script(fake, script)
    result.assert_ok()
    stderr = stderr_text(result)
    assert result.exit_status == 0 and "cleanup" in stderr and "Traceback" not in stderr


# ------------------------------------------------------------------------------ stray I/O


def test_stray_output_and_input_never_reach_the_protocol(tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        """
        import os, subprocess, sys, agikit

        print("print at import time")  # still in sys.stdout's buffer when run() starts

        def main(call):
            print("print in the handler")
            sys.stdout.write("no newline")
            sys.stdout.flush()
            os.write(1, b"os.write to fd 1\\n")
            try:
                input("prompt? ")
            except EOFError:
                print("input: EOF", file=sys.stderr)
            print("stdin.read:", repr(sys.stdin.read()), file=sys.stderr)
            subprocess.run([sys.executable, "-c", "print('child stdout')"], check=True)
            subprocess.run(["sh", "-c", "echo shell child; cat"], check=True)
            call.answer()
            print("more print")
            call.verbose("done", 1)
            print("print at the end, unflushed", end="")

        agikit.run(main)
        """,
    )
    fake = FakeAsterisk([expect("ANSWER"), expect("VERBOSE done 1")])
    # Buffered stdout (PYTHONUNBUFFERED would write the import-time print straight to fd 1,
    # before agikit could move the protocol away from it).
    result = run_script(fake, script, env={"PYTHONUNBUFFERED": ""})
    result.assert_ok()
    assert result.commands == ["ANSWER", "VERBOSE done 1"]
    stderr = stderr_text(result)
    for text in [
        "print at import time",
        "print in the handler",
        "no newline",
        "os.write to fd 1",
        "input: EOF",
        "stdin.read: ''",
        "child stdout",
        "shell child",
        "more print",
        "print at the end, unflushed",
    ]:
        assert text in stderr, text


# ------------------------------------------------------------------------------ broken peers


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (
            [expect("ANSWER", reply=Raw(b"200 res")), close_stream()],
            "agikit.errors.ConnectionClosed: the stream ended inside a line: b'200 res' "
            "(awaiting the reply to 'ANSWER')",
        ),
        (
            [expect("ANSWER", reply=NO_REPLY), close_stream()],
            "agikit.errors.ConnectionClosed: Asterisk closed the AGI stream while 'ANSWER' ran",
        ),
        (
            [expect("ANSWER", reply=usage_reply("x")[:2]), close_stream()],
            "agikit.errors.ConnectionClosed: the stream ended inside a 520 usage block",
        ),
        (
            [expect("ANSWER", reply="garbage")],
            "agikit.errors.ProtocolError: ",
        ),
        (
            [expect("ANSWER", reply=b"\xff\xfe\n\x00garbage")],
            "agikit.errors.ProtocolError: ",
        ),
        (
            [expect("ANSWER", reply=b"x" * (2**20 + 10))],
            "agikit.errors.ProtocolError: a line longer than 1048576 bytes",
        ),
        (
            [expect("ANSWER", reply=Raw(b"200 result=0")), expect("NOOP")],
            "agikit.errors.ConnectionClosed: the stream ended inside a line: b'200 result=0'",
        ),
    ],
    ids=["mid-reply", "no-reply", "mid-usage", "garbage", "binary", "1mib", "no-lf"],
)
def test_broken_asterisk_gives_a_clear_error_and_status_1(
    tmp_path: Path, steps: list[object], message: str
) -> None:
    script = write_script(
        tmp_path,
        """
        import agikit

        def main(call):
            call.answer()
            call.noop()

        agikit.run(main)
        """,
    )
    # agisighup=False: when the fake gives up on a silent AGI it ends the session, and a
    # SIGHUP would make that a hangup (status 0).
    fake = FakeAsterisk(steps, timeout=1, agisighup=False)  # type: ignore[arg-type]
    result = run_script(fake, script, exit_status=1)
    assert result.exit_status == 1
    assert result.duration < 10
    stderr = stderr_text(result)
    assert "Traceback (most recent call last)" in stderr
    assert message in stderr.splitlines()[-1] or message in stderr, stderr
    assert result.commands == ["ANSWER"]  # nothing sent after the broken reply


def test_invalid_utf8_in_the_environment(tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        """
        import sys, agikit

        def main(call):
            print("name:", ascii(call.env.calleridname), file=sys.stderr)
            call.set_variable("NAME", call.env.calleridname)

        agikit.run(main)
        """,
    )
    fake = FakeAsterisk(
        [expect(b'SET VARIABLE NAME "J\xf6rg \xff"', exact=True)],
        env={"calleridname": "J\udcf6rg \udcff"},
    )
    result = run_script(fake, script)
    result.assert_ok()
    assert "name: 'J\\udcf6rg \\udcff'" in stderr_text(result)


# ------------------------------------------------------------------------------ async handlers


def test_async_handler_runs_without_asyncio_and_the_sync_path_stays_lean(tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        f"""
        import sys, agikit

        async def main(call):
            await call.answer()
            value = await call.get_variable("X")
            try:
                await call.stream_file("missing")
            except agikit.CommandFailed:
                pass
            await call.set_variable("Y", value)
            {_report_modules("LOADED")}

        agikit.run(main)
        """,
    )
    fake = FakeAsterisk(
        [
            expect("ANSWER"),
            expect("GET VARIABLE X", reply="200 result=1 (x)"),
            expect('STREAM FILE missing ""', reply="200 result=-1 endpos=0"),
            expect("NOOP"),
            expect("SET VARIABLE Y x"),
        ]
    )
    result = run_script(fake, script)
    result.assert_ok()
    assert _value(stderr_text(result), "LOADED") == []


def test_sync_handler_imports_nothing_heavy(tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        f"""
        import sys, agikit

        def main(call):
            call.answer()
            try:
                call.stream_file("missing")
            except agikit.CommandFailed:
                pass
            {_report_modules("LOADED")}

        agikit.run(main)
        """,
    )
    fake = FakeAsterisk(
        [
            expect("ANSWER"),
            expect('STREAM FILE missing ""', reply="200 result=-1 endpos=0"),
            expect("NOOP"),
        ]
    )
    result = run_script(fake, script)
    result.assert_ok()
    assert _value(stderr_text(result), "LOADED") == []


def test_async_handler_switches_to_asyncio_when_it_needs_it(tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        """
        import sys, threading, agikit

        async def main(call):
            await call.answer()
            print("before:", "asyncio" in sys.modules, file=sys.stderr)
            import asyncio

            await asyncio.sleep(0)  # a bare yield
            await asyncio.sleep(0.01)  # a real timer: the rest runs on a loop
            print("loop:", asyncio.get_running_loop() is not None, file=sys.stderr)
            value = await call.get_variable("X")
            task = asyncio.create_task(call.get_variable("Y"))
            print("task:", await task, file=sys.stderr)
            print("wait_for:", await asyncio.wait_for(call.get_variable("Z"), 5), file=sys.stderr)
            results = await asyncio.gather(call.noop(), call.noop(), return_exceptions=True)
            print("gather:", [type(r).__name__ for r in results], file=sys.stderr)
            try:
                await asyncio.wait_for(call.stream_file("long"), 0.05)
            except TimeoutError:
                print("timeout", file=sys.stderr)
            await asyncio.sleep(0.5)
            await call.set_variable("X2", value)

        agikit.run(main)
        """,
    )
    fake = FakeAsterisk(
        [
            expect("ANSWER"),
            expect("GET VARIABLE X", reply="200 result=1 (x)"),
            expect("GET VARIABLE Y", reply="200 result=1 (y)"),
            expect("GET VARIABLE Z", reply="200 result=1 (z)"),
            expect("NOOP"),
            expect('STREAM FILE long ""', delay=0.2),
            expect("SET VARIABLE X2 x"),
        ]
    )
    result = run_script(fake, script)
    result.assert_ok()
    stderr = stderr_text(result)
    for text in [
        "before: False",
        "loop: True",
        "task: y",
        "wait_for: z",
        "gather: ['NoneType', 'CommandInFlight']",
        "timeout",
    ]:
        assert text in stderr, stderr


def test_async_handler_importing_asyncio_but_awaiting_only_commands(tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        """
        import sys, agikit

        async def main(call):
            import asyncio  # a loop is prepared, never started

            await call.answer()
            await call.verbose("x", 1)
            print("done", file=sys.stderr)

        agikit.run(main)
        """,
    )
    result = run_script(FakeAsterisk([expect("ANSWER"), expect("VERBOSE x 1")]), script)
    result.assert_ok()
    assert "done" in stderr_text(result) and "Traceback" not in stderr_text(result)


def test_async_handler_with_asyncio_imported_at_module_level(tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        """
        import asyncio, sys, agikit

        async def main(call):
            loop = asyncio.get_running_loop()  # on a loop from the start
            await call.answer()
            done = loop.create_future()
            loop.call_later(0.01, done.set_result, "timer")
            print("future:", await done, file=sys.stderr)
            await call.verbose("x", 1)

        agikit.run(main)
        """,
    )
    result = run_script(FakeAsterisk([expect("ANSWER"), expect("VERBOSE x 1")]), script)
    result.assert_ok()
    assert "future: timer" in stderr_text(result)


def test_async_handler_hangup_after_the_switch_to_asyncio(tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        """
        import asyncio, sys, agikit

        async def main(call):
            await asyncio.sleep(0.01)
            try:
                await call.stream_file("x")
            except agikit.Hangup as error:
                print("Hangup:", error.command, call.hung_up, file=sys.stderr)
            try:
                await call.answer()
            except agikit.Hangup as error:
                print("refused:", error.reply, file=sys.stderr)
            await call.set_variable("CLEANUP", "done")

        agikit.run(main)
        """,
    )
    fake = FakeAsterisk(
        [
            expect('STREAM FILE x ""', reply="200 result=-1 endpos=0"),
            expect("NOOP", hangup_before_reply=True),
            expect("SET VARIABLE CLEANUP done"),
        ]
    )
    result = run_script(fake, script)
    result.assert_ok()
    stderr = stderr_text(result)
    assert 'Hangup: STREAM FILE x "" True' in stderr and "refused: None" in stderr


@pytest.mark.parametrize("where", ["handler", "after-switch"])
def test_async_handler_raising_exits_1_with_a_traceback(tmp_path: Path, where: str) -> None:
    switch = "import asyncio; await asyncio.sleep(0.01)" if where == "after-switch" else "pass"
    script = write_script(
        tmp_path,
        f"""
        import agikit

        async def main(call):
            {switch}
            await call.answer()
            raise RuntimeError("a bug in the handler")

        agikit.run(main)
        """,
    )
    result = run_script(FakeAsterisk([expect("ANSWER")]), script, exit_status=1)
    result.assert_ok()
    stderr = stderr_text(result)
    assert "Traceback" in stderr and "RuntimeError: a bug in the handler" in stderr
    assert result.agi_status == "FAILURE"


def test_handler_may_return_without_any_command(tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        """
        import asyncio, agikit

        async def main(call):
            return None

        agikit.run(main)
        """,
    )
    result = run_script(FakeAsterisk([]), script)
    result.assert_ok()
    assert "Traceback" not in stderr_text(result)


def test_a_script_ending_early_leaves_the_rest_of_the_script_unrun(tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        """
        import agikit

        def main(call):
            call.answer()

        agikit.run(main)
        """,
    )
    result = run_script(FakeAsterisk([expect("ANSWER"), expect_rest()]), script)
    result.assert_ok()
