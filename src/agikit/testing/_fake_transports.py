"""How the fake Asterisk reaches an AGI: it connects to a FastAGI server, spawns a process AGI
(with EAGI audio on fd 3), or hands a pair of pipes to an AGI running in the same process."""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import BinaryIO

from ._fake_engine import Engine, LaunchFailed, Transport, Wire, _Aborted

#: Where Asterisk connects when the URL has no port (``AGI_PORT``).
FASTAGI_PORT = 4573
#: Asterisk's connect timeout per address (``MAX_AGI_CONNECT``), in seconds.
CONNECT_TIMEOUT = 2.0
#: The signals ``ast_safe_fork()`` resets to their default action in the child.
_RESET_SIGNALS = (
    signal.SIGHUP,
    signal.SIGCHLD,
    signal.SIGINT,
    signal.SIGURG,
    signal.SIGTERM,
    signal.SIGPIPE,
    signal.SIGXFSZ,
)

#: EAGI audio: one ``bytes`` (cut into frames) or an iterable of frames written one by one.
AudioSource = bytes | Iterable[bytes]


# ------------------------------------------------------------------------------------ FastAGI


def parse_agi_url(url: str) -> tuple[str, int, str]:
    """``agi://host[:port][/script]`` as Asterisk's ``launch_netscript()`` reads it.

    Returns ``(host, port, script)``: the host runs up to the first ``/`` (so a query with no
    path, ``agi://host?x=1``, is part of the host, and fails to resolve as in Asterisk), the
    script is everything after that ``/``. ``hagi://host:port/...`` is handled as ``agi://``
    (Asterisk skips the SRV lookup when a port is given); without a port it needs a DNS SRV
    lookup, which the fake does not do.
    """
    lowered = url.lower()
    if lowered.startswith("agi://"):
        rest = url[6:]
    elif lowered.startswith("hagi://"):
        rest = url[7:]
        hostport = rest.split("/", 1)[0]
        if not (hostport.rsplit("]", 1)[-1].count(":") == 1):
            raise ValueError(
                f"{url!r}: hagi:// without a port needs a DNS SRV lookup of _agi._tcp.<name>, "
                "which the fake Asterisk does not do; give the host and port"
            )
    else:
        raise ValueError(f"not a FastAGI URL (agi://host[:port][/script]): {url!r}")
    hostport, _, script = rest.partition("/")
    host, port = hostport, FASTAGI_PORT
    if hostport.startswith("["):
        end = hostport.find("]")
        host = hostport[1:end] if end > 0 else hostport
        if end > 0 and hostport[end + 1 : end + 2] == ":":
            port = _port(hostport[end + 2 :], url)
    elif hostport.count(":") == 1:
        host, _, text = hostport.partition(":")
        port = _port(text, url)
    if not host:
        raise ValueError(f"{url!r} has no host")
    return host, port, script


def _port(text: str, url: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{url!r}: bad port {text!r}")
    return int(text)


def _where(address: tuple[object, ...]) -> str:
    return f"{address[0]!s} port {address[1]!s}"


class FastAgiTransport(Transport):
    """Asterisk connects to a FastAGI server, as ``AGI(agi://...)`` does."""

    network = True

    def __init__(self, url: str, connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.url = url
        self.host, self.port, self.script = parse_agi_url(url)
        self.connect_timeout = connect_timeout
        self.label = f"FastAGI {url}"

    def open(self, engine: Engine) -> Wire:
        try:
            addresses = socket.getaddrinfo(
                self.host, self.port, socket.AF_UNSPEC, socket.SOCK_STREAM
            )
        except OSError as error:
            raise LaunchFailed(f"could not resolve {self.host!r} ({self.url}): {error}") from None
        problems = []
        for family, kind, proto, _, address in addresses:
            sock = socket.socket(family, kind, proto)
            sock.setblocking(False)
            code = sock.connect_ex(address)
            if code not in (0, errno.EINPROGRESS):
                sock.close()
                # Asterisk gives up at once when connect() itself fails.
                raise LaunchFailed(
                    f"could not connect to {self.url} ({_where(address)}): {os.strerror(code)}"
                )
            if code == errno.EINPROGRESS:
                try:
                    ready = engine.poll(sock.fileno(), select.POLLOUT, self.connect_timeout)
                except _Aborted:
                    sock.close()
                    raise
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) if ready else -1
            if code == 0:
                engine.note(f"connected to {_where(address)}")
                return Wire(sock.fileno(), sock.fileno(), network=True, sock=sock)
            sock.close()
            problems.append(
                f"{_where(address)}: "
                + (os.strerror(code) if code > 0 else f"no answer in {self.connect_timeout:g} s")
            )
        raise LaunchFailed(f"could not connect to {self.url}: " + "; ".join(problems))


# ------------------------------------------------------------------------------------ EAGI audio


class AudioFeeder:
    """Writes EAGI audio to fd 3 from a thread, frame by frame, until told to stop.

    Unlike Asterisk, which drops frames when the pipe is full, the feeder waits for the AGI to
    read, so a test gets every byte it gave. The write end stays open until :meth:`close`
    (Asterisk closes it when the session ends).
    """

    def __init__(
        self, source: AudioSource, fd: int, *, frame_size: int = 320, interval: float = 0.0
    ) -> None:
        self.fd = fd
        self.frames = _frames(source, frame_size)
        self.interval = interval
        self.written = 0
        self.error: str | None = None
        self._stop = threading.Event()
        os.set_blocking(fd, False)
        self._thread = threading.Thread(target=self._run, name="fake-asterisk-eagi", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Write no more audio (the channel hung up, or the session ends)."""
        self._stop.set()

    def close(self) -> None:
        """Stop, and close the write end: the AGI reads EOF on fd 3."""
        self.stop()
        if self._thread.ident is not None:
            self._thread.join(5.0)
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def _run(self) -> None:
        for frame in self.frames:
            view = memoryview(frame)
            while view and not self._stop.is_set():
                try:
                    count = os.write(self.fd, view)
                except BlockingIOError:
                    poller = select.poll()
                    poller.register(self.fd, select.POLLOUT)
                    poller.poll(50)
                    continue
                except OSError as error:  # the AGI closed fd 3
                    self.error = str(error)
                    return
                self.written += count
                view = view[count:]
            if self._stop.is_set() or (self.interval and self._stop.wait(self.interval)):
                return


def _frames(source: AudioSource, size: int) -> Iterator[bytes]:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        return (data[i : i + size] for i in range(0, len(data), size))
    return iter(source)


# ------------------------------------------------------------------------------------ process AGI


def _high_fd(fd: int) -> int:
    """A copy of ``fd`` numbered 10 or more (close-on-exec), so dup2 onto 0-3 always copies."""
    import fcntl

    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


def _inheritable_fds() -> list[int]:
    """This process's fds above 2 that a child would inherit (not close-on-exec)."""
    for directory in ("/proc/self/fd", "/dev/fd"):
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        found = []
        for name in names:
            fd = int(name)
            if fd > 2:
                with contextlib.suppress(OSError):  # e.g. the fd listdir itself used
                    if os.get_inheritable(fd):
                        found.append(fd)
        return found
    return []


class ProcessTransport(Transport):
    """Asterisk runs a process AGI: ``execv(path, argv)`` with stdin/stdout pipes (and fd 3)."""

    def __init__(
        self,
        *,
        script_path: str,
        program: str,
        argv: Sequence[str],
        environ: Mapping[str, str],
        audio: AudioSource | None,
        frame_size: int,
        frame_interval: float,
        capture_stderr: bool,
        exit_status: int | None,
        label: str,
    ) -> None:
        self.script_path = script_path
        self.program = program
        self.argv = list(argv)
        self.environ = dict(environ)
        self.audio = audio
        self.frame_size = frame_size
        self.frame_interval = frame_interval
        self.capture_stderr = capture_stderr
        self.expected_exit = exit_status
        self.label = label
        self.pid: int | None = None
        self.exit_status: int | None = None
        self._feeder: AudioFeeder | None = None
        self._stderr: _StderrReader | None = None

    def open(self, engine: Engine) -> Wire:
        if not os.path.exists(self.script_path):
            raise LaunchFailed(f"script not found: {self.script_path}", "NOTFOUND")
        child: list[int] = []
        parent: list[int] = []

        def pipe() -> tuple[int, int]:
            read, write = os.pipe()
            parent.extend((read, write))
            return read, write

        try:
            stdin_r, stdin_w = pipe()
            stdout_r, stdout_w = pipe()
            actions = [(stdin_r, 0), (stdout_w, 1)]
            if self.capture_stderr:
                stderr_r, stderr_w = pipe()
                actions.append((stderr_w, 2))
            if self.audio is not None:
                audio_r, audio_w = pipe()
                actions.append((audio_r, 3))
            for index, (fd, target) in enumerate(actions):
                high = _high_fd(fd)
                parent.remove(fd)
                child.append(high)
                actions[index] = (high, target)
            file_actions: list[tuple[int, ...]] = [
                (os.POSIX_SPAWN_DUP2, fd, target) for fd, target in actions
            ]
            # Asterisk closes every other fd; close the ones this process lets children inherit.
            targets = {target for _, target in actions}
            file_actions += [
                (os.POSIX_SPAWN_CLOSE, fd) for fd in _inheritable_fds() if fd not in targets
            ]
            self.pid = os.posix_spawn(
                self.program,
                self.argv,
                self.environ,
                file_actions=file_actions,
                setsigdef=_RESET_SIGNALS,
                setsigmask=(),
            )
        except OSError as error:
            for fd in parent:
                os.close(fd)
            raise LaunchFailed(f"could not execute {self.program}: {error}") from None
        finally:
            for fd in child:
                os.close(fd)
        engine.result.pid = self.pid
        engine.note(f"process {self.pid} started: {self.argv!r}")
        if self.capture_stderr:
            self._stderr = _StderrReader(stderr_r)
        if self.audio is not None:
            self._feeder = AudioFeeder(
                self.audio, audio_w, frame_size=self.frame_size, interval=self.frame_interval
            )
            self._feeder.start()
        return Wire(stdout_r, stdin_w, network=False)

    def signal_hangup(self) -> str:
        if self.pid is None or self.exit_status is not None:
            return "SIGHUP not sent: the process has exited"
        try:
            os.kill(self.pid, signal.SIGHUP)
        except ProcessLookupError:
            return "SIGHUP not sent: the process is gone"
        return f"SIGHUP sent to process {self.pid}"

    def stop_audio(self) -> None:
        if self._feeder is not None:
            self._feeder.stop()

    def _reap(self) -> bool:
        assert self.pid is not None
        if self.exit_status is not None:
            return True
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:  # someone else reaped it
            self.exit_status = -1
            return True
        if pid == 0:
            return False
        self.exit_status = os.waitstatus_to_exitcode(status)
        return True

    def finish(self, engine: Engine) -> None:
        if self._feeder is not None:
            self._feeder.close()
            engine.result.audio_bytes_written = self._feeder.written
            engine.note(f"EAGI: {self._feeder.written} bytes of audio written to fd 3")
        if self.pid is None:
            return
        timeout = engine.options.timeout
        try:
            exited = engine.wait_until(self._reap, timeout)
        except _Aborted:
            exited = False
        if not exited:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            engine.note(f"process {self.pid} killed: still running after the session ended")
            engine.fail(
                f"the process did not exit within {timeout:g} s after the session ended (killed)",
                step=None,
            )
            self.exit_status = -signal.SIGKILL
        else:
            engine.note(f"process {self.pid} exited with status {_describe(self.exit_status)}")
            expected = self.expected_exit
            if expected is not None and self.exit_status != expected:
                engine.fail(
                    f"the process exited with status {_describe(self.exit_status)}, "
                    f"expected {_describe(expected)}",
                    step=None,
                )
        engine.result.exit_status = self.exit_status
        if self._stderr is not None:
            engine.result.stderr = self._stderr.close()


def _describe(status: int | None) -> str:
    if status is not None and status < 0:
        try:
            return f"{status} ({signal.Signals(-status).name})"
        except ValueError:
            pass
    return str(status)


class _StderrReader:
    """Collects a child's stderr in a thread (so a chatty script never blocks on it)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.data = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-asterisk-stderr", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        while True:
            if not poller.poll(50):
                if self._stop.is_set():
                    return
                continue
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            self.data += data

    def close(self) -> bytes:
        """Everything read; waits briefly for the end (a grandchild may hold stderr open)."""
        self._thread.join(0.5)
        self._stop.set()
        self._thread.join(1.0)
        if not self._thread.is_alive():
            os.close(self.fd)
        return bytes(self.data)


# ------------------------------------------------------------------------------------ in-process


class PipesTransport(Transport):
    """Pipes for an AGI running in this process (the stdio transport given ``stdin=``/``stdout=``).

    SIGHUP cannot be sent to a handler in the same process; ``on_sighup`` is called instead.
    """

    label = "in-process AGI"

    def __init__(
        self,
        *,
        audio: AudioSource | None,
        frame_size: int,
        frame_interval: float,
        on_sighup: Callable[[], object] | None,
    ) -> None:
        self.on_sighup = on_sighup
        to_app_r, self._to_app_w = os.pipe()
        self._from_app_r, from_app_w = os.pipe()
        #: The AGI's ends: it reads commands' replies from ``stdin`` and writes to ``stdout``.
        self.stdin: BinaryIO = open(to_app_r, "rb")  # noqa: SIM115 - handed to the caller
        self.stdout: BinaryIO = open(from_app_w, "wb")  # noqa: SIM115
        self.audio: BinaryIO | None = None
        self._feeder: AudioFeeder | None = None
        if audio is not None:
            audio_r, audio_w = os.pipe()
            self.audio = open(audio_r, "rb")  # noqa: SIM115
            self._feeder = AudioFeeder(
                audio, audio_w, frame_size=frame_size, interval=frame_interval
            )

    def open(self, engine: Engine) -> Wire:
        if self._feeder is not None:
            self._feeder.start()
        return Wire(self._from_app_r, self._to_app_w, network=False)

    def signal_hangup(self) -> str:
        if self.on_sighup is None:
            return "SIGHUP not delivered: in-process AGI without on_sighup"
        self.on_sighup()
        return "SIGHUP delivered to on_sighup"

    def stop_audio(self) -> None:
        if self._feeder is not None:
            self._feeder.stop()

    def finish(self, engine: Engine) -> None:
        if self._feeder is not None:
            self._feeder.close()
            engine.result.audio_bytes_written = self._feeder.written
            engine.note(f"EAGI: {self._feeder.written} bytes of audio written to the audio pipe")

    def close_app_side(self) -> None:
        """Close the AGI's ends (idempotent); EOF for the fake if the AGI did not close them."""
        for stream in (self.stdout, self.stdin, self.audio):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
