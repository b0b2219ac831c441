"""A simulated Asterisk 22 for Async AGI, precise where the transport is delicate.

It does what ``res_agi.c`` does (and the transcripts show): the environment and each command's
output go into a pipe; ``AsyncAGIStart`` and each ``AsyncAGIExec`` carry one ``read()`` of at
most 1024 bytes of it, URL-encoded by ``ast_uri_encode()`` into 2048 bytes (the encoding stops
before an escape that does not fit; what is left of that read is lost). Commands queue per
channel, FIFO, and run one at a time; a command that fails (``RESULT_FAILURE``) or
``ASYNCAGI BREAK`` ends the session, and the queue outlives it. Events come in Asterisk's order:
``AGIExecStart``, ``AGIExecEnd``, ``AsyncAGIExec``, then ``AsyncAGIEnd``, each with the channel
snapshot of a real event.

Two front ends: :class:`SimAmi` stands in for :class:`~agikit.ami.AmiClient` in-process, and
:meth:`SimAsterisk.serve` answers the ``AGI`` action of a loopback :class:`FakeAmiServer`.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import string
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from agikit.ami import ActionError, Message
from agikit.ami.client import EventCallback, EventFilter

from ..ami import _transcripts
from ..ami._fakeami import FakeAmiServer, FakeConnection, encode, response

_KEPT = frozenset((string.ascii_letters + string.digits + "-_.!~*'()").encode())
_VARIABLE = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
#: The 520 usage text of ``STREAM FILE`` with no argument, from the transcript.
STREAM_FILE_USAGE = (
    b"520-Invalid command syntax.  Proper usage follows:\n"
    b"Send the given file, allowing playback to be interrupted by the given digits, if any. "
    b"Returns <literal>0</literal> if playback completes without a digit being pressed, or the "
    b"ASCII numerical value of the digit if one was pressed, or <literal>-1</literal> on error or "
    b"if the channel was disconnected. If musiconhold is playing before calling stream file it "
    b"will be automatically stopped and will not be restarted after completion.\n"
    b"It sets the following channel variables upon completion:\n"
    b"<variable>PLAYBACKSTATUS</variable>: The status of the playback attempt as a text string.\n"
    b"    <value>SUCCESS</value>\n"
    b"    <value>FAILED</value>\n"
    b"520 End of proper usage.\n"
)


def uri_encode(data: bytes, size: int = 2048) -> str:
    """``ast_uri_encode(data, out, size, ast_uri_http)``: stops at NUL, and before a character
    that does not fit in ``size - 1``."""
    out: list[str] = []
    length = 0
    for byte in data:
        if byte == 0 or length >= size - 1:
            break
        if byte in _KEPT:
            out.append(chr(byte))
            length += 1
        else:
            if length >= size - 3:
                break
            out.append(f"%{byte:02X}")
            length += 3
    return "".join(out)


def environment(
    uniqueid: str,
    channel: str,
    *args: str,
    callername: str = "Harness",
    version: str = "22.10.1+dfsg+~cs6.17.60671434-1",
) -> bytes:
    """An Async AGI environment block as Asterisk 22 writes it."""
    lines = [
        ("agi_request", "async"),
        ("agi_channel", channel),
        ("agi_language", "en"),
        ("agi_type", "Local"),
        ("agi_uniqueid", uniqueid),
        ("agi_version", version),
        ("agi_callerid", "1000"),
        ("agi_calleridname", callername),
        ("agi_callingpres", "0"),
        ("agi_callingani2", "0"),
        ("agi_callington", "0"),
        ("agi_callingtns", "0"),
        ("agi_dnid", "unknown"),
        ("agi_rdnis", "unknown"),
        ("agi_context", "asyncagi"),
        ("agi_extension", "amisess"),
        ("agi_priority", "3"),
        ("agi_enhanced", "0.0"),
        ("agi_accountcode", ""),
        ("agi_threadid", "140615145821888"),
        *((f"agi_arg_{n}", arg) for n, arg in enumerate(args, 1)),
    ]
    return "".join(f"{k}: {v}\n" for k, v in lines).encode() + b"\n"


@dataclass
class Outcome:
    """What a command did: its output, and how the session goes on."""

    output: bytes
    code: str = "200"  # AGIExecEnd ResultCode: 200, 510, 520, -1 (RESULT_FAILURE)
    ends: bool = False  # ASYNCAGI BREAK, or a failure: the async loop stops after it
    hangup: bool = False  # the far end hung up while it ran


Responder = Callable[["SimChannel", str], "Outcome | bytes | None"]


@dataclass
class SimChannel:
    sim: SimAsterisk
    name: str
    uniqueid: str
    variables: dict[str, str] = field(default_factory=dict)
    pipe: bytearray = field(default_factory=bytearray)
    queue: deque[tuple[str, str]] = field(default_factory=deque)
    in_async: bool = False
    entered_async: bool = False
    exists: bool = True
    hung_up: bool = False
    executed: list[str] = field(default_factory=list)
    #: Per-command overrides, tried before the built-in commands.
    script: list[Responder] = field(default_factory=list)

    def snapshot(self) -> list[tuple[str, str]]:
        template = self.sim.template
        headers = [(k, v) for k, v in template.headers if k not in ("Event", "Env")]
        values = {"Channel": self.name, "Uniqueid": self.uniqueid}
        return [(k, values.get(k, v)) for k, v in headers]

    def read(self) -> str:
        """One ``read()`` of the pipe, URL-encoded as Asterisk publishes it."""
        data = bytes(self.pipe[:1024])
        del self.pipe[:1024]
        return uri_encode(data)

    def substitute(self, text: str) -> str:
        return _VARIABLE.sub(lambda m: self.variables.get(m[1], ""), text)

    def answer(self, line: str) -> Outcome:
        for responder in self.script:
            outcome = responder(self, line)
            if outcome is not None:
                return outcome if isinstance(outcome, Outcome) else Outcome(outcome)
        words = line.split(" ")
        upper = [w.upper() for w in words]
        if upper[:1] == ["NOOP"] or upper[:1] == ["ANSWER"]:
            return Outcome(b"200 result=0\n")
        if upper[:2] == ["ASYNCAGI", "BREAK"]:
            return Outcome(b"200 result=0\n", ends=True)
        if upper[:2] == ["SET", "VARIABLE"] and len(words) >= 4:
            self.variables[words[2]] = " ".join(words[3:]).strip('"')
            return Outcome(b"200 result=1\n")
        if upper[:2] == ["GET", "VARIABLE"] and len(words) == 3:
            value = self.variables.get(words[2])
            if value is None:
                return Outcome(b"200 result=0\n")
            return Outcome(b"200 result=1 (" + value.encode()[:1023] + b")\n")
        if upper[:3] == ["GET", "FULL", "VARIABLE"] and len(words) >= 4:
            expression = " ".join(words[3:]).strip('"')
            return Outcome(b"200 result=1 (" + self.substitute(expression).encode() + b")\n")
        if upper[:1] == ["EXEC"] and len(words) >= 2:
            if words[1].lower() == "set" and "=" in line:
                name, _, value = " ".join(words[2:]).partition("=")
                self.variables[name] = self.substitute(value)
                return Outcome(b"200 result=0\n")
            return Outcome(b"200 result=-2\n")
        if upper[:2] == ["STREAM", "FILE"]:
            if len(words) == 2:
                return Outcome(STREAM_FILE_USAGE, code="520")
            if words[2].startswith("no-such"):
                return Outcome(b"200 result=-1 endpos=0\n", code="-1", ends=True)
            return Outcome(b"200 result=0 endpos=10400\n")
        if upper[:3] == ["WAIT", "FOR", "DIGIT"]:
            return Outcome(b"200 result=0\n")
        return Outcome(b"510 Invalid or unknown command\n", code="510")


class SimAsterisk:
    """Channels in Async AGI; events go to ``emit``. Commands run ``delay`` seconds after they
    are queued (in Asterisk, up to 100 ms: the async loop's poll)."""

    def __init__(self, emit: Callable[[list[tuple[str, str]]], None], delay: float = 0.0):
        self.emit = emit
        self.delay = delay
        self.template = _transcripts.events("asyncagi_session.txt", "AsyncAGIStart")[0]
        self.channels: dict[str, SimChannel] = {}
        self.actions: list[dict[str, str]] = []
        self.end_delay: float | None = None  # send AsyncAGIEnd later than the AsyncAGIExec
        self._numbers = itertools.count(1)
        self._scheduled: set[str] = set()

    # -- channels ---------------------------------------------------------------------------
    def channel(self, key: str) -> SimChannel | None:
        found = self.channels.get(key)
        if found is not None:
            return found
        for channel in self.channels.values():
            if channel.name.lower() == key.lower():
                return channel
        return None

    def start(
        self,
        *args: str,
        env: bytes | None = None,
        name: str = "",
        uniqueid: str = "",
        variables: dict[str, str] | None = None,
    ) -> SimChannel:
        """A new channel entering ``AGI(agi:async,args...)``."""
        number = next(self._numbers)
        uniqueid = uniqueid or f"1795797623.{number * 2 + 1}"
        name = name or f"Local/sim{number}@asyncagi-{number:08x};2"
        channel = SimChannel(self, name, uniqueid, dict(variables or {}))
        self.channels[uniqueid] = channel
        self.enter(channel, environment(uniqueid, name, *args) if env is None else env)
        return channel

    def enter(self, channel: SimChannel, env: bytes) -> None:
        """(Re-)enter Async AGI: publish AsyncAGIStart; run what is already queued."""
        channel.in_async = channel.entered_async = True
        channel.pipe += env
        self.emit([("Event", "AsyncAGIStart"), *channel.snapshot(), ("Env", channel.read())])
        self._schedule(channel)

    def leave(self, channel: SimChannel) -> None:
        """AMI Redirect: the running session ends (HANGUP status), the queue stays."""
        channel.in_async = False
        channel.pipe.clear()
        self.emit([("Event", "AsyncAGIEnd"), *channel.snapshot()])

    def hangup(self, channel: SimChannel, *, destroy: bool = True) -> None:
        """The far end hangs up while no command runs."""
        self.emit([("Event", "HangupRequest"), *channel.snapshot(), ("Cause", "16")])
        if channel.in_async:
            channel.in_async = False
            channel.queue.clear()
            self.emit([("Event", "AsyncAGIEnd"), *channel.snapshot()])
        self.emit([("Event", "Hangup"), *channel.snapshot(), ("Cause", "16")])
        if destroy:
            channel.exists = False

    def vanish(self, channel: SimChannel) -> None:
        """The channel is gone and no event said so (e.g. the events were missed)."""
        channel.exists = False
        channel.in_async = False

    # -- the AGI action ---------------------------------------------------------------------
    def agi(self, headers: dict[str, str]) -> tuple[str, str]:
        """Handle ``Action: AGI``: (Response, Message)."""
        lowered = {k.lower(): v for k, v in headers.items()}
        self.actions.append(lowered)
        key, command = lowered.get("channel", ""), lowered.get("command", "")
        if not key or not command:
            return "Error", "Both, Channel and Command are *required*"
        channel = self.channel(key)
        if channel is None or not channel.exists:
            return "Error", f"Channel {key} does not exist."
        if not channel.entered_async:
            return "Error", f"Failed to add AGI command to channel {key} queue"
        channel.queue.append((command, lowered.get("commandid", "").lstrip()))
        self._schedule(channel)
        return "Success", "Added AGI command to queue"

    def _schedule(self, channel: SimChannel) -> None:
        if channel.uniqueid in self._scheduled or not channel.in_async:
            return
        self._scheduled.add(channel.uniqueid)
        asyncio.get_running_loop().call_later(self.delay, self._run, channel)

    def _run(self, channel: SimChannel) -> None:
        self._scheduled.discard(channel.uniqueid)
        while channel.in_async and channel.exists and channel.queue:
            line, command_id = channel.queue.popleft()
            self.execute(channel, line, command_id)

    def execute(self, channel: SimChannel, line: str, command_id: str) -> None:
        snapshot = channel.snapshot()
        number = str(next(self._numbers) * 7919)
        self.emit([("Event", "AGIExecStart"), *snapshot, ("CommandId", number), ("Command", line)])
        outcome = channel.answer(line)
        channel.executed.append(line)
        if outcome.hangup:
            channel.hung_up = True
            self.emit([("Event", "HangupRequest"), *snapshot, ("Cause", "16")])
        channel.pipe += outcome.output
        text = {"200": "Success", "510": "Invalid or unknown command", "520": "Usage"}
        self.emit(
            [
                ("Event", "AGIExecEnd"),
                *snapshot,
                ("CommandId", number),
                ("Command", line),
                ("ResultCode", outcome.code),
                ("Result", text.get(outcome.code, "Failure")),
            ]
        )
        exec_event = [("Event", "AsyncAGIExec"), *snapshot, ("Result", channel.read())]
        if command_id:
            exec_event.append(("CommandId", command_id))
        self.emit(exec_event)
        if outcome.ends or outcome.hangup:
            channel.in_async = False
            channel.pipe.clear()
            end = [("Event", "AsyncAGIEnd"), *snapshot]
            if self.end_delay is None:
                self.emit(end)
            else:
                asyncio.get_running_loop().call_later(self.end_delay, self.emit, end)
            if outcome.hangup:
                channel.queue.clear()
                self.emit([("Event", "SoftHangupRequest"), *snapshot, ("Cause", "16")])
                self.emit([("Event", "Hangup"), *snapshot, ("Cause", "16")])
                channel.exists = False

    # -- a loopback AMI server's handler ----------------------------------------------------
    def serve(self, server: FakeAmiServer) -> None:
        def handle(connection: FakeConnection, request: Message) -> None:
            headers = {k: v for k, v in request.headers if k.lower() != "action"}
            status, message = self.agi(headers)
            connection.write(response(request, status, ("Message", message)))

        server.handlers["agi"] = handle


class SimAmi:
    """The part of :class:`~agikit.ami.AmiClient` that AsyncAGIServer uses, wired to a
    :class:`SimAsterisk`: callbacks run as the AMI client runs them, inside the read loop."""

    def __init__(self, delay: float = 0.0) -> None:
        self.asterisk = SimAsterisk(self.publish, delay)
        self.callbacks: list[tuple[frozenset[str], EventCallback]] = []
        self.published: list[Message] = []
        self.refuse: Exception | None = None  # raised by the next action, once

    def on(self, *names: str, where: EventFilter = None) -> Callable[[EventCallback], Any]:
        def register(callback: EventCallback) -> EventCallback:
            self.callbacks.append((frozenset(n.lower() for n in names), callback))
            return callback

        return register

    def remove_callback(self, callback: EventCallback) -> None:
        self.callbacks = [c for c in self.callbacks if c[1] != callback]

    def publish(self, headers: Iterable[tuple[str, str]]) -> None:
        event = Message(headers)
        self.published.append(event)
        name = (event.event or "").lower()
        for names, callback in list(self.callbacks):
            if not names or name in names:
                callback(event)

    def synthetic(self, name: str) -> None:
        self.publish([("Event", name), ("Synthetic", "agikit")])

    def send_action(self, action: str, headers: Any = ()) -> asyncio.Future[Message]:
        """As AmiClient's: the response comes one loop turn later, before the events."""
        if self.refuse is not None:
            error, self.refuse = self.refuse, None
            raise error
        assert action == "AGI", action
        status, message = self.asterisk.agi(dict(headers))
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        reply = Message([("Response", status), ("Message", message)])
        asyncio.get_running_loop().call_soon(future.set_result, reply)
        return future

    async def action(self, action: str, headers: Any = (), **options: Any) -> Message:
        await asyncio.sleep(0)  # the round trip
        if self.refuse is not None:
            error, self.refuse = self.refuse, None
            raise error
        assert action == "AGI", action
        status, message = self.asterisk.agi(dict(headers))
        reply = Message([("Response", status), ("Message", message)])
        if status == "Error":
            raise ActionError(action, reply)
        return reply

    def agi_commands(self, channel: SimChannel | None = None) -> list[str]:
        """The command lines queued with the AGI action (for one channel), in order."""
        return [
            a["command"]
            for a in self.asterisk.actions
            if channel is None or a.get("channel") == channel.uniqueid
        ]


__all__ = ["Outcome", "SimAmi", "SimAsterisk", "SimChannel", "encode", "environment", "uri_encode"]
