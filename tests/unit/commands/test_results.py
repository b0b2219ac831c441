"""The result classes: immutable values with readable reprs."""

from __future__ import annotations

import copy
import pickle

import pytest

from agikit.results import (
    ChannelState,
    ControlPlaybackResult,
    DigitsResult,
    GosubResult,
    PlaybackResult,
    RecordResult,
    SpeechHypothesis,
    SpeechResult,
    StreamControl,
)

VALUES = [
    PlaybackResult("5", 32800),
    ControlPlaybackResult(None, None),
    DigitsResult("123", False),
    RecordResult("dtmf", "#", 9760),
    SpeechHypothesis(910, "one two", "digits"),
    SpeechResult("speech", None, 0, (SpeechHypothesis(910, "one two", "digits"),)),
    GosubResult(True, "Gosub complete"),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda value: type(value).__name__)
def test_results_are_immutable_values(value: object) -> None:
    name = type(value).__slots__[0]  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="immutable"):
        setattr(value, name, None)
    with pytest.raises(AttributeError, match="immutable"):
        delattr(value, name)
    with pytest.raises(AttributeError):
        value.other = 1  # type: ignore[attr-defined]
    assert not hasattr(value, "__dict__")
    assert value == copy.copy(value) == copy.deepcopy(value)
    assert hash(value) == hash(copy.deepcopy(value))
    assert eval(repr(value)) == value
    assert value != object()


def test_equality_is_by_type_and_value() -> None:
    assert PlaybackResult("5", 1) == PlaybackResult("5", 1)
    assert PlaybackResult("5", 1) != PlaybackResult("5", 2)
    assert PlaybackResult(None, 1) != ControlPlaybackResult(None, 1)
    assert len({DigitsResult("1", True), DigitsResult("1", True), DigitsResult("1", False)}) == 2


def test_reprs() -> None:
    assert repr(PlaybackResult("5", 32800)) == "PlaybackResult(digit='5', endpos=32800)"
    assert repr(RecordResult("timeout", None, 16000)) == (
        "RecordResult(outcome='timeout', digit=None, endpos=16000)"
    )
    assert repr(GosubResult(False, "Gosub complete (abnormal exit)")) == (
        "GosubResult(returned=False, message='Gosub complete (abnormal exit)')"
    )


def test_control_playback_position_in_seconds() -> None:
    assert ControlPlaybackResult("5", 4460).position == 4.46
    assert ControlPlaybackResult(None, None).position is None


def test_speech_result_defaults() -> None:
    result = SpeechResult(SpeechResult.TIMEOUT)
    assert (result.digit, result.endpos, result.hypotheses) == (None, 0, ())
    assert SpeechResult("speech", None, 0, [SpeechHypothesis(1, "a", "g")]).hypotheses == (  # type: ignore[arg-type]
        SpeechHypothesis(1, "a", "g"),
    )


def test_record_outcomes_are_asterisks_keywords() -> None:
    assert (RecordResult.TIMEOUT, RecordResult.DTMF, RecordResult.HANGUP) == (
        "timeout",
        "dtmf",
        "hangup",
    )
    assert RecordResult.BEEP_INTERRUPTED == "randomerror"


def test_stream_control_words() -> None:
    assert [StreamControl.from_code(code) for code in range(999, 1006)] == [
        None,
        "stop",
        "suspend",
        "restart",
        "reverse",
        "forward",
        None,
    ]
    words = [StreamControl.from_code(code) for code in range(1000, 1005)]
    assert all(word is not None and len(word) > 1 for word in words)  # never equal to a key


def test_channel_state() -> None:
    assert ChannelState.UP == 6 and isinstance(ChannelState.UP, int)
    assert ChannelState(6) == ChannelState.UP
    assert ChannelState(4).name == "RING" and ChannelState(4).description == "Ring"
    assert ChannelState(5).name == "RINGING" and ChannelState(5).description == "Ringing"
    assert ChannelState(1).description == "Rsrvd"
    assert [ChannelState(n).name for n in range(10)] == [
        "DOWN",
        "RESERVED",
        "OFFHOOK",
        "DIALING",
        "RING",
        "RINGING",
        "UP",
        "BUSY",
        "DIALING_OFFHOOK",
        "PRERING",
    ]
    assert repr(ChannelState.UP) == "ChannelState.UP"
    assert str(ChannelState.UP) == "6" and f"{ChannelState.UP}" == "6"
    unknown = ChannelState(42)
    assert (unknown.name, unknown.description, repr(unknown)) == (
        "UNKNOWN",
        "Unknown (42)",
        "ChannelState(42)",
    )
    assert pickle.loads(pickle.dumps(ChannelState.UP)) == ChannelState.UP
    with pytest.raises(AttributeError):
        ChannelState.UP.x = 1  # type: ignore[attr-defined]
