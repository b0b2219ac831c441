"""What a fake Asterisk session produced: the transcript, the failures, the process's exit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..protocol.environment import Environment
from ..transcript import Direction, TranscriptEntry, show

if TYPE_CHECKING:
    from .scenario import ScenarioState


@dataclass(frozen=True, slots=True)
class Failure:
    """One way the AGI did not follow the script.

    ``step`` is the script step's number (from 1), or ``None`` for the session as a whole
    (connecting, the end of the session, the process's exit status). ``expected`` and
    ``received`` are the command lines compared (``received`` is ``None`` when nothing came).
    """

    step: int | None
    message: str
    expected: str | None = None
    received: bytes | None = None
    detail: str = ""

    def __str__(self) -> str:
        where = f"step {self.step}: " if self.step is not None else ""
        lines = [where + self.message]
        if self.expected is not None:
            lines.append(f"  expected: {self.expected}")
        if self.received is not None:
            lines.append(f"  received: {show(self.received)}")
        lines.extend("  " + line for line in self.detail.splitlines())
        return "\n".join(lines)


class ScriptMismatch(AssertionError):
    """The AGI did not follow the fake Asterisk's script; ``result`` has the whole story."""

    def __init__(self, result: Result) -> None:
        super().__init__(result.report())
        self.result = result


@dataclass(eq=False)
class Result:
    """The outcome of one fake Asterisk session.

    ``ok`` is true when every step ran, the AGI did exactly what the script said and closed
    the stream when the script ended, and (process AGI) exited with the expected status.
    :meth:`assert_ok` raises :class:`ScriptMismatch` with a readable report otherwise.
    """

    #: What ran: ``"FastAGI agi://..."``, ``"process AGI 'app.py'"``, ``"in-process AGI"``.
    label: str
    #: The environment block the fake sent (``None`` if the session never started).
    environment: Environment | None = None
    #: Every line in both directions and every note, in order.
    transcript: list[TranscriptEntry] = field(default_factory=list)
    #: Every way the AGI departed from the script.
    failures: list[Failure] = field(default_factory=list)
    #: How many steps the script has, and how many ran to the end.
    steps_total: int = 0
    steps_run: int = 0
    #: True once the channel was hung up (by a script step, or by the AGI's own HANGUP).
    hung_up: bool = False
    #: What Asterisk would set ``AGISTATUS`` to: SUCCESS, FAILURE, NOTFOUND or HANGUP. Command
    #: results are not judged (Asterisk also says FAILURE after e.g. ``200 result=-1`` from
    #: STREAM FILE of a missing file while the channel is up).
    agi_status: str = "SUCCESS"
    #: Process AGI: the process id, its exit status (negative: killed by that signal, as in
    #: :mod:`subprocess`), everything it wrote to stderr, and the EAGI audio bytes delivered.
    pid: int | None = None
    exit_status: int | None = None
    stderr: bytes = b""
    audio_bytes_written: int = 0
    #: Seconds from the start to the end of the session.
    duration: float = 0.0
    #: The scenario's state at the end (variables and AstDB as the AGI left them, keys no
    #: command took), when the fake played a :class:`~agikit.testing.scenario.Scenario`.
    scenario: ScenarioState | None = None

    @property
    def ok(self) -> bool:
        """True when the AGI followed the script to the end (see the class docstring)."""
        return not self.failures

    @property
    def completed(self) -> bool:
        """True when every step of the script ran."""
        return self.steps_run == self.steps_total

    @property
    def commands(self) -> list[str]:
        """Every command line the AGI sent, in order, as text (without the LF)."""
        return [e.text for e in self.transcript if e.direction is Direction.FROM_AGI]

    @property
    def raw_commands(self) -> list[bytes]:
        """Every command line the AGI sent, exactly (without the LF)."""
        return [e.line for e in self.transcript if e.direction is Direction.FROM_AGI]

    @property
    def sent(self) -> bytes:
        """Every byte the fake wrote to the AGI, concatenated."""
        return b"".join(e.data for e in self.transcript if e.direction is Direction.TO_AGI)

    @property
    def notes(self) -> list[str]:
        """The notes of the transcript (SIGHUP sent, end of stream, exit status ...)."""
        return [e.text for e in self.transcript if e.direction is Direction.NOTE]

    def assert_ok(self) -> Result:
        """Raise :class:`ScriptMismatch` (an ``AssertionError``) unless :attr:`ok`; return self."""
        if self.failures:
            raise ScriptMismatch(self)
        return self

    def format_transcript(self, *, limit: int | None = None, environment: bool = True) -> str:
        """The transcript in the reference transcripts' format (``+0000.000 << line``).

        ``limit`` cuts lines longer than that many bytes; ``environment=False`` shows the
        environment block as one summary line.
        """
        lines = [
            "# format: +seconds  <<|>>  exact line bytes "
            '("<<" Asterisk->script, ">>" script->Asterisk)',
            "#         +seconds  ##  note (not protocol bytes)",
        ]
        entries = self.transcript
        if not environment:
            start, end = self._environment_span()
            if end:
                summary = (
                    f"+{entries[start].time:08.3f} << [environment block: {end - start - 1} "
                    "lines and the empty line]"
                )
                lines.extend(entry.format(limit) for entry in entries[:start])
                lines.append(summary)
                entries = entries[end:]
        lines.extend(entry.format(limit) for entry in entries)
        return "\n".join(lines) + "\n"

    def _environment_span(self) -> tuple[int, int]:
        """Where the environment block is in the transcript: (first, after last); (0, 0) if not."""
        start = None
        for index, entry in enumerate(self.transcript):
            if entry.direction is Direction.NOTE and start is None:
                continue
            if entry.direction is not Direction.TO_AGI:
                return 0, 0
            if start is None:
                start = index
            if entry.data == b"\n":
                return start, index + 1
        return 0, 0

    def report(self) -> str:
        """A readable account: what differed, which steps did not run, the transcript's end."""
        head = (
            f"{self.label}: the AGI did not follow the script "
            f"({self.steps_run} of {self.steps_total} steps ran)"
            if self.failures
            else f"{self.label}: the AGI followed the script ({self.steps_total} steps)"
        )
        parts = [head]
        parts.extend(str(failure) for failure in self.failures)
        if self.exit_status is not None:
            parts.append(f"process exit status: {self.exit_status}")
        if self.stderr:
            tail = self.stderr[-2000:].decode("utf-8", "replace").rstrip("\n")
            parts.append("stderr (end):\n" + "\n".join("  " + line for line in tail.splitlines()))
        transcript = self.format_transcript(limit=300, environment=False).splitlines()[2:]
        if len(transcript) > 40:
            transcript = [f"  ... {len(transcript) - 40} earlier lines", *transcript[-40:]]
        parts.append("transcript:\n" + "\n".join("  " + line for line in transcript))
        return "\n".join(parts)

    def __repr__(self) -> str:
        return (
            f"<Result {self.label!r} ok={self.ok} steps={self.steps_run}/{self.steps_total} "
            f"failures={len(self.failures)} agi_status={self.agi_status}>"
        )
