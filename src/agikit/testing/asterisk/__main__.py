"""Command line: ``python -m agikit.testing.asterisk {provision,up,demo}``."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import textwrap
import threading
from pathlib import Path

from ._instance import AMI_USER, Asterisk, FarEnd
from ._provision import ProvisionError, provision

_DEMO_SCRIPT = textwrap.dedent(
    """\
    #!/usr/bin/env python3
    # A bare process-AGI script: read the environment, answer, play a prompt, say goodbye.
    import sys
    while sys.stdin.readline() not in ("\\n", ""):
        pass
    for command in ("ANSWER", 'STREAM FILE hello-world ""', 'SET VARIABLE DEMO "answered"'):
        sys.stdout.write(command + "\\n")
        sys.stdout.flush()
        sys.stdin.readline()
    """
)


def _provision(_: argparse.Namespace) -> int:
    chroot = provision()
    print(f"Asterisk {chroot.asterisk_version} (Python {chroot.python_version}) in {chroot.root}")
    return 0


def _up(args: argparse.Namespace) -> int:
    agi_bin = Path(args.agi_bin).resolve() if args.agi_bin else None
    with Asterisk(agi_bin=agi_bin) as asterisk:
        print(
            textwrap.dedent(
                f"""\
                Asterisk {asterisk.version} is up (PID {asterisk.pid}), loopback only.
                  AMI:      127.0.0.1:{asterisk.ami_port}
                  login:    user {AMI_USER}, secret {asterisk.ami_secret}
                  agi-bin:  {asterisk.agi_bin}
                  log:      {asterisk.log_path}
                Contexts: agikit-process, agikit-eagi, agikit-fastagi, agikit-async (AGI data in
                AGIKIT_AGI_DATA), far end agikit-far (steps in AGIKIT_FAR).
                Press Ctrl-C to stop."""
            ),
            flush=True,
        )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


def _demo(_: argparse.Namespace) -> int:
    with Asterisk() as asterisk:
        print(f"Asterisk {asterisk.version} is up on loopback (AMI port {asterisk.ami_port}).")
        script = asterisk.agi_bin / "demo.py"
        script.write_text(_DEMO_SCRIPT)
        script.chmod(0o755)
        print("Placing a call into AGI(demo.py); the far end says nothing and waits ...")
        call = asterisk.originate_process_agi("demo.py", far_end=[FarEnd.wait(30)], report=["DEMO"])
        result = call.wait(timeout=30)
        print(f"\nThe AGI side's channel {result.channel}:")
        for line in result.log:
            if "AGI Tx" in line or "AGI Rx" in line or "Playing" in line:
                print("  " + line.split("res_agi.c: ", 1)[-1].split("file.c: ", 1)[-1])
        print(f"\nAGISTATUS={result.agi_status}, DEMO={result.variables.get('DEMO')!r}")
        ok = result.agi_status == "SUCCESS" and result.variables.get("DEMO") == "answered"
        print("Asterisk answered the call." if ok else "The call did not go as expected.")
        return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m agikit.testing.asterisk",
        description="A throw-away, loopback-only Asterisk 22 for testing AGI applications.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("provision", help="build the cached Asterisk chroot (needs root)")
    up = commands.add_parser("up", help="run Asterisk until Ctrl-C, printing how to reach it")
    up.add_argument("--agi-bin", help="host directory to serve as Asterisk's agi-bin")
    commands.add_parser("demo", help="start Asterisk and show it answering a call")
    args = parser.parse_args(argv)
    handler = {"provision": _provision, "up": _up, "demo": _demo}[args.command]
    try:
        return handler(args)
    except ProvisionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
