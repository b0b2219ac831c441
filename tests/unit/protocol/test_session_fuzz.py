"""Fuzz: whatever bytes arrive, in whatever pieces, the session gives events or ProtocolError."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agikit.errors import ProtocolError
from agikit.protocol import AgiSession, Event, State

from . import _transcripts

#: Pieces that steer the fuzzer into every state: environment lines, replies of each shape,
#: HANGUP, 520 blocks, and junk.
_TOKENS = [
    b"agi_request: x.py\n",
    b"agi_version: 22.10.1\n",
    b"agi_arg_1: \xff\n",
    b"\n",
    b"200 result=0\n",
    b"200 result=1 (a (b) c)\n",
    b"200 result= (timeout)\n",
    b"510 Invalid or unknown command\n",
    b"511 Command Not Permitted on a dead channel or intercept routine\n",
    b"100 result=0 Trying...\n",
    b"520-Invalid command syntax.  Proper usage follows:\n",
    b"usage <literal>text</literal>\n",
    b"520 End of proper usage.\n",
    b"HANGUP\n",
    b"HANGUP",
    b"200",
    b" result=",
    b"\x00\xff",
    b"garbage\n",
    b"x" * 40,
]
#: What arrives between two moments the client may send a command.
_segment = st.one_of(
    st.binary(max_size=200),
    st.lists(st.sampled_from(_TOKENS), max_size=12).map(b"".join),
)
_segments = st.one_of(
    st.lists(_segment, max_size=10),
    # a real session's bytes, cut at the moments its commands went out
    st.sampled_from(_transcripts.sequential_names()).map(
        lambda name: [payload for kind, payload in _transcripts.operations(name) if kind == "recv"]
    ),
)

Outcome = tuple[list[Event], "type[Exception] | None"]


def run(segments: list[bytes], cuts: list[int], max_line: int) -> Outcome:
    """Feed each segment cut at ``cuts``; between segments send a command if the session is
    idle; then EOF. Returns the events and the ProtocolError class raised, if any."""
    session = AgiSession(max_line=max_line, max_environment=4096, max_usage_lines=50)
    events: list[Event] = []
    try:
        for segment in segments:
            edges = [0, *sorted(cut % (len(segment) + 1) for cut in cuts), len(segment)]
            for start, end in pairwise(edges):
                if end > start:
                    events.extend(session.receive_data(segment[start:end]))
            if session.state == State.IDLE:
                session.send_command(b"NOOP")
        events.extend(session.receive_data(b""))
    except ProtocolError as error:  # ConnectionClosed is one too
        assert session.state in (State.ERROR, State.CLOSED)
        if session.state == State.ERROR:
            # never a silent desync: once broken, every later call refuses too
            for data in (b"200 result=0\n", b"HANGUP\n", b""):
                try:
                    session.receive_data(data)
                except ProtocolError:
                    pass
                else:
                    raise AssertionError("a broken session accepted more data") from error
            try:
                session.send_command(b"NOOP")
            except ProtocolError:
                pass
            else:
                raise AssertionError("a broken session sent a command") from error
        return events, type(error)
    assert session.state == State.CLOSED
    return events, None


@given(
    _segments,
    st.lists(st.integers(0, 1000), max_size=20),
    st.sampled_from([8, 64, 1 << 20]),
)
@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@example([b"\n", b"200 result=0\n"], [], 1 << 20)
@example([b"\nHANGUP\n", b"520-x\n"], [3, 9], 1 << 20)
@example([b"\n", b"100 result=0 Trying...\n"], [1, 5], 8)
def test_arbitrary_bytes_in_arbitrary_pieces(
    segments: list[bytes], cuts: list[int], max_line: int
) -> None:
    outcome = run(segments, cuts, max_line)
    whole = run(segments, [], max_line)
    one_byte = run(segments, list(range(1001)), max_line)
    # never any other exception (run lets them through), and the pieces do not matter
    assert outcome[1] is whole[1] is one_byte[1]
    if whole[1] is None:
        assert outcome[0] == whole[0] == one_byte[0]
