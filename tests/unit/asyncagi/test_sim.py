"""The simulated Asterisk reproduces the real one's Async AGI bytes (transcripts, 22.10.1)."""

from __future__ import annotations

import asyncio
import urllib.parse

from agikit.ami import Message

from ..ami import _transcripts
from ._sim import SimAsterisk, uri_encode


def _setvars(name: str) -> dict[str, str]:
    found = {}
    for record in _transcripts.records(name):
        if record.direction == ">>":
            message = _transcripts.parse(record.data)
            if message.get("Action") == "Setvar":
                found[message["Variable"]] = message["Value"]
    return found


def _agi_actions(name: str) -> list[Message]:
    return [
        m
        for m in (
            _transcripts.parse(r.data) for r in _transcripts.records(name) if r.direction == ">>"
        )
        if m.get("Action") == "AGI"
    ]


def _replay(name: str, env: bytes, variables: dict[str, str]) -> tuple[list[Message], str]:
    """Run the transcript's AGI commands on the simulator; its events, and its Env."""
    events: list[Message] = []

    async def main() -> None:
        sim = SimAsterisk(lambda headers: events.append(Message(headers)))
        channel = sim.start(env=env, variables=variables)
        for action in _agi_actions(name):
            if "CommandID" in action:
                sim.agi(
                    {
                        "Channel": channel.uniqueid,
                        "Command": action["Command"],
                        "CommandID": action["CommandID"],
                    }
                )
        await asyncio.sleep(0.01)

    asyncio.run(main())
    (start,) = [e for e in events if e.event == "AsyncAGIStart"]
    return [e for e in events if e.event == "AsyncAGIExec"], start["Env"]


def test_uri_encoding_matches_asterisk() -> None:
    for event in _transcripts.events("encoding.txt", "AsyncAGIExec"):
        data = urllib.parse.unquote_to_bytes(event["Result"])
        assert uri_encode(data) == event["Result"]
    (start,) = _transcripts.events("asyncagi_session.txt", "AsyncAGIStart")
    assert uri_encode(urllib.parse.unquote_to_bytes(start["Env"])) == start["Env"]
    assert len(uri_encode(b"/" * 1000)) == 2046  # stops before an escape that does not fit
    assert len(uri_encode(b"a" + b"/" * 1000)) == 2047
    assert len(uri_encode(b"aa" + b"/" * 1000)) == 2045
    assert len(uri_encode(b"a" * 3000)) == 2047


def test_long_results_split_and_cut_as_in_the_transcript() -> None:
    name = "asyncagi_long_result.txt"
    (start,) = _transcripts.events(name, "AsyncAGIStart")
    env = urllib.parse.unquote_to_bytes(start["Env"])
    results, sim_env = _replay(name, env, _setvars(name))
    assert sim_env == start["Env"]
    real = [e for e in _transcripts.events(name, "AsyncAGIExec")]
    assert [(e["CommandId"], e["Result"]) for e in results] == [
        (e["CommandId"], e["Result"]) for e in real
    ]


def test_long_environment_spills_and_is_cut_as_in_the_transcript() -> None:
    name = "asyncagi_long_env.txt"
    starts = _transcripts.events(name, "AsyncAGIStart")
    execs = _transcripts.events(name, "AsyncAGIExec")
    for start, first_id in ((starts[1], "ruler1000-noop1"), (starts[2], "slashes1000-noop1")):
        first = next(e for e in execs if e["CommandId"] == first_id)
        head = urllib.parse.unquote_to_bytes(start["Env"])
        rest = urllib.parse.unquote_to_bytes(first["Result"])
        assert rest.endswith(b"\n\n200 result=0\n")
        lost = 1024 - len(head)  # the slashes the encoding cap dropped (none for the ruler)
        env = head + b"/" * lost + rest[: -len(b"200 result=0\n")]
        events = _run_one(env, first_id)
        assert events[0]["Env"] == start["Env"]
        assert next(e for e in events if e.event == "AsyncAGIExec")["Result"] == first["Result"]


def _run_one(env: bytes, command_id: str) -> list[Message]:
    events: list[Message] = []

    async def main() -> None:
        sim = SimAsterisk(lambda headers: events.append(Message(headers)))
        channel = sim.start(env=env)
        sim.agi({"Channel": channel.uniqueid, "Command": "NOOP", "CommandID": command_id})
        await asyncio.sleep(0.01)

    asyncio.run(main())
    return events


def test_failed_command_transcript() -> None:
    name = "asyncagi_failed_command.txt"
    (start,) = _transcripts.events(name, "AsyncAGIStart")
    env = urllib.parse.unquote_to_bytes(start["Env"])
    results, _ = _replay(name, env, {})
    real = _transcripts.events(name, "AsyncAGIExec")
    assert [(e["CommandId"], e["Result"]) for e in results] == [
        (e["CommandId"], e["Result"]) for e in real
    ]
