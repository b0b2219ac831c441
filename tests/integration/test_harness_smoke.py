"""Smoke tests of the real-Asterisk harness itself, using no agikit protocol code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agikit.testing.asterisk import (
    AmiConnection,
    AmiError,
    Asterisk,
    FarEnd,
    listening_addresses,
    provision,
)
from agikit.testing.asterisk.pytest_plugin import ScriptWriter

from .rawagi import RawFastAgiServer, RawSession


@pytest.fixture
def raw_server() -> Iterator[list[RawFastAgiServer]]:
    servers: list[RawFastAgiServer] = []
    yield servers
    for server in servers:
        server.close()
        assert not server.errors, server.errors


def serve(
    servers: list[RawFastAgiServer], handler: Callable[[RawSession], None]
) -> RawFastAgiServer:
    server = RawFastAgiServer(handler)
    servers.append(server)
    return server


def test_provisioning_is_cached(asterisk: Asterisk) -> None:
    started = time.monotonic()
    again = provision()
    assert time.monotonic() - started < 1.0
    assert again == asterisk.chroot
    assert asterisk.version.startswith("22.")


def test_listens_on_loopback_only(asterisk: Asterisk) -> None:
    addresses = listening_addresses(asterisk.pid)
    assert f"tcp 127.0.0.1:{asterisk.ami_port}" in addresses
    assert all(" 127." in a or "[::1]" in a for a in addresses), addresses


def test_ami_login_plain_md5_and_bad_secret(asterisk: Asterisk) -> None:
    for md5 in (False, True):
        ami = AmiConnection("127.0.0.1", asterisk.ami_port)
        try:
            ami.login(asterisk.ami_user, asterisk.ami_secret, md5=md5)
            assert (ami.banner or "").startswith("Asterisk Call Manager/")
            assert ami.action("Ping")["Ping"] == "Pong"
            assert "22." in ami.command("core show version")
        finally:
            ami.close()
    ami = AmiConnection("127.0.0.1", asterisk.ami_port)
    try:
        with pytest.raises(AmiError, match="Authentication failed"):
            ami.login(asterisk.ami_user, "wrong-secret")
    finally:
        ami.close()


def test_raw_fastagi_exchange(asterisk: Asterisk, raw_server: list[RawFastAgiServer]) -> None:
    replies: dict[str, str] = {}

    def handler(session: RawSession) -> None:
        replies["answer"] = session.command("ANSWER")
        replies["get"] = session.command("GET VARIABLE AGIKIT_CALL_ID")
        replies["set"] = session.command('SET VARIABLE SMOKE "it works"')
        replies["hangup"] = session.command("HANGUP")
        # With AGISIGHUP unset, Asterisk notifies the hangup we caused on the socket.
        replies["notice"] = session.read_line()

    server = serve(raw_server, handler)
    call = asterisk.originate_fastagi(
        server.port, "smoke/path?x=1", args=["a b", "c,d", ""], report=["SMOKE"]
    )
    result = call.wait()
    env = server.sessions[0].env
    assert env["agi_network"] == "yes"
    assert env["agi_network_script"] == "smoke/path?x=1"
    assert env["agi_request"] == f"agi://127.0.0.1:{server.port}/smoke/path?x=1"
    assert (env["agi_arg_1"], env["agi_arg_2"], env["agi_arg_3"]) == ("a b", "c,d", "")
    assert env["agi_channel"] == result.channel
    assert replies == {
        "answer": "200 result=0",
        "get": f"200 result=1 ({call.call_id})",
        "set": "200 result=1",
        "hangup": "200 result=1",
        "notice": "HANGUP",
    }
    assert result.variables == {"SMOKE": "it works"}
    assert result.agi_status in ("SUCCESS", "HANGUP")
    assert any("AGI Rx << ANSWER" in line for line in result.log)
    assert any("AGI Tx >> 200 result=1 (" in line for line in result.log)


def test_raw_process_agi_imports_project_source(
    asterisk: Asterisk, agi_script: ScriptWriter
) -> None:
    script = agi_script(
        "smoke_process.py",
        textwrap.dedent(
            """\
            #!/usr/bin/env python3
            import sys
            env = {}
            for line in sys.stdin:
                if line == "\\n":
                    break
                key, _, value = line.rstrip("\\n").partition(": ")
                env[key] = value

            def quoted(value):
                return '"%s"' % value.replace("\\\\", "\\\\\\\\").replace('"', '\\\\"')

            def command(text):
                sys.stdout.write(text + "\\n")
                sys.stdout.flush()
                return sys.stdin.readline().rstrip("\\n")

            import agikit
            assert command("ANSWER") == "200 result=0"
            command("SET VARIABLE SMOKE_FILE " + quoted(agikit.__file__))
            command("SET VARIABLE SMOKE_ARGS " + quoted("|".join(sys.argv[1:])))
            command("SET VARIABLE SMOKE_PY " + quoted("%d.%d" % sys.version_info[:2]))
            command("SET VARIABLE SMOKE_ENV " + quoted(env["agi_arg_2"]))
            """
        ),
    )
    call = asterisk.originate_process_agi(
        script,
        args=["one", 'two "quoted" (x), [y]'],
        report=["SMOKE_FILE", "SMOKE_ARGS", "SMOKE_PY", "SMOKE_ENV"],
    )
    result = call.wait()
    assert result.agi_status == "SUCCESS", result.log_text()
    assert result.after_agi
    assert result.variables["SMOKE_FILE"] == "/agikit/src/agikit/__init__.py"
    assert result.variables["SMOKE_ARGS"] == 'one|two "quoted" (x), [y]'
    assert result.variables["SMOKE_ENV"] == 'two "quoted" (x), [y]'
    assert result.variables["SMOKE_PY"].startswith("3.")


def test_far_end_sends_dtmf_while_agi_waits(
    asterisk: Asterisk, raw_server: list[RawFastAgiServer]
) -> None:
    replies: list[str] = []

    def handler(session: RawSession) -> None:
        replies.append(session.command("ANSWER"))
        replies.append(session.command("WAIT FOR DIGIT 5000"))

    server = serve(raw_server, handler)
    call = asterisk.originate_fastagi(server.port, far_end=[FarEnd.wait(1.2), FarEnd.dtmf("5")])
    result = call.wait()
    assert replies == ["200 result=0", f"200 result={ord('5')}"]
    assert result.agi_status == "SUCCESS"


def test_far_end_hangs_up_and_variables_reach_the_agi(
    asterisk: Asterisk, raw_server: list[RawFastAgiServer]
) -> None:
    seen: list[str] = []

    def handler(session: RawSession) -> None:
        seen.append(session.command("GET VARIABLE AGIEXITONHANGUP"))
        seen.append(session.command("ANSWER"))
        seen.append(session.command("WAIT FOR DIGIT 10000"))
        # Asterisk notices the hangup between commands and, with AGIEXITONHANGUP, closes.
        try:
            while True:
                seen.append(session.read_line())
        except EOFError:
            pass

    server = serve(raw_server, handler)
    started = time.monotonic()
    call = asterisk.originate_fastagi(
        server.port,
        far_end=[FarEnd.play("beep"), FarEnd.hangup()],
        variables={"AGIEXITONHANGUP": "yes"},
    )
    result = call.wait()
    assert time.monotonic() - started < 5
    assert seen[:3] == ["200 result=1 (yes)", "200 result=0", "200 result=-1"]
    assert "HANGUP" in seen[3:]
    assert result.agi_status == "HANGUP"
    assert not result.after_agi


def test_live_getvar_and_external_hangup(
    asterisk: Asterisk, raw_server: list[RawFastAgiServer]
) -> None:
    def handler(session: RawSession) -> None:
        session.command('SET VARIABLE LIVE "here"')
        session.command("WAIT FOR DIGIT 10000")

    server = serve(raw_server, handler)
    call = asterisk.originate_fastagi(server.port, variables={"AGISIGHUP": "no"})
    call.wait_started()
    deadline = time.monotonic() + 5
    while call.getvar("LIVE") != "here":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    call.hangup()
    result = call.wait()
    assert result.agi_status == "HANGUP"


def test_killed_owner_leaves_nothing_behind(asterisk: Asterisk, tmp_path: Path) -> None:
    """A test run killed with SIGKILL takes its Asterisk with it; no process or mount remains."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import json, time\n"
            "from agikit.testing.asterisk import Asterisk\n"
            "a = Asterisk().start()\n"
            "print(json.dumps({'pid': a.pid, 'state': str(a.state_dir)}), flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(asterisk.source_dir)},
    )
    assert child.stdout is not None
    facts = json.loads(child.stdout.readline())
    child.send_signal(signal.SIGKILL)
    child.wait()
    deadline = time.monotonic() + 5
    while Path(f"/proc/{facts['pid']}").exists():
        assert time.monotonic() < deadline, "Asterisk outlived its killed owner"
        time.sleep(0.05)
    with open("/proc/self/mounts") as mounts:
        assert "/agikit/" not in mounts.read()
    # The next start clears the dead instance's state directory.
    with Asterisk():
        pass
    assert not Path(facts["state"]).exists()
