"""examples/eagi_voicemail.py as a real EAGI process, against the fake Asterisk, which writes
the caller's audio to the script's fd 3 in real time."""

from __future__ import annotations

import sys
import wave
from pathlib import Path

from agikit.testing.asterisk import Asterisk, FarEnd
from agikit.testing.asterisk.pytest_plugin import ScriptWriter
from agikit.testing.fake import (
    FakeAsterisk,
    Result,
    Step,
    expect,
    expect_any,
    expect_rest,
    hangup,
)

from ._support import EXAMPLES

UNIQUEID = "1700000000.7"
#: What agikit asks first under EAGI, to learn the format of the audio on fd 3.
READ_FORMAT = "GET VARIABLE CHANNEL(audioreadformat)"
#: Five seconds of a sawtooth in 8 kHz signed 16-bit PCM (slin).
AUDIO = b"".join((n * 64 % 4096 - 2048).to_bytes(2, "little", signed=True) for n in range(40000))


def _greeting(read_format: str = "200 result=1 (slin)") -> list[Step]:
    return [
        expect(READ_FORMAT, reply=read_format),
        expect("ANSWER"),
        expect('STREAM FILE vm-intro ""', delay=0.3),  # the caller's audio flows meanwhile
        expect('STREAM FILE beep ""'),
    ]


def _run(tmp_path: Path, script: list[Step], frame_size: int = 320) -> Result:
    fake = FakeAsterisk(script, args=[str(tmp_path)], env={"uniqueid": UNIQUEID})
    result = fake.run_process(
        "eagi_voicemail.py",
        interpreter=[sys.executable],
        agi_dir=EXAMPLES,
        eagi_audio=AUDIO,
        eagi_frame_size=frame_size,
        eagi_frame_interval=0.02,  # 20 ms frames, as fast as Asterisk sends them
    )
    result.assert_ok()
    assert result.exit_status == 0
    return result


def _recorded_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as recording:
        assert (recording.getnchannels(), recording.getsampwidth()) == (1, 2)
        assert recording.getframerate() == 8000
        return recording.getnframes() / 8000


def _variable(result: Result, name: str) -> str:
    prefix = f"SET VARIABLE {name} "
    return next(c[len(prefix) :] for c in result.commands if c.startswith(prefix))


def test_a_message_ended_with_the_hash_key(tmp_path: Path) -> None:
    path = tmp_path / f"{UNIQUEID}.wav"
    result = _run(
        tmp_path,
        [
            *_greeting(),
            expect("WAIT FOR DIGIT 1000", delay=1.0),  # a second without a key
            expect("WAIT FOR DIGIT 1000", reply="200 result=35", delay=0.5),  # then "#"
            expect(f"SET VARIABLE VM_FILE {path}"),
            expect_any(),  # SET VARIABLE VM_SECONDS ...
            expect('STREAM FILE vm-msgsaved ""'),
            expect('STREAM FILE vm-goodbye ""'),
        ],
    )
    seconds = _recorded_seconds(path)
    assert 1.2 <= seconds <= 2.0  # 1.5 s from the beep to "#"
    assert float(_variable(result, "VM_SECONDS")) == round(seconds, 2)


def test_a_message_ended_by_hanging_up(tmp_path: Path) -> None:
    path = tmp_path / f"{UNIQUEID}.wav"
    result = _run(
        tmp_path,
        [
            *_greeting(),
            expect("WAIT FOR DIGIT 1000", delay=1.0),
            # The caller hangs up as the next wait starts: SIGHUP, then WAIT FOR DIGIT's -1.
            expect("WAIT FOR DIGIT 1000", hangup_before_reply=True, reply="200 result=-1"),
            # Then the two SET VARIABLEs on the dead channel, and perhaps a NOOP first: when the
            # -1 is read before the SIGHUP handler has run, agikit asks Asterisk with a NOOP.
            expect_rest(),
        ],
    )
    assert result.agi_status == "HANGUP"
    after = [c for c in result.commands[6:] if c != "NOOP"]
    assert after[0] == f"SET VARIABLE VM_FILE {path}"
    assert after[1].startswith("SET VARIABLE VM_SECONDS ")
    assert len(after) == 2  # nothing but those after the hangup
    seconds = _recorded_seconds(path)
    assert 0.8 <= seconds <= 1.5  # 1 s from the beep to the hangup
    assert float(_variable(result, "VM_SECONDS")) == round(seconds, 2)


def test_16_khz_audio(tmp_path: Path) -> None:
    path = tmp_path / f"{UNIQUEID}.wav"
    _run(
        tmp_path,
        [
            *_greeting("200 result=1 (slin16)"),  # EAGI_AUDIO_FORMAT=slin16 in the dialplan
            expect("WAIT FOR DIGIT 1000", reply="200 result=35", delay=1.0),
            expect_any(),
            expect_any(),
            expect_any(),
            expect_any(),
            hangup(),
        ],
        frame_size=640,  # 20 ms of 16 kHz audio
    )
    with wave.open(str(path), "rb") as recording:
        assert recording.getframerate() == 16000
        assert 0.8 <= recording.getnframes() / 16000 <= 1.5  # 1 s from the beep to "#"


# -- the real Asterisk ------------------------------------------------------------------------


def test_on_asterisk_a_message_ended_with_the_hash_key(
    asterisk: Asterisk, agi_script: ScriptWriter
) -> None:
    script = agi_script("eagi_voicemail.py", (EXAMPLES / "eagi_voicemail.py").read_text())
    messages = asterisk.agi_bin / "messages"  # /agikit/agi-bin/messages inside the chroot
    messages.mkdir(exist_ok=True)
    call = asterisk.originate_eagi(
        script,
        args=["/agikit/agi-bin/messages"],
        # The far end talks through the greeting, then leaves a 5.5 s message and presses #.
        far_end=[FarEnd.play("demo-thanks"), FarEnd.play("demo-thanks"), FarEnd.dtmf("#")],
        report=["VM_FILE", "VM_SECONDS"],
    )
    result = call.wait(60)
    assert result.agi_status == "SUCCESS", result.log_text()
    path = messages / f"{result.uniqueid}.wav"
    assert result.variables["VM_FILE"] == f"/agikit/agi-bin/messages/{path.name}"
    with wave.open(str(path), "rb") as recording:
        assert recording.getframerate() == 8000
        seconds = recording.getnframes() / 8000
        samples = recording.readframes(recording.getnframes())
    assert 4.0 <= seconds <= 7.5, result.log_text()
    assert float(result.variables["VM_SECONDS"]) == round(seconds, 2)
    loudest = max(
        abs(int.from_bytes(samples[i : i + 2], "little", signed=True))
        for i in range(0, len(samples), 2)
    )
    assert loudest > 1000  # the far end's voice, not silence
    path.unlink()
