"""Start, drive and stop a throw-away Asterisk 22 on loopback.

Each instance runs in a private mount namespace (``unshare --mount``) in which its own state
directory, the AGI scripts directory and the project's source are bind-mounted into the shared
chroot. When Asterisk exits the namespace and its mounts vanish with it, however it exits, so an
interrupted test run leaves no mounts behind. The process is stopped by its PID, never by name,
and is also tied to its parent with ``PR_SET_PDEATHSIG`` so a killed test run cannot orphan it.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import ipaddress
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TypedDict, Unpack

from ...dialplan import escape_app_arg, join_app_args
from . import _config
from ._ami import AmiConnection, AmiError, Message
from ._provision import Chroot, default_cache_dir, provision

AMI_USER = "agikit"
_DEFAULT_SOURCE = Path(__file__).resolve().parents[3]  # the directory that holds ``agikit``
_PR_SET_PDEATHSIG = 1


class AsteriskError(RuntimeError):
    """The harness Asterisk could not be started, or a call could not be placed or finished."""


def agi_data(target: str, args: Sequence[str] = ()) -> str:
    """The argument string of ``AGI()``: the script or URL, then each argument, escaped."""
    return join_app_args(target, *args)


class FarEnd:
    """Steps for the far end of a test call (the ``;1`` half of the Local channel).

    The far end starts once the AGI side has answered, runs its steps in order, then waits for
    the AGI side to hang up. Compose steps as a list: ``[FarEnd.wait(1), FarEnd.dtmf("12#")]``.
    """

    @staticmethod
    def _step(name: str, argument: str = "") -> str:
        if any(char in argument for char in "&,\r\n"):
            raise ValueError(f"a far-end step may not contain '&', ',' or newlines: {argument!r}")
        return f"{name}:{argument}" if argument else name

    @classmethod
    def wait(cls, seconds: float) -> str:
        """Do nothing for ``seconds`` (fractions allowed)."""
        return cls._step("wait", f"{seconds:g}")

    @classmethod
    def play(cls, sound: str) -> str:
        """Play a sound file to the AGI side, e.g. ``hello-world``."""
        return cls._step("play", sound)

    @classmethod
    def dtmf(cls, digits: str) -> str:
        """Send DTMF digits (``0-9*#A-D``; ``w`` waits half a second)."""
        return cls._step("dtmf", digits)

    @classmethod
    def hangup(cls) -> str:
        """Hang up, ending the call for the AGI side."""
        return cls._step("hangup")

    @classmethod
    def echo(cls) -> str:
        """Echo the AGI side's audio back until the call ends."""
        return cls._step("echo")

    @classmethod
    def tone(cls) -> str:
        """Send a 1 kHz tone until the call ends, so that audio always flows."""
        return cls._step("tone")

    @classmethod
    def agi(cls, script: str) -> str:
        """Run a process-AGI script on the far end (relative names are in ``agi-bin``), e.g. to
        send text to the AGI side or receive text from it; the steps go on when it ends."""
        return cls._step("agi", script)


class CallOptions(TypedDict, total=False):
    """Keyword options shared by the ``originate_*`` helpers (see :meth:`Asterisk.originate`)."""

    far_end: Iterable[str]
    variables: Mapping[str, str]
    report: Iterable[str]
    answer_timeout: float
    caller_id: str


@dataclass(frozen=True)
class CallResult:
    """How a test call ended, as seen from the AGI side's channel."""

    call_id: str
    channel: str
    uniqueid: str
    agi_status: str
    after_agi: bool
    hangup_cause: str
    variables: Mapping[str, str]
    #: Reads this call's lines of Asterisk's log (on first use: after hundreds of calls with AGI
    #: debug on, the log is megabytes, and most tests never look at it).
    read_log: Callable[[], tuple[str, ...]] = field(repr=False, compare=False)
    _log: list[tuple[str, ...]] = field(default_factory=list, repr=False, compare=False)

    @property
    def log(self) -> tuple[str, ...]:
        """This call's lines of Asterisk's log (by channel and call id)."""
        if not self._log:
            self._log.append(self.read_log())
        return self._log[0]

    def log_text(self) -> str:
        return "\n".join(self.log)


#: Seconds an Originate failure waits for the call's start event before it counts.
_ORIGINATE_FAILURE_GRACE = 5.0


@dataclass
class _CallState:
    report: tuple[str, ...]
    done: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)
    channel: str = ""
    uniqueid: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    end: Message | None = None
    failure: str | None = None


class Call:
    """A call placed into an AGI context; ``wait()`` returns its :class:`CallResult`."""

    def __init__(self, asterisk: Asterisk, call_id: str, state: _CallState, log_offset: int):
        self.asterisk = asterisk
        self.call_id = call_id
        self._state = state
        self._log_offset = log_offset

    def wait_started(self, timeout: float = 10.0) -> str:
        """Wait until the AGI side's channel runs its context; returns its channel name."""
        if not self._state.started.wait(timeout):
            raise AsteriskError(f"call {self.call_id} did not start within {timeout} s")
        return self._state.channel

    @property
    def channel(self) -> str:
        """The AGI side's channel name (``Local/s@agikit-...;2``), once started."""
        return self._state.channel

    def getvar(self, name: str) -> str:
        """Read a channel variable of the live AGI-side channel through AMI ``Getvar``."""
        channel = self.wait_started()
        response = self.asterisk.ami.action("Getvar", [("Channel", channel), ("Variable", name)])
        return response.get("Value") or ""

    def hangup(self) -> None:
        """Hang up the AGI side's channel from outside (AMI ``Hangup``)."""
        channel = self.wait_started()
        self.asterisk.ami.action("Hangup", [("Channel", channel)], check=False)

    def wait(self, timeout: float = 30.0) -> CallResult:
        """Wait for the AGI side's channel to hang up and return what it reported."""
        state = self._state
        if not state.done.wait(timeout):
            raise AsteriskError(
                f"call {self.call_id} did not end within {timeout} s; its log so far:\n"
                + "\n".join(self.asterisk.log_for(state.channel, self._log_offset)[-40:])
            )
        if state.failure is not None:
            raise AsteriskError(f"call {self.call_id} failed: {state.failure}")
        assert state.end is not None
        end = state.end
        return CallResult(
            call_id=self.call_id,
            channel=state.channel,
            uniqueid=state.uniqueid,
            agi_status=end.get("AGISTATUS") or "",
            after_agi=end.get("AfterAgi") == "reached",
            hangup_cause=end.get("HangupCause") or "",
            variables=dict(state.variables),
            read_log=functools.partial(self._read_log, state.channel),
        )

    def _read_log(self, channel: str) -> tuple[str, ...]:
        return tuple(self.asterisk.log_for(channel, self._log_offset))


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    return inodes


def _decode_proc_address(hex_address: str) -> str:
    host, _, port = hex_address.partition(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        return f"{socket.inet_ntop(socket.AF_INET, raw[::-1])}:{int(port, 16)}"
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return f"[{socket.inet_ntop(socket.AF_INET6, words)}]:{int(port, 16)}"


def listening_addresses(pid: int) -> list[str]:
    """Every TCP listening or UDP bound address held by process ``pid``."""
    inodes = _socket_inodes(pid)
    found = []
    for table in ("tcp", "tcp6", "udp", "udp6"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/net/{table}") as rows:
            next(rows)
            for row in rows:
                cols = row.split()
                local, state, inode = cols[1], cols[3], cols[9]
                if inode not in inodes:
                    continue
                if table.startswith("tcp") and state != "0A":  # only LISTEN sockets
                    continue
                found.append(f"{table} {_decode_proc_address(local)}")
    return found


def _is_loopback(address: str) -> bool:
    host = address.split(" ", 1)[1].rsplit(":", 1)[0]
    return host.startswith("127.") or host in ("[::1]", "[::ffff:127.0.0.1]")


class Asterisk:
    """A throw-away Asterisk 22 on loopback, with AMI and the agikit test dialplan.

    Use as a context manager, or call :meth:`start` and :meth:`stop`::

        with Asterisk(agi_bin=Path("agi-bin")) as asterisk:
            call = asterisk.originate_fastagi(4573, "ivr", args=["1"])
            print(call.wait().agi_status)
    """

    def __init__(
        self,
        *,
        agi_bin: Path | None = None,
        source_dir: Path | None = None,
        chroot: Chroot | None = None,
        cache_dir: Path | None = None,
        nameserver: str | None = None,
        ami_port: int | None = None,
        ami_secret: str | None = None,
    ) -> None:
        """``nameserver``: a loopback IPv4 address whose port 53 answers this Asterisk's DNS
        lookups (e.g. ``LoopbackDNS().host``, for ``hagi://``); its ``/etc/resolv.conf`` is
        replaced inside the instance's private mount namespace. ``None``: the chroot's own.
        ``ami_port`` and ``ami_secret`` fix what is otherwise chosen at random, so that a new
        instance can stand in for a stopped one (a client's reconnection, for example)."""
        if nameserver is not None:
            parsed = ipaddress.ip_address(nameserver)
            if parsed.version != 4 or not parsed.is_loopback:
                raise ValueError(f"nameserver must be a loopback IPv4 address, not {nameserver}")
        self.nameserver = nameserver
        self._fixed_ami = (ami_port, ami_secret)  # e.g. to restart "the same" Asterisk
        self._cache_dir = cache_dir or default_cache_dir()
        self._chroot = chroot
        self._agi_bin_arg = agi_bin
        self.source_dir = (source_dir or _DEFAULT_SOURCE).resolve()
        self.state_dir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._ami: AmiConnection | None = None
        self.ami_port = 0
        #: The AMI user (read and write classes ``all``) and its secret, for your own AMI
        #: clients; the secret is chosen at start unless ``ami_secret`` fixed it.
        self.ami_user = AMI_USER
        self.ami_secret = ""
        self._calls: dict[str, _CallState] = {}
        self._calls_lock = threading.Lock()
        self._originations: dict[str, str] = {}
        self._call_ids = itertools.count(1)
        self._run_tag = secrets.token_hex(3)

    # -- facts -----------------------------------------------------------------------------
    @property
    def chroot(self) -> Chroot:
        if self._chroot is None:
            raise AsteriskError("not started")
        return self._chroot

    @property
    def ami(self) -> AmiConnection:
        """The harness's own logged-in AMI connection."""
        if self._ami is None:
            raise AsteriskError("not started")
        return self._ami

    @property
    def pid(self) -> int:
        if self.process is None:
            raise AsteriskError("not started")
        return self.process.pid

    @property
    def agi_bin(self) -> Path:
        """The host directory that Asterisk sees as its ``agi-bin`` (``astagidir``)."""
        if self.state_dir is None:
            raise AsteriskError("not started")
        return self._agi_bin_arg or self.state_dir / "agi-bin"

    @property
    def log_path(self) -> Path:
        if self.state_dir is None:
            raise AsteriskError("not started")
        return self.state_dir / "log" / "full"

    @property
    def version(self) -> str:
        return self.chroot.asterisk_version

    def connect_ami(self) -> AmiConnection:
        """A new, logged-in AMI connection (the caller closes it)."""
        connection = AmiConnection("127.0.0.1", self.ami_port)
        try:
            connection.login(AMI_USER, self.ami_secret)
        except BaseException:
            connection.close()
            raise
        return connection

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Asterisk:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _registry(self) -> Path:
        registry = self._cache_dir / "instances"
        registry.mkdir(parents=True, exist_ok=True)
        return registry

    def _reap_stale_instances(self) -> None:
        """Stop instances whose owning process died without stopping them (e.g. SIGKILL)."""
        for record in self._registry().glob("*.json"):
            try:
                facts = json.loads(record.read_text())
            except (OSError, ValueError):
                record.unlink(missing_ok=True)
                continue
            if _pid_alive(facts["owner"]):
                continue
            pid = facts["pid"]
            if _pid_alive(pid) and self._is_our_asterisk(pid, facts["root"]):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                _wait_gone(pid, 5.0)
            shutil.rmtree(facts["state_dir"], ignore_errors=True)
            record.unlink(missing_ok=True)

    @staticmethod
    def _is_our_asterisk(pid: int, root: str) -> bool:
        try:
            return os.readlink(f"/proc/{pid}/root") == root and os.readlink(
                f"/proc/{pid}/exe"
            ).endswith("/asterisk")
        except OSError:
            return False

    def start(self, timeout: float = 30.0) -> Asterisk:
        """Provision if needed, boot, log in to AMI, and check that it listens on loopback only."""
        if self.process is not None:
            raise AsteriskError("already started")
        if self._chroot is None:
            self._chroot = provision(self._cache_dir)
        self._reap_stale_instances()
        root = self.chroot.root
        state = Path(tempfile.mkdtemp(prefix="agikit-asterisk-"))
        self.state_dir = state
        try:
            self._boot(root, state, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _boot(self, root: Path, state: Path, timeout: float) -> None:
        state.chmod(0o755)
        for sub in ("etc", "db", "keys", "spool", "run", "log", "cache", "agi-bin", "pycache"):
            (state / sub).mkdir()
        self.agi_bin.mkdir(parents=True, exist_ok=True)
        self.ami_port = self._fixed_ami[0] or _free_loopback_port()
        self.ami_secret = self._fixed_ami[1] or secrets.token_hex(12)
        configs = _config.render_all(
            self.chroot.module_dir, self.ami_port, AMI_USER, self.ami_secret
        )
        for name, text in configs.items():
            (state / "etc" / name).write_text(text)
        for mount_point in (_config.INSTANCE_DIR, _config.SOURCE_DIR, _config.AGI_BIN_DIR):
            (root / mount_point.lstrip("/")).mkdir(parents=True, exist_ok=True)
        resolv_mount = ""
        if self.nameserver is not None:
            (state / "resolv.conf").write_text(
                f"nameserver {self.nameserver}\noptions timeout:1 attempts:1\n"
            )
            _ensure_regular_file(root / "etc" / "resolv.conf")
            resolv_mount = 'mount --bind "$1/resolv.conf" "$r/etc/resolv.conf"; '

        environment = [
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME=/root",
            "LANG=C.UTF-8",
            f"PYTHONPATH={_config.SOURCE_DIR}",
            f"PYTHONPYCACHEPREFIX={_config.INSTANCE_DIR}/pycache",
        ]
        script = (
            'set -e; r="$0"; '
            'mount --bind "$1" "$r/agikit/instance"; '
            'mount --bind "$2" "$r/agikit/src"; mount -o remount,bind,ro "$r/agikit/src"; '
            'mount --bind "$3" "$r/agikit/agi-bin"; '
            + resolv_mount
            + 'exec chroot "$r" /usr/bin/env -i '
            + " ".join(environment)
            + " "
            f"/usr/sbin/asterisk -f -n -C {_config.INSTANCE_DIR}/etc/asterisk.conf"
        )
        argv = [
            "unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", script, str(root), str(state), str(self.source_dir), str(self.agi_bin),
        ]  # fmt: skip
        console = open(state / "console.log", "wb")  # noqa: SIM115 - handed to the child
        with console:
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        record = {
            "owner": os.getpid(),
            "pid": self.process.pid,
            "root": str(root),
            "state_dir": str(state),
        }
        (self._registry() / f"{self.process.pid}.json").write_text(json.dumps(record))

        self._ami = self._wait_for_ami(timeout)
        self._ami.add_listener(self._on_event)
        self._ami.command("core waitfullybooted", timeout=timeout)
        exposed = [a for a in listening_addresses(self.pid) if not _is_loopback(a)]
        if exposed:
            raise AsteriskError(f"Asterisk listens beyond loopback, refusing to go on: {exposed}")
        self._ami.command("agi set debug on")

    def _wait_for_ami(self, timeout: float) -> AmiConnection:
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AsteriskError(
                    f"Asterisk exited with status {self.process.returncode} while starting:\n"
                    + self._console_tail()
                )
            try:
                return self.connect_ami()
            except (OSError, AmiError) as exc:
                if time.monotonic() > deadline:
                    raise AsteriskError(
                        f"AMI did not come up within {timeout} s ({exc}):\n" + self._console_tail()
                    ) from exc
                time.sleep(0.05)

    def _console_tail(self) -> str:
        if self.state_dir is None:
            return ""
        lines: list[str] = []
        for name in ("console.log", "log/full"):
            with contextlib.suppress(OSError):
                text = (self.state_dir / name).read_text(errors="replace")
                lines += text.splitlines()[-20:]
        return "\n".join(lines)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop Asterisk by its PID and remove its state. Safe to call more than once."""
        if self._ami is not None:
            with contextlib.suppress(OSError, AmiError):
                self._ami.send("Command", [("Command", "core stop now")])
            self._ami.close()
            self._ami = None
        if self.process is not None:
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                try:
                    self.process.wait(2)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            (self._registry() / f"{self.process.pid}.json").unlink(missing_ok=True)
            self.process = None
        if self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            self.state_dir = None
        with self._calls_lock:
            for waiting in self._calls.values():
                if not waiting.done.is_set():
                    waiting.failure = "Asterisk stopped"
                    waiting.done.set()

    # -- calls ------------------------------------------------------------------------------
    def _on_event(self, event: Message) -> None:
        name = event.event
        if name == "UserEvent":
            call_id = event.get("CallId") or ""
            with self._calls_lock:
                state = self._calls.get(call_id)
            if state is None:
                return
            kind = event.get("UserEvent")
            if kind == "AgikitCallStart":
                state.channel = event.get("Channel") or ""
                state.uniqueid = event.get("Uniqueid") or ""
                state.started.set()
            elif kind == "AgikitVar":
                raw = urllib.parse.unquote_to_bytes(event.get("Value") or "")
                state.variables[event.get("Name") or ""] = raw.decode("utf-8", "surrogateescape")
            elif kind == "AgikitCallEnd":
                state.channel = state.channel or event.get("Channel") or ""
                state.end = event
                state.started.set()
                state.done.set()
        elif name == "OriginateResponse" and event.get("Response") == "Failure":
            with self._calls_lock:
                call_id = self._originations.pop(event.get("ActionID") or "", "")
                state = self._calls.get(call_id)
            if state is not None and not state.started.is_set():
                failure = f"Originate failed (reason {event.get('Reason')})"
                # An AGI side that hangs up before answering (e.g. AGI() cannot connect) also
                # fails the Originate, and this event can overtake the call's own UserEvents
                # (they come through stasis); the call has failed only if it never started.
                timer = threading.Timer(
                    _ORIGINATE_FAILURE_GRACE, self._fail_unstarted, (state, failure)
                )
                timer.daemon = True
                timer.start()

    @staticmethod
    def _fail_unstarted(state: _CallState, failure: str) -> None:
        if not state.started.is_set():
            state.failure = failure
            state.done.set()

    def originate(
        self,
        context: str,
        data: str,
        *,
        far_end: Iterable[str] = (),
        variables: Mapping[str, str] = {},
        report: Iterable[str] = (),
        answer_timeout: float = 30.0,
        caller_id: str | None = None,
    ) -> Call:
        """Place a Local-channel call whose AGI side runs ``context`` with ``AGIKIT_AGI_DATA``.

        ``data`` is the complete, already escaped argument string of ``AGI()``/``EAGI()`` (see
        :func:`agi_data`). ``variables`` are set on both halves before the AGI starts (e.g.
        ``AGISIGHUP``, ``AGIEXITONHANGUP``, ``EAGI_AUDIO_FORMAT``). ``report`` names channel
        variables of the AGI side to read back when it hangs up.
        """
        if context not in _config.AGI_CONTEXTS:
            known = list(_config.AGI_CONTEXTS)
            raise ValueError(f"unknown AGI context {context!r}; one of {known}")
        call_id = f"{self._run_tag}-{next(self._call_ids)}"
        report_names = tuple(report)
        for name in report_names:
            if not name or any(char in name for char in "&,${}() "):
                raise ValueError(f"not a reportable variable name: {name!r}")
        state = _CallState(report=report_names)
        with self._calls_lock:
            self._calls[call_id] = state
        call_vars = {
            "AGIKIT_CALL_ID": call_id,
            "AGIKIT_AGI_DATA": data,
            "AGIKIT_FAR": "&".join(far_end),
            "AGIKIT_REPORT_VARS": "&".join(report_names),
            **variables,
        }
        headers = [
            ("Channel", f"Local/s@{context}"),
            ("Context", "agikit-far"),
            ("Exten", "s"),
            ("Priority", "1"),
            ("Async", "true"),
            ("Timeout", str(int(answer_timeout * 1000))),
        ]
        if caller_id is not None:
            headers.append(("CallerID", caller_id))
        headers += [("Variable", f"{k}={escape_app_arg(v)}") for k, v in call_vars.items()]
        log_offset = self._log_size()
        # Failures arrive as an OriginateResponse event carrying the action's ActionID.
        action_id = self.ami.send("Originate", headers, track=False)
        with self._calls_lock:
            self._originations[action_id] = call_id
        return Call(self, call_id, state, log_offset)

    def originate_fastagi(
        self,
        port: int,
        path: str = "",
        *,
        args: Sequence[str] = (),
        host: str = "127.0.0.1",
        **options: Unpack[CallOptions],
    ) -> Call:
        """A call whose AGI side runs ``AGI(agi://host:port/path,args...)``."""
        url = f"agi://{host}:{port}/{path.lstrip('/')}"
        return self.originate("agikit-fastagi", agi_data(url, args), **options)

    def originate_process_agi(
        self, script: str, *, args: Sequence[str] = (), **options: Unpack[CallOptions]
    ) -> Call:
        """A call whose AGI side runs ``AGI(script,args...)``; relative names are in ``agi_bin``."""
        return self.originate("agikit-process", agi_data(script, args), **options)

    def originate_eagi(
        self, script: str, *, args: Sequence[str] = (), **options: Unpack[CallOptions]
    ) -> Call:
        """A call whose AGI side runs ``EAGI(script,args...)``."""
        return self.originate("agikit-eagi", agi_data(script, args), **options)

    def originate_async_agi(
        self, *, args: Sequence[str] = (), **options: Unpack[CallOptions]
    ) -> Call:
        """A call whose AGI side runs ``AGI(agi:async,args...)``, driven over AMI."""
        return self.originate("agikit-async", agi_data("agi:async", args), **options)

    # -- logs -------------------------------------------------------------------------------
    def _log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_for(self, channel: str, offset: int = 0) -> list[str]:
        """Log lines since ``offset`` that belong to ``channel``'s call (by channel or call id)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                lines = log.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return []
        if not channel:
            return []
        base = channel.rsplit(";", 1)[0]
        call_tags = {tag for line in lines if base in line for tag in _callid_tags(line)}
        return [line for line in lines if base in line or any(tag in line for tag in call_tags)]


def _callid_tags(line: str) -> list[str]:
    # Lines look like "[date] VERBOSE[tid][C-0000000a] file.c: ..."; the C- tag is the call id.
    start = line.find("][C-")
    if start < 0:
        return []
    end = line.find("]", start + 2)
    return [line[start + 1 : end + 1]] if end > 0 else []


def _ensure_regular_file(path: Path) -> None:
    """Make ``path`` a regular file (a bind mount over a symlink would follow it out of the
    chroot), keeping what it said."""
    if path.is_file() and not path.is_symlink():
        return
    try:
        text = path.read_text()
    except OSError:
        text = ""
    path.unlink(missing_ok=True)
    path.write_text(text)


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
