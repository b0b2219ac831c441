"""EAGI: the caller's audio on fd 3, as an async stream of frames in a known format."""

from __future__ import annotations

import asyncio
import contextlib
import os
import wave
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import AGIError

if TYPE_CHECKING:
    from .stdio import StdioRunner

_SLIN_RATES = {
    "slin": 8000,
    "slin12": 12000,
    "slin16": 16000,
    "slin24": 24000,
    "slin32": 32000,
    "slin44": 44100,
    "slin48": 48000,
    "slin96": 96000,
    "slin192": 192000,
}
_G711 = {"ulaw": 7, "alaw": 6}  # WAVE format tags (WAVE_FORMAT_MULAW, WAVE_FORMAT_ALAW)
_FRAME_SECONDS = 0.02


class AudioFormat:
    """The format of the EAGI audio: Asterisk's format name and what it means for the bytes."""

    __slots__ = ("name", "sample_rate", "sample_width")

    def __init__(self, name: str) -> None:
        self.name = name
        if name in _SLIN_RATES:
            self.sample_rate: int | None = _SLIN_RATES[name]
            self.sample_width: int | None = 2
        elif name in _G711:
            self.sample_rate, self.sample_width = 8000, 1
        else:  # a codec's own frames (gsm, g722, opus ...): opaque bytes
            self.sample_rate, self.sample_width = None, None

    @classmethod
    def from_variable(cls, value: str | None) -> AudioFormat:
        """From the channel's read format (``CHANNEL(audioreadformat)``), the format Asterisk
        writes to fd 3: unset or empty means ``slin`` (8 kHz signed 16-bit), Asterisk's
        default. Any other name is taken as it is: a codec this class knows nothing about gives
        opaque frames (no sample rate), never audio mistaken for ``slin``."""
        name = (value or "").strip().lower()
        return cls(name or "slin")

    @property
    def is_pcm(self) -> bool:
        """Signed 16-bit little-endian linear PCM (the ``slin*`` formats)."""
        return self.name in _SLIN_RATES

    @property
    def frame_bytes(self) -> int | None:
        """Bytes in 20 ms of audio, for sample formats; None for codec frames."""
        if self.sample_rate is None or self.sample_width is None:
            return None
        return int(self.sample_rate * _FRAME_SECONDS) * self.sample_width

    def __repr__(self) -> str:
        return f"AudioFormat({self.name!r}, rate={self.sample_rate}, width={self.sample_width})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AudioFormat) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)


class AudioStream:
    """The caller's audio under EAGI: ``async for frame in call.audio: ...``.

    Frames are 20 ms of audio for sample formats (the last one may be shorter), or the bytes
    as read for codec formats (opaque: Asterisk's frames are not delimited in the pipe). The
    pipe is drained continuously in the background, as Asterisk drops audio when it fills; up
    to ``max_buffered_seconds`` are kept for a slow reader, older audio is dropped and counted
    in :attr:`dropped_bytes`. Audio flows only while
    Asterisk reads the channel (between commands, and during STREAM FILE, GET DATA, WAIT FOR
    DIGIT ...), never before ANSWER or after the hangup. The stream ends at the hangup (SIGHUP;
    with ``AGISIGHUP=no`` there is none) or when the session ends, whichever comes first.
    """

    def __init__(
        self, fd: int, audio_format: AudioFormat, max_buffered_seconds: float = 60
    ) -> None:
        self.format = audio_format
        self.dropped_bytes = 0
        self._fd = fd
        self._loop = asyncio.get_running_loop()
        self._pending = bytearray()
        self._frames: deque[bytes] = deque()
        self._buffered = 0
        rate = (audio_format.sample_rate or 8000) * (audio_format.sample_width or 2)
        self._max_buffered = int(rate * max_buffered_seconds)
        self._frame = audio_format.frame_bytes
        self._wakeup: asyncio.Future[None] | None = None
        self._eof = False
        self._closed = False
        os.set_blocking(fd, False)
        self._loop.add_reader(fd, self._readable)

    @property
    def buffered_bytes(self) -> int:
        """Bytes of complete frames read from the pipe and not yet consumed."""
        return self._buffered

    def hangup(self) -> None:
        """The channel hung up (SIGHUP): Asterisk writes no more audio, so the stream ends once
        what is already in the pipe has been read. Safe to call from a signal handler."""
        if self._eof:
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: the stream is over too
            self._loop.call_soon_threadsafe(self._drain_and_finish)

    def _drain_and_finish(self) -> None:
        while not self._eof:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                break
            except OSError:
                break
            if not data:
                break
            self._add(data)
        self._finish()
        self._wake()

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._finish()
        else:
            self._add(data)
        self._wake()

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def _add(self, data: bytes) -> None:
        if self._frame is None:
            self._push(data)
            return
        self._pending += data
        size = self._frame
        while len(self._pending) >= size:
            self._push(bytes(self._pending[:size]))
            del self._pending[:size]

    def _push(self, frame: bytes) -> None:
        self._frames.append(frame)
        self._buffered += len(frame)
        while self._buffered > self._max_buffered and len(self._frames) > 1:
            old = self._frames.popleft()
            self._buffered -= len(old)
            self.dropped_bytes += len(old)

    def _finish(self) -> None:
        if self._eof:
            return
        self._eof = True
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(self._fd)
        if self._pending:
            self._push(bytes(self._pending))
            self._pending.clear()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        frame = await self.read_frame()
        if frame is None:
            raise StopAsyncIteration
        return frame

    async def read_frame(self) -> bytes | None:
        """The next frame, waiting for it; None at the end of the stream."""
        while not self._frames:
            if self._eof:
                return None
            self._wakeup = self._loop.create_future()
            await self._wakeup
        frame = self._frames.popleft()
        self._buffered -= len(frame)
        return frame

    async def save_wav(self, path: str | Path, *, seconds: float | None = None) -> int:
        """Write the audio to a WAV file until the stream ends (or ``seconds`` of audio).

        Works for the ``slin*`` formats (16-bit PCM) and ``ulaw``/``alaw``. Returns the number
        of audio bytes written.
        """
        audio_format = self.format
        if audio_format.sample_rate is None or audio_format.sample_width is None:
            raise AGIError(f"cannot write {audio_format.name} audio as WAV")
        limit = None
        if seconds is not None:
            limit = int(seconds * audio_format.sample_rate) * audio_format.sample_width
        chunks: list[bytes] = []
        total = 0
        async for frame in self:
            if limit is not None and total + len(frame) >= limit:
                chunks.append(frame[: limit - total])
                total = limit
                break
            chunks.append(frame)
            total += len(frame)
        write_wav(path, b"".join(chunks), audio_format)
        return total

    def close(self) -> None:
        """Stop reading and close fd 3 (once)."""
        self._finish()
        if not self._closed:
            self._closed = True
            with contextlib.suppress(OSError):
                os.close(self._fd)


def write_wav(path: str | Path, audio: bytes, audio_format: AudioFormat) -> None:
    """Write raw EAGI audio bytes of ``audio_format`` to a WAV file."""
    rate, width = audio_format.sample_rate, audio_format.sample_width
    if audio_format.is_pcm and rate is not None:
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(audio)
        return
    if audio_format.name in _G711 and rate is not None and width is not None:
        tag = _G711[audio_format.name]
        fmt = (
            tag.to_bytes(2, "little")
            + (1).to_bytes(2, "little")
            + rate.to_bytes(4, "little")
            + (rate * width).to_bytes(4, "little")
            + width.to_bytes(2, "little")
            + (8 * width).to_bytes(2, "little")
            + (0).to_bytes(2, "little")
        )
        body = b"WAVE" + b"fmt " + len(fmt).to_bytes(4, "little") + fmt
        # A non-PCM format needs a "fact" chunk: the number of samples.
        body += b"fact" + (4).to_bytes(4, "little") + (len(audio) // width).to_bytes(4, "little")
        body += (
            b"data" + len(audio).to_bytes(4, "little") + audio + (b"\0" if len(audio) % 2 else b"")
        )
        Path(path).write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + body)
        return
    raise AGIError(f"cannot write {audio_format.name} audio as WAV")


async def open_audio(runner: StdioRunner, fd: int) -> AudioStream:
    """Read ``EAGI_AUDIO_FORMAT`` from the channel and start draining fd 3."""
    from ..commands import GET_VARIABLE

    # The read format Asterisk actually set (it falls back to slin for unknown names).
    value = await runner.run_async(GET_VARIABLE.request("CHANNEL(audioreadformat)"))
    return AudioStream(fd, AudioFormat.from_variable(value))
