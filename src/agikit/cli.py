"""``agikit`` on the command line (also ``python -m agikit``).

``agikit serve module:app`` runs a FastAGI server, ``agikit asyncagi module:app`` an app for
Async AGI over AMI. The tools for the engineer on call (in :mod:`agikit.tools`, imported only
when used): ``agikit call URL`` plays Asterisk for one call against a running server and prints
the exchange; ``agikit replay TRANSCRIPT module:app`` replays a recorded call (or one from
Asterisk's AGI debug log) against an app; ``agikit load URL`` load-tests a server; ``agikit
commands`` lists the AGI commands agikit knows.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import subprocess
import sys
from typing import Any

log = logging.getLogger("agikit.cli")


def load_app(target: str) -> Any:
    """``"package.module:attribute"`` (attribute defaults to ``app``) -> the object."""
    module_name, _, attribute = target.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SystemExit(f"agikit: cannot import {module_name!r}: {exc}") from exc
    value: Any = module
    for part in (attribute or "app").split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            missing = attribute or "app"
            raise SystemExit(f"agikit: {module_name!r} has no attribute {missing!r}") from None
    return value


def _serve(args: argparse.Namespace) -> int:
    from . import log as agikit_log

    agikit_log.configure(args.log_level, args.log_format)
    if args.workers > 1 and not args.worker:
        return _supervise(args)
    from .transports.fastagi import serve

    app = load_app(args.app)
    serve(
        app,
        host=args.host,
        port=args.port,
        grace=args.drain,
        max_calls=args.max_calls,
        allow=args.allow,
        environment_timeout=args.environment_timeout,
        call_timeout=args.call_timeout,
        reuse_port=args.workers > 1,
        record=args.record,
    )
    return 0


def _asyncagi(args: argparse.Namespace) -> int:
    import asyncio

    from . import log as agikit_log

    agikit_log.configure(args.log_level, args.log_format)
    host, _, port = args.ami.rpartition(":")
    secret = os.environ.get(args.secret_env, "") if args.secret_env else ""
    if not secret:
        raise SystemExit(f"agikit: set the AMI secret in ${args.secret_env}")
    app = load_app(args.app)

    async def main() -> None:
        from .ami import AmiClient
        from .transports.asyncagi import AsyncAGIServer

        ami = AmiClient(host or "127.0.0.1", int(port), args.user, secret, auth=args.auth)
        await ami.connect()
        server = AsyncAGIServer(app, ami, record=args.record)
        await server.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        await server.stop(args.drain)
        await ami.close()

    asyncio.run(main())
    return 0


def _supervise(args: argparse.Namespace) -> int:
    """Run ``args.workers`` server processes sharing the port (SO_REUSEPORT); forward
    SIGTERM/SIGINT to them so each drains, and wait for all."""
    argv = [sys.executable, "-m", "agikit", *sys.argv[1:], "--worker"]
    # Workers get signals from the supervisor only, once: a signal to the whole process group
    # (kill -- -PGID) would otherwise reach them twice, and a second signal cuts the drain off.
    # Under systemd, use KillMode=mixed so that only the supervisor is signalled.
    workers = [subprocess.Popen(argv, start_new_session=True) for _ in range(args.workers)]
    log.info("started %d workers: %s", len(workers), [w.pid for w in workers])

    def forward(signum: int, frame: object) -> None:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    statuses = [worker.wait() for worker in workers]
    return max(statuses, default=0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agikit", description="The AGI toolkit for Asterisk.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="run a FastAGI server",
        description="Run a FastAGI server for an App (or any async handler). Without APP it "
        "runs the built-in demo app. Stops on SIGTERM/SIGINT after draining calls.",
    )
    serve.add_argument("app", nargs="?", default="agikit.demo:app", help="module:attribute")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    serve.add_argument("--port", type=int, default=4573, help="TCP port (default 4573)")
    serve.add_argument("--workers", type=int, default=1, help="processes sharing the port")
    serve.add_argument("--max-calls", type=int, default=None, help="concurrent calls per worker")
    serve.add_argument(
        "--allow", action="append", default=None, metavar="NETWORK",
        help="accept clients only from this network (repeatable), e.g. 10.0.0.0/8",
    )  # fmt: skip
    serve.add_argument("--drain", type=float, default=30.0, help="seconds to finish calls on stop")
    serve.add_argument(
        "--environment-timeout", type=float, default=10.0,
        help="seconds a connection may take to send the AGI environment",
    )  # fmt: skip
    serve.add_argument("--call-timeout", type=float, default=None, help="deadline per call")
    serve.add_argument("--log-level", default="info", help="debug, info, warning, error")
    serve.add_argument("--log-format", choices=("text", "json"), default="text")
    serve.add_argument("--record", metavar="DIR", help="write each call's transcript to DIR")
    serve.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    serve.set_defaults(run=_serve)

    asyncagi = commands.add_parser(
        "asyncagi",
        help="run an app for the channels that enter AGI(agi:async), over AMI",
        description="Connect to AMI and run APP for every channel that enters "
        "AGI(agi:async,/route,args...): the first argument, if it starts with '/', is the route. "
        "The AMI user needs the agi and call read classes and the agi write class.",
    )
    asyncagi.add_argument("app", help="module:attribute")
    asyncagi.add_argument("--ami", default="127.0.0.1:5038", help="AMI host:port")
    asyncagi.add_argument("--user", required=True, help="AMI user name")
    asyncagi.add_argument(
        "--secret-env", default="AGIKIT_AMI_SECRET",
        help="environment variable holding the AMI secret (never given on the command line)",
    )  # fmt: skip
    asyncagi.add_argument("--auth", choices=("plain", "md5"), default="md5")
    asyncagi.add_argument("--record", metavar="DIR", help="write each call's transcript to DIR")
    asyncagi.add_argument("--drain", type=float, default=30.0, help="seconds to finish calls")
    asyncagi.add_argument("--log-level", default="info")
    asyncagi.add_argument("--log-format", choices=("text", "json"), default="text")
    asyncagi.set_defaults(run=_asyncagi)

    from .tools._arguments import add_tools

    add_tools(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status: int = args.run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
