#!/usr/bin/env python3
"""EAGI voicemail: record the caller's message straight into a WAV file.

EAGI gives the script the caller's audio on file descriptor 3, beside the AGI commands; agikit
makes it ``call.audio``, an async stream of 20 ms frames. This script plays the greeting and a
beep, then keeps the audio while ``WAIT FOR DIGIT`` runs (audio flows meanwhile), until the
caller presses ``#``, hangs up, or ``MAX_SECONDS`` pass. The message is written to
``<directory>/<uniqueid>.wav`` (the directory is the first argument), its path and length are
left in ``VM_FILE`` and ``VM_SECONDS``.

Dialplan (eagi_voicemail.conf); EAGI runs local scripts only, never ``agi://``:

    [voicemail]
    exten => 300,1,Answer()
     same => n,Set(EAGI_AUDIO_FORMAT=slin16)    ; optional: 16 kHz audio instead of 8 kHz
     same => n,EAGI(eagi_voicemail.py,/var/spool/asterisk/voicemail-wav)
     same => n,Hangup()

Copy this file into Asterisk's agi-bin and make it executable.
"""

import asyncio
import contextlib
import os
import wave

import agikit

MAX_SECONDS = 120.0


async def main(call: agikit.Call) -> None:
    directory = call.env.args[0] if call.env.args else "/tmp"
    path = os.path.join(directory, f"{call.env.uniqueid}.wav")
    await call.answer()
    await call.stream_file("vm-intro")  # "Please leave your message after the tone..."
    await call.stream_file("beep")
    seconds, hung_up = await record(call, path, MAX_SECONDS)
    # Most messages end with a hangup: SET VARIABLE works on a dead channel too.
    await call.set_variable("VM_FILE", path)
    await call.set_variable("VM_SECONDS", f"{seconds:.2f}")
    if not hung_up:
        await call.stream_file("vm-msgsaved")  # "Your message has been saved."
        await call.stream_file("vm-goodbye")


# --8<-- [start:record]
async def record(call: agikit.Call, path: str, max_seconds: float) -> tuple[float, bool]:
    """Write the caller's audio to ``path`` until ``#``, the hangup, or ``max_seconds``.

    Returns the length of the recording in seconds, and whether the caller hung up.
    """
    audio = call.audio
    rate, width = audio.format.sample_rate, audio.format.sample_width
    if not audio.format.is_pcm or rate is None or width is None:
        raise agikit.AGIError(f"{audio.format.name} audio: set EAGI_AUDIO_FORMAT to slin*")
    # Audio flowed while the greeting played; the message starts at the beep.
    while audio.buffered_bytes:
        await audio.read_frame()

    limit = int(max_seconds * rate) * width
    message = bytearray()

    async def collect() -> None:
        async for frame in audio:  # the stream ends at the hangup
            message.extend(frame)
            if len(message) >= limit:
                return

    collector = asyncio.create_task(collect())
    hung_up = False
    try:
        while not collector.done():
            # One second at a time, so that the time limit ends the loop too.
            if await call.wait_for_digit(1) == "#":
                break
    except agikit.Hangup:
        hung_up = True
        with contextlib.suppress(TimeoutError):  # keep what was in the pipe at the hangup
            await asyncio.wait_for(collector, 5)
    finally:
        collector.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await collector

    del message[limit:]
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(bytes(message))
    return len(message) / (rate * width), hung_up


# --8<-- [end:record]


if __name__ == "__main__":
    agikit.run(main)
