"""AgiSession.receive_environment: FastAGI's usual first read, the whole standard block."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agikit.protocol import AgiSession, EnvironmentReceived, State
from agikit.testing._fake_env import build_environment

from . import _transcripts

_ENVIRONMENT = build_environment(
    request="agi://127.0.0.1/ivr/main?lang=en", args=(), overrides={}, network_script="ivr/main"
)
_STANDARD = list(_ENVIRONMENT.raw.items())
BLOCK = _ENVIRONMENT.to_bytes()


def _state(session: AgiSession) -> dict[str, object]:
    return {name: getattr(session, name) for name in AgiSession.__slots__}


def _general(data: bytes, **limits: int) -> tuple[AgiSession, list[object]]:
    session = AgiSession(**limits)
    return session, list(session.receive_data(data))


def test_the_usual_first_read_is_the_same_as_the_general_path() -> None:
    session = AgiSession()
    environment = session.receive_environment(BLOCK)
    general, events = _general(BLOCK)
    assert events == [EnvironmentReceived(environment)]  # type: ignore[arg-type]
    assert session.state is State.IDLE and session.environment is environment
    assert _state(session) == _state(general)
    assert environment is not None and list(environment.raw.items()) == _STANDARD
    assert environment.args == ()


def test_a_real_fastagi_block_without_arguments() -> None:
    block = _transcripts.environment_block("fastagi_basic.transcript.txt")
    lines = [line for line in block[:-2].split(b"\n") if not line.startswith(b"agi_arg_")]
    standard = b"\n".join(lines) + b"\n\n"
    environment = AgiSession().receive_environment(standard)
    assert environment is not None
    assert environment.version == "22.10.1+dfsg+~cs6.17.60671434-1"
    assert environment.to_bytes() == standard


@pytest.mark.parametrize("count", [1, 3, 12])
def test_arguments_are_read_on_the_fast_path(count: int) -> None:
    arguments = [f'value {n}: with \\ and "' for n in range(1, count + 1)]
    lines = "".join(f"agi_arg_{n}: {value}\n" for n, value in enumerate(arguments, 1))
    block = BLOCK[:-1] + lines.encode() + b"\n"
    session = AgiSession()
    environment = session.receive_environment(block)
    general, events = _general(block)
    assert environment is not None and events == [EnvironmentReceived(environment)]
    assert _state(session) == _state(general)
    assert environment.args == tuple(arguments)
    assert list(environment.raw.items())[-count:] == [
        (f"agi_arg_{n}", value) for n, value in enumerate(arguments, 1)
    ]
    assert environment.to_bytes() == block


def test_a_url_without_a_path_has_no_script_line() -> None:
    block = BLOCK.replace(b"agi_network_script: ivr/main\n", b"")
    environment = AgiSession().receive_environment(block)
    assert environment is not None
    assert environment.network_script is None and environment.script_path == ""
    assert "agi_network_script" not in environment.raw
    assert environment.to_bytes() == block


def _refused(data: bytes, session: AgiSession | None = None) -> None:
    session = session or AgiSession()
    before = _state(session)
    assert session.receive_environment(data) is None
    assert _state(session) == before


def test_what_the_general_path_must_read() -> None:
    _refused(BLOCK[:-1] + b"agi_arg_2: x\n\n")  # not the arguments as Asterisk numbers them
    _refused(BLOCK[:-1] + b"agi_arg_1: x\nagi_other: y\n\n")
    _refused(BLOCK[:-1] + b"agi_arg_1:x\n\n")
    _refused(BLOCK + b"200 result=0\n")  # something after the block
    _refused(BLOCK[:-1])  # the block's end not there yet
    _refused(BLOCK.replace(b"agi_network: yes\n", b""))  # not FastAGI's layout
    _refused(BLOCK.replace(b"agi_request:", b"agi_requested:"))
    _refused(BLOCK.replace(b"agi_language: en\n", b"agi_language: en\n\n"))  # ends earlier
    _refused(b"agi_request: script.py\nagi_channel: PJSIP/a-1\n\n")  # process AGI
    _refused(BLOCK, AgiSession(max_environment=len(BLOCK) - 2))
    _refused(BLOCK, AgiSession(max_line=len(BLOCK) - 3))
    started = AgiSession()
    started.receive_data(b"agi_network: yes\n")
    _refused(BLOCK, started)
    ready = AgiSession()
    ready.receive_environment(BLOCK)
    _refused(BLOCK, ready)  # the environment has arrived already


@given(
    st.lists(st.sampled_from([b"\n", b": ", b"agi_arg_1", b"\xff", b"x"]), max_size=4),
    st.integers(min_value=0, max_value=len(BLOCK)),
    st.integers(min_value=0, max_value=len(BLOCK)),
)
@settings(max_examples=300)
def test_it_reads_a_block_as_the_general_path_does_or_leaves_it(
    pieces: list[bytes], cut: int, limit: int
) -> None:
    data = BLOCK[:cut] + b"".join(pieces) + BLOCK[cut:]
    limits = {"max_environment": limit + 400, "max_line": limit + 400}
    session = AgiSession(**limits)
    before = _state(session)
    environment = session.receive_environment(data)
    if environment is None:
        assert _state(session) == before
        return
    general, events = _general(data, **limits)
    assert events == [EnvironmentReceived(environment)]
    assert _state(session) == _state(general)
    assert list(environment.raw.items()) == list(general.environment.raw.items())  # type: ignore[union-attr]
