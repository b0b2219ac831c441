"""Testing tools for AGI applications.

``agikit.testing.fake``: :class:`~agikit.testing.fake.FakeAsterisk`, which plays Asterisk's side
of AGI over a real socket or pipe from a script (``from agikit.testing import FakeAsterisk,
expect, hangup``), and :class:`~agikit.testing.scenario.Scenario`, what happens on the call.
``agikit.testing.tester``: the ``agi`` pytest fixture's engine, usable without pytest
(``agikit.testing.pytest_plugin`` registers the fixture). ``agikit.testing.debug_log``:
Asterisk's AGI debug log as transcripts. ``agikit.testing.asterisk``: a real Asterisk 22
harness for integration tests. Nothing here is imported by ``import agikit``; the names
below load on first use.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .fake import (
        NO_REPLY,
        FakeAsterisk,
        FakeSession,
        InProcessSession,
        Raw,
        Result,
        Scenario,
        ScriptMismatch,
        close_stream,
        end_session,
        expect,
        expect_any,
        expect_rest,
        hangup,
        pause,
        send_raw,
        usage_reply,
    )

__all__ = [
    "NO_REPLY",
    "FakeAsterisk",
    "FakeSession",
    "InProcessSession",
    "Raw",
    "Result",
    "Scenario",
    "ScriptMismatch",
    "close_stream",
    "end_session",
    "expect",
    "expect_any",
    "expect_rest",
    "hangup",
    "pause",
    "send_raw",
    "usage_reply",
]
_FAKE = frozenset(__all__)


def __getattr__(name: str) -> object:
    if name not in _FAKE:
        raise AttributeError(f"module 'agikit.testing' has no attribute {name!r}")
    from . import fake

    value = getattr(fake, name)
    globals()[name] = value
    return value
