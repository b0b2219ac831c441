"""EAGI on a real Asterisk 22: the caller's audio on fd 3, byte for byte."""

from __future__ import annotations

import wave

import pytest

from agikit.testing.asterisk import Asterisk, FarEnd
from agikit.testing.asterisk.pytest_plugin import ScriptWriter

from .agiscript import run_script


@pytest.mark.parametrize(
    ("audio_format", "rate", "extension"),
    [(None, 8000, "sln"), ("slin16", 16000, "sln16")],
    ids=["slin-8k", "slin16"],
)
def test_eagi_audio_is_byte_identical_to_file_convert(
    asterisk: Asterisk,
    agi_script: ScriptWriter,
    audio_format: str | None,
    rate: int,
    extension: str,
) -> None:
    results = asterisk.agi_bin / "results"
    results.mkdir(exist_ok=True)
    name = f"eagi_{extension}"
    run = run_script(
        asterisk,
        agi_script,
        f"""
        async def main(call):
            record("format", [call.audio.format.name, call.audio.format.sample_rate])
            await call.answer()
            written = await call.audio.save_wav("/agikit/agi-bin/results/{name}.wav", seconds=3)
            record("written", written)
            record("digit", await call.wait_for_digit(0.5))
            await call.hangup()

        agikit.run(main)
        """,
        eagi=True,
        far_end=[FarEnd.play("demo-congrats")],
        variables={"EAGI_AUDIO_FORMAT": audio_format} if audio_format else {},
    )
    assert run.call.agi_status in ("SUCCESS", "HANGUP"), run.call.log_text()
    assert run.recorded["format"] == [audio_format or "slin", rate]
    assert run.recorded["written"] == 3 * rate * 2
    reference = results / f"reference.{extension}"
    output = asterisk.ami.command(
        "file convert /usr/share/asterisk/sounds/en/demo-congrats.gsm "
        f"/agikit/agi-bin/results/reference.{extension}"
    )
    assert reference.exists(), output
    with wave.open(str(results / f"{name}.wav")) as captured:
        assert (captured.getframerate(), captured.getsampwidth()) == (rate, 2)
        audio = captured.readframes(captured.getnframes())
    assert len(audio) == 3 * rate * 2
    assert audio == reference.read_bytes()[: len(audio)]
