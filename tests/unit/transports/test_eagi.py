"""EAGI: the caller's audio (fd 3) as ``call.audio``, against the fake Asterisk's audio pipe."""

from __future__ import annotations

import ast
import asyncio
import struct
import wave
from pathlib import Path
from typing import Any

import pytest

import agikit
from agikit.errors import AGIError
from agikit.testing.fake import FakeAsterisk, end_session, expect, hangup, pause
from agikit.transports._eagi import AudioFormat, write_wav

from ._support import run_script, serve_in_process, stderr_text, write_script

pytestmark = pytest.mark.timeout(60)

FORMAT = "GET VARIABLE CHANNEL(audioreadformat)"
#: 6400 bytes: 20 frames of 8 kHz slin, 10 of slin16, 40 of ulaw.
AUDIO = bytes(range(256)) * 25


def _fake(format_reply: str, *steps: Any, agisighup: bool = False) -> FakeAsterisk:
    """Asterisk answering the read format, then ``steps`` (default: let the audio arrive, then
    end the session, which closes fd 3)."""
    return FakeAsterisk(
        [expect(FORMAT, reply=format_reply), *(steps or (pause(0.3), end_session()))],
        agisighup=agisighup,
    )


async def _read_all(call: agikit.Call) -> list[bytes]:
    return [frame async for frame in call.audio]


@pytest.mark.parametrize(
    ("reply", "name", "rate", "width", "frame"),
    [
        ("200 result=1 (slin)", "slin", 8000, 2, 320),
        ("200 result=1 (slin16)", "slin16", 16000, 2, 640),
        ("200 result=1 (slin48)", "slin48", 48000, 2, 1920),
        ("200 result=1 (ulaw)", "ulaw", 8000, 1, 160),
        ("200 result=1 (alaw)", "alaw", 8000, 1, 160),
        ("200 result=0", "slin", 8000, 2, 320),  # not set: Asterisk's default
    ],
)
def test_audio_comes_out_as_20ms_frames_in_the_read_format(
    reply: str, name: str, rate: int, width: int, frame: int
) -> None:
    seen: dict[str, Any] = {}

    async def handler(call: agikit.Call) -> None:
        audio_format = call.audio.format
        seen["format"] = (audio_format.name, audio_format.sample_rate, audio_format.sample_width)
        seen["frames"] = await _read_all(call)

    audio = AUDIO + b"tail"  # the last frame is shorter
    served = serve_in_process(_fake(reply), handler, eagi_audio=audio)
    served.result.assert_ok()
    assert served.status == 0
    assert served.sent()[0] == FORMAT  # asked first, before the handler runs
    assert seen["format"] == (name, rate, width)
    frames = seen["frames"]
    assert b"".join(frames) == audio
    assert {len(f) for f in frames[:-1]} == {frame}
    assert len(frames[-1]) == len(audio) % frame or frame


@pytest.mark.parametrize("name", ["g722", "opus", "siren7", "made-up-codec"])
def test_codec_audio_is_passed_through_as_opaque_frames(name: str) -> None:
    seen: dict[str, Any] = {}

    async def handler(call: agikit.Call) -> None:
        seen["format"] = call.audio.format
        seen["frames"] = await _read_all(call)

    served = serve_in_process(
        _fake(f"200 result=1 ({name})"), handler, eagi_audio=AUDIO, eagi_frame_size=100
    )
    served.result.assert_ok()
    audio_format = seen["format"]
    assert audio_format.name == name  # never taken for slin
    assert audio_format.sample_rate is None and audio_format.frame_bytes is None
    assert not audio_format.is_pcm
    assert b"".join(seen["frames"]) == AUDIO


def test_iteration_ends_at_the_hangup() -> None:
    # After the hangup Asterisk writes no more audio but keeps fd 3 open until the session
    # ends; the stream ends at the SIGHUP, so the handler is not stuck reading.
    fake = FakeAsterisk(
        [
            expect(FORMAT, reply="200 result=1 (slin)"),
            pause(0.3),
            hangup(),
            expect("SET VARIABLE FRAMES 20"),
        ]
    )
    seen: dict[str, Any] = {}

    async def handler(call: agikit.Call) -> None:
        frames = await _read_all(call)
        seen["bytes"] = b"".join(frames)
        seen["hung_up"] = call.hung_up
        await call.set_variable("FRAMES", str(len(frames)))

    served = serve_in_process(fake, handler, eagi_audio=AUDIO)
    served.result.assert_ok()
    assert served.status == 0
    assert seen == {"bytes": AUDIO, "hung_up": True}


@pytest.mark.parametrize(("name", "rate"), [("slin", 8000), ("slin16", 16000)])
def test_save_wav_writes_a_pcm_wav(tmp_path: Path, name: str, rate: int) -> None:
    path = tmp_path / "caller.wav"
    written: list[int] = []

    async def handler(call: agikit.Call) -> None:
        written.append(await call.audio.save_wav(path))

    served = serve_in_process(_fake(f"200 result=1 ({name})"), handler, eagi_audio=AUDIO)
    served.result.assert_ok()
    assert written == [len(AUDIO)]
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, rate)
        assert wav.getnframes() == len(AUDIO) // 2
        assert wav.readframes(wav.getnframes()) == AUDIO


def test_save_wav_stops_after_the_given_seconds(tmp_path: Path) -> None:
    path = tmp_path / "first.wav"
    seen: list[Any] = []

    async def handler(call: agikit.Call) -> None:
        seen.append(await call.audio.save_wav(path, seconds=0.1))
        seen.append(b"".join(await _read_all(call)))  # the rest is still there

    served = serve_in_process(_fake("200 result=1 (slin)"), handler, eagi_audio=AUDIO)
    served.result.assert_ok()
    assert seen[0] == 1600
    with wave.open(str(path), "rb") as wav:
        assert wav.readframes(10_000) == AUDIO[:1600]
    assert seen[1] == AUDIO[1600:]


@pytest.mark.parametrize(("name", "tag"), [("ulaw", 7), ("alaw", 6)])
def test_save_wav_writes_a_valid_g711_header(tmp_path: Path, name: str, tag: int) -> None:
    path = tmp_path / "caller.wav"
    audio = AUDIO + b"x"  # odd length: the data chunk is padded

    async def handler(call: agikit.Call) -> None:
        await call.audio.save_wav(path)

    served = serve_in_process(_fake(f"200 result=1 ({name})"), handler, eagi_audio=audio)
    served.result.assert_ok()
    chunks = _riff_chunks(path.read_bytes())
    fmt = chunks[b"fmt "]
    assert len(fmt) == 18
    assert struct.unpack("<HHIIHHH", fmt) == (tag, 1, 8000, 8000, 1, 8, 0)
    assert struct.unpack("<I", chunks[b"fact"]) == (len(audio),)
    assert chunks[b"data"] == audio


def _riff_chunks(data: bytes) -> dict[bytes, bytes]:
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    chunks, offset = {}, 12
    while offset < len(data):
        kind, size = (
            data[offset : offset + 4],
            struct.unpack("<I", data[offset + 4 : offset + 8])[0],
        )
        chunks[kind] = data[offset + 8 : offset + 8 + size]
        offset += 8 + size + (size % 2)
    assert offset == len(data)
    return chunks


def test_save_wav_refuses_codec_audio(tmp_path: Path) -> None:
    errors: list[str] = []

    async def handler(call: agikit.Call) -> None:
        try:
            await call.audio.save_wav(tmp_path / "x.wav")
        except AGIError as error:
            errors.append(str(error))

    served = serve_in_process(_fake("200 result=1 (g729)"), handler, eagi_audio=AUDIO)
    served.result.assert_ok()
    assert errors == ["cannot write g729 audio as WAV"]


def test_audio_is_drained_while_a_command_runs() -> None:
    # 320 kB: five times what a pipe holds. Asterisk drops audio it cannot write, so the
    # stream must keep reading while STREAM FILE plays (the fake waits instead, so every byte
    # read during the command proves the draining).
    audio = bytes(range(250)) * 1280
    fake = FakeAsterisk(
        [
            expect(FORMAT, reply="200 result=1 (slin)"),
            expect('STREAM FILE prompt ""', delay=1.0),
            pause(0.1),
            end_session(),
        ],
        agisighup=False,
    )
    seen: dict[str, Any] = {}

    async def handler(call: agikit.Call) -> None:
        await call.stream_file("prompt")
        seen["buffered"] = call.audio.buffered_bytes
        seen["frames"] = await _read_all(call)

    served = serve_in_process(fake, handler, eagi_audio=audio)
    served.result.assert_ok()
    assert seen["buffered"] == len(audio)
    assert b"".join(seen["frames"]) == audio
    assert served.result.audio_bytes_written == len(audio)


def test_commands_and_audio_interleave() -> None:
    fake = FakeAsterisk(
        [
            expect(FORMAT, reply="200 result=1 (slin)"),
            expect("ANSWER"),
            expect("WAIT FOR DIGIT 1000", reply="200 result=0", delay=0.1),
            pause(0.3),
            end_session(),
        ],
        agisighup=False,
    )
    seen: list[Any] = []

    async def handler(call: agikit.Call) -> None:
        await call.answer()
        reader = asyncio.create_task(_read_all(call))
        seen.append(await call.wait_for_digit(1))
        seen.append(b"".join(await reader))

    served = serve_in_process(fake, handler, eagi_audio=AUDIO, eagi_frame_interval=0.01)
    served.result.assert_ok()
    assert seen == [None, AUDIO]


def test_hangup_before_the_format_is_known_ends_cleanly() -> None:
    fake = FakeAsterisk([expect(FORMAT, hangup_before_reply=True, reply="200 result=0")])
    started: list[bool] = []

    async def handler(call: agikit.Call) -> None:
        started.append(True)

    served = serve_in_process(fake, handler, eagi_audio=AUDIO)
    served.result.assert_ok()
    assert served.status == 0


# ------------------------------------------------------------------------------ sync handlers


def test_sync_handler_under_eagi_gets_a_clear_error_for_audio(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def handler(call: agikit.SyncCall) -> None:
        call.answer()
        call.audio  # type: ignore[attr-defined]  # noqa: B018

    served = serve_in_process(FakeAsterisk([expect("ANSWER")]), handler, eagi_audio=AUDIO)
    served.result.assert_ok()  # no GET VARIABLE: a blocking handler does not read the audio
    assert served.status == 1
    err = capsys.readouterr().err
    assert "agikit.errors.AGIError: call.audio needs an async handler" in err
    assert "async def main(call: agikit.Call)" in err


def test_sync_handler_under_eagi_runs_its_commands() -> None:
    seen: list[Any] = []

    def handler(call: agikit.SyncCall) -> None:
        seen.append(type(call).__name__)
        seen.append(isinstance(call, agikit.SyncCall))
        call.answer()

    served = serve_in_process(FakeAsterisk([expect("ANSWER")]), handler, eagi_audio=AUDIO)
    served.result.assert_ok()
    assert served.status == 0 and seen[1] is True


# ------------------------------------------------------------------------------ a real fd 3


def test_eagi_process_reads_fd_3(tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        """
        import sys, agikit

        async def main(call):
            frames = [frame async for frame in call.audio]
            sys.stderr.write("FORMAT=" + repr(call.audio.format.name) + "\\n")
            sys.stderr.write("SIZES=" + repr(sorted({len(f) for f in frames})) + "\\n")
            sys.stderr.write("TOTAL=" + repr(sum(len(f) for f in frames)) + "\\n")
            with open(sys.argv[1], "wb") as out:
                out.write(b"".join(frames))
            await call.set_variable("DONE", "1")

        agikit.run(main)
        """,
    )
    out = tmp_path / "audio.raw"
    audio = bytes(range(256)) * 250  # 64000 bytes: 2 s of slin16
    fake = FakeAsterisk(
        [
            expect(FORMAT, reply="200 result=1 (slin16)"),
            pause(0.3),
            hangup(),  # a real SIGHUP ends the stream
            expect("SET VARIABLE DONE 1"),
        ],
        args=[str(out)],
    )
    result = run_script(fake, script, eagi_audio=audio)
    result.assert_ok()
    stderr = stderr_text(result)
    values = dict(line.split("=", 1) for line in stderr.splitlines() if "=" in line)
    assert ast.literal_eval(values["FORMAT"]) == "slin16"
    assert ast.literal_eval(values["SIZES"]) == [640]
    assert out.read_bytes() == audio
    assert result.exit_status == 0


def test_eagi_process_sync_handler(tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        """
        import sys, agikit

        def main(call):
            call.answer()
            try:
                call.audio
            except agikit.AGIError as error:
                print("error:", error, file=sys.stderr)

        agikit.run(main)
        """,
    )
    result = run_script(FakeAsterisk([expect("ANSWER")]), script, eagi_audio=AUDIO)
    result.assert_ok()
    assert "error: call.audio needs an async handler" in stderr_text(result)


# ------------------------------------------------------------------------------ units


def test_audio_format_names() -> None:
    assert AudioFormat.from_variable(None) == AudioFormat("slin")
    assert AudioFormat.from_variable("") == AudioFormat("slin")
    assert AudioFormat.from_variable(" SLIN16 ").name == "slin16"
    assert AudioFormat("slin16").frame_bytes == 640
    assert AudioFormat("slin44").frame_bytes == 1764
    assert AudioFormat("ulaw").frame_bytes == 160
    assert AudioFormat("gsm").frame_bytes is None
    assert repr(AudioFormat("slin")) == "AudioFormat('slin', rate=8000, width=2)"
    assert len({AudioFormat("slin"), AudioFormat("slin")}) == 1


def test_write_wav_refuses_opaque_formats(tmp_path: Path) -> None:
    with pytest.raises(AGIError, match="cannot write opus audio as WAV"):
        write_wav(tmp_path / "x.wav", b"\0" * 10, AudioFormat("opus"))


def _stream_test(body: Any) -> Any:
    """Run ``body(stream, write_fd)`` on a loop with an AudioStream over a fresh pipe."""
    import os

    from agikit.transports._eagi import AudioStream

    async def main() -> Any:
        read_fd, write_fd = os.pipe()
        stream = AudioStream(read_fd, AudioFormat("slin"), max_buffered_seconds=0.1)
        try:
            return await body(stream, write_fd)
        finally:
            stream.close()
            stream.close()  # idempotent
            os.close(write_fd)

    return asyncio.run(main())


def test_a_slow_reader_loses_the_oldest_audio_and_is_told() -> None:
    import os

    audio = b"".join(bytes([n]) * 320 for n in range(20))  # 20 frames, 0.1 s fits 5

    async def body(stream: Any, write_fd: int) -> list[bytes]:
        os.write(write_fd, audio)
        await asyncio.sleep(0.05)
        stream.hangup()  # then the end: what is in the pipe is read, nothing after
        return [frame async for frame in stream]

    frames = _stream_test(body)
    assert frames == [bytes([n]) * 320 for n in range(15, 20)]


def test_hangup_reads_what_is_in_the_pipe_then_ends() -> None:
    import os

    async def body(stream: Any, write_fd: int) -> tuple[Any, ...]:
        os.write(write_fd, b"\1" * 500)
        stream.hangup()  # before the loop saw the data
        frames = [frame async for frame in stream]
        return frames, stream.dropped_bytes, await stream.read_frame()

    frames, dropped, after = _stream_test(body)
    assert frames == [b"\1" * 320, b"\1" * 180] and dropped == 0 and after is None


def test_audio_types_are_public_names_of_the_package() -> None:
    from agikit.transports import _eagi

    assert agikit.AudioStream is _eagi.AudioStream
    assert agikit.AudioFormat is _eagi.AudioFormat
    # ... but not star-imported: that would load asyncio into every process-AGI script.
    assert not {"AudioStream", "AudioFormat"} & set(agikit.__all__)
