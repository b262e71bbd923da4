"""A small, reproducible sample video for local runs, demos and tests (PyAV only).

320x240 at 15 fps: a colour gradient that drifts, with a square that bounces, stops for a
moment and then moves fast, so motion varies over time. The sound track is real speech from
eSpeak NG (a few coaching sentences with pauses between them), encoded as AAC. The same
arguments give the same file.
"""

from __future__ import annotations

import io
import math
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from shared.adapters.espeak import EspeakSynthesizer
from shared.domain import Voice

WIDTH, HEIGHT, FPS = 320, 240, 15
SPEECH_START_SECONDS = 0.4
SCRIPT_SSML = (
    "<speak>Welcome to practice."
    '<break time="900ms"/>Keep your chin up.'
    '<break time="800ms"/>Great work!</speak>'
)
_VOICE = Voice(name="sample", language="en-US", style="coach")


def write_sample_video(path: Path, seconds: float = 6.0, *, with_audio: bool = True) -> Path:
    """Write the sample MP4 to `path` and return it."""
    if not 0 < seconds <= 600:
        raise ValueError("seconds must be in (0, 600]")
    path = Path(path)
    frame_count = max(1, round(seconds * FPS))
    speech = _speech_track(seconds) if with_audio else None
    with av.open(str(path), mode="w", format="mp4") as output:
        codec, options = _video_codec()
        video = output.add_stream(codec, rate=FPS, options=options)
        if not isinstance(video, av.VideoStream):  # pragma: no cover - both codecs are video
            raise TypeError(f"{codec} did not give a video stream")
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.codec_context.thread_count = 1
        audio = _AudioWriter(output, *speech) if speech is not None else None
        for index in range(frame_count):
            frame = av.VideoFrame.from_ndarray(_picture(index), format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, FPS)
            output.mux(video.encode(frame))
            if audio is not None:
                audio.write_until((index + 1) / FPS)
        output.mux(video.encode(None))
        if audio is not None:
            audio.finish()
    return path


def _video_codec() -> tuple[str, dict[str, str]]:
    """H.264 when the bundled FFmpeg has libx264, else MPEG-4 part 2.

    x264's assembly routines made the bytes differ from one run to the next in the same
    process (measured with PyAV 18.1); with `no-asm`, one thread, the output is identical.
    """
    if "libx264" in av.codecs_available:
        return "libx264", {"preset": "veryfast", "x264-params": "no-asm=1"}
    return "mpeg4", {}


def _picture(index: int) -> npt.NDArray[np.uint8]:
    """Frame `index`: a drifting gradient and a square that moves, rests, then darts."""
    t = index / FPS
    phase = t if t < 2.0 else 2.0 if t < 3.5 else 2.0 + (t - 3.5) * 3
    x = np.arange(WIDTH, dtype=np.float32)[None, :]
    y = np.arange(HEIGHT, dtype=np.float32)[:, None]
    picture = np.empty((HEIGHT, WIDTH, 3), dtype=np.float32)
    picture[..., 0] = 60 + 50 * np.sin(x / 40 + phase)
    picture[..., 1] = 90 + 40 * np.cos(y / 30 + phase / 2)
    picture[..., 2] = 140 + 0 * x + 0 * y
    size = 48
    left = int(abs((phase * 120) % (2 * (WIDTH - size)) - (WIDTH - size)))
    top = int(abs((phase * 70) % (2 * (HEIGHT - size)) - (HEIGHT - size)))
    picture[top : top + size, left : left + size] = (240, 200, 40)
    return np.clip(picture, 0, 255).astype(np.uint8)


def _speech_track(seconds: float) -> tuple[npt.NDArray[np.int16], int]:
    """eSpeak's speech, placed after a short lead-in and cut or padded to `seconds`."""
    speech = EspeakSynthesizer().synthesize(SCRIPT_SSML, _VOICE)
    with wave.open(io.BytesIO(speech.audio), "rb") as wav:
        rate = wav.getframerate()
        spoken = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    track = np.zeros(max(1, round(seconds * rate)), dtype=np.int16)
    start = min(len(track), round(SPEECH_START_SECONDS * rate))
    length = min(len(spoken), len(track) - start)
    track[start : start + length] = spoken[:length]
    return track, rate


class _AudioWriter:
    """Encodes the speech track in step with the picture, so the file is interleaved."""

    CHUNK = 1024

    def __init__(
        self, output: av.container.OutputContainer, samples: npt.NDArray[np.int16], rate: int
    ) -> None:
        self.output, self.samples, self.rate = output, samples, rate
        self.stream = output.add_stream("aac", rate=rate, layout="mono")
        self.position = 0

    def write_until(self, seconds: float) -> None:
        end = min(len(self.samples), round(seconds * self.rate))
        while self.position < end:
            chunk = self.samples[None, self.position : self.position + self.CHUNK]
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            frame.sample_rate = self.rate
            frame.pts = self.position
            frame.time_base = Fraction(1, self.rate)
            self.output.mux(self.stream.encode(frame))
            self.position += chunk.shape[1]

    def finish(self) -> None:
        self.write_until(len(self.samples) / self.rate)
        self.output.mux(self.stream.encode(None))


def whole_seconds(path: Path) -> int | None:
    """The video's length rounded up to whole seconds, as the app records it in
    `video_recordings.duration_seconds`; None when the file is not a readable video."""
    try:
        with av.open(str(path)) as container:
            if container.duration is None:
                return None
            return max(1, math.ceil(container.duration / av.time_base))
    except (av.FFmpegError, OSError):
        return None
