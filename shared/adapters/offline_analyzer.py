"""The offline analyzer: deterministic coaching feedback from the video's own signal (PyAV).

One pass over the container, packet by packet (the video is never read whole): audio is
resampled to 16 kHz mono and measured as RMS loudness per 100 ms window; video frames are
sampled a few times a second, shrunk to 64x48 grayscale and compared with the previous
sample (motion = mean absolute difference). From those measurements come 3-8 feedback items
about pacing, volume, pauses, movement and framing, each naming what was measured.

Same bytes in, same items out: there is no randomness, and every number is derived from the
decoded samples alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

import av
import numpy as np
import numpy.typing as npt

from shared.domain import Analysis, FeedbackItem, Voice
from shared.errors import UndecodableVideo

PROVIDER = "offline-pyav"
MODEL = "signal-1"

WINDOW_SECONDS = 0.1
AUDIO_RATE = 16_000
MOTION_FPS = 4.0
THUMB_WIDTH, THUMB_HEIGHT = 64, 48


@dataclass
class AudioMeter:
    """Loudness (RMS dBFS) of consecutive 100 ms windows of the first audio stream."""

    start_seconds: float | None = None
    levels_dbfs: list[float] = field(default_factory=list)
    _pending: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, np.float32))
    _resampler: av.AudioResampler = field(
        default_factory=lambda: av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
    )

    def add(self, frame: av.AudioFrame | None) -> None:
        if frame is not None and self.start_seconds is None:
            self.start_seconds = max(0.0, float(frame.time or 0.0))
        for out in self._resampler.resample(frame):
            samples = out.to_ndarray().reshape(-1).astype(np.float32)
            self._pending = np.concatenate([self._pending, samples])
        size = round(WINDOW_SECONDS * AUDIO_RATE)
        whole = len(self._pending) // size
        if whole:
            windows = self._pending[: whole * size].reshape(whole, size).astype(np.float64)
            self.levels_dbfs.extend(_dbfs(windows).tolist())
            self._pending = self._pending[whole * size :]

    def finish(self) -> None:
        self.add(None)
        size = round(WINDOW_SECONDS * AUDIO_RATE)
        if len(self._pending) >= size // 2:
            self.levels_dbfs.extend(_dbfs(self._pending[None, :].astype(np.float64)).tolist())
        self._pending = np.zeros(0, np.float32)


def _dbfs(windows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    rms = np.sqrt(np.mean(np.square(windows), axis=1))
    levels: npt.NDArray[np.float64] = np.round(20 * np.log10(np.maximum(rms, 1e-5)), 3)
    return levels


@dataclass
class MotionMeter:
    """Motion, brightness and contrast of frames sampled at MOTION_FPS."""

    times: list[float] = field(default_factory=list)
    motion: list[float] = field(default_factory=list)  # vs the previous sample, 0..1
    brightness: list[float] = field(default_factory=list)
    contrast: list[float] = field(default_factory=list)
    column_activity: npt.NDArray[np.float64] = field(
        default_factory=lambda: np.zeros(THUMB_WIDTH, np.float64)
    )
    _previous: npt.NDArray[np.float64] | None = None
    _next_time: float = 0.0
    _frames_seen: int = 0

    def add(self, frame: av.VideoFrame, fallback_fps: float) -> None:
        self._frames_seen += 1
        time = frame.time if frame.time is not None else (self._frames_seen - 1) / fallback_fps
        if time + 1e-6 < self._next_time:
            return
        self._next_time = time + 1 / MOTION_FPS
        thumb = frame.reformat(width=THUMB_WIDTH, height=THUMB_HEIGHT, format="gray")
        gray = thumb.to_ndarray()[:THUMB_HEIGHT, :THUMB_WIDTH].astype(np.float64) / 255
        self.times.append(max(0.0, float(time)))
        self.brightness.append(float(np.mean(gray)))
        self.contrast.append(float(np.std(gray)))
        if self._previous is not None:
            difference = np.abs(gray - self._previous)
            self.motion.append(float(np.mean(difference)))
            self.column_activity += difference.sum(axis=0)
        self._previous = gray


def _decode(container: av.container.InputContainer) -> tuple[AudioMeter, MotionMeter]:
    audio_stream = container.streams.audio[0] if container.streams.audio else None
    video_stream = container.streams.video[0] if container.streams.video else None
    if audio_stream is None and video_stream is None:
        raise UndecodableVideo("the file has neither an audio nor a video stream")
    fallback_fps = float(video_stream.average_rate or 25) if video_stream else 25.0
    if video_stream is not None:
        video_stream.thread_type = "AUTO"
    audio, motion = AudioMeter(), MotionMeter()
    streams = [stream for stream in (audio_stream, video_stream) if stream is not None]
    for packet in container.demux(streams):
        try:
            frames = packet.decode()
        except av.error.InvalidDataError:
            continue  # one damaged packet: keep measuring the rest
        for frame in frames:
            if isinstance(frame, av.AudioFrame):
                audio.add(frame)
            elif isinstance(frame, av.VideoFrame):
                motion.add(frame, fallback_fps)
    audio.finish()
    return audio, motion


def _duration(
    container: av.container.InputContainer, audio: AudioMeter, motion: MotionMeter
) -> float:
    measured = max(
        (audio.start_seconds or 0.0) + len(audio.levels_dbfs) * WINDOW_SECONDS,
        motion.times[-1] + 1 / MOTION_FPS if motion.times else 0.0,
    )
    if container.duration is not None and container.duration > 0:
        return round(container.duration / 1_000_000, 3)
    return round(measured, 3)


# -- from measurements to feedback -------------------------------------------------------------

SILENCE_FLOOR_DBFS = -50.0  # quieter than this is silence, whatever the recording's level
SPEECH_BELOW_PEAK_DB = 25.0  # speech: within 25 dB of the loud end (95th percentile)
MIN_PAUSE_SECONDS = 0.6
ACTIVE_MOTION = 0.02  # mean pixel change between samples that counts as visible movement
STILL_MOTION = 0.004
MIN_STILL_SECONDS = 1.0
MAX_ITEMS = 8


@dataclass(frozen=True)
class Signal:
    """What was measured, in plain numbers (levels per window, one value per video sample)."""

    duration_seconds: float
    audio_start_seconds: float
    levels_dbfs: tuple[float, ...]
    sample_times: tuple[float, ...]
    motion: tuple[float, ...]  # motion[i] is between sample i and i + 1
    brightness: tuple[float, ...]
    contrast: tuple[float, ...]
    column_activity: tuple[float, ...]

    def window_time(self, index: int) -> float:
        return self.audio_start_seconds + index * WINDOW_SECONDS


def clock(seconds: float) -> str:
    """0:07, 1:02:03."""
    whole = int(max(0.0, seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class _Notes:
    """Collects the items of one kind of measurement (audio or video), with its confidence."""

    def __init__(self, signal: Signal, measured_seconds: float) -> None:
        self.signal = signal
        self.confidence = round(min(0.95, 0.55 + measured_seconds / 120), 2)
        self.items: list[FeedbackItem] = []

    def add(self, at: float, category: str, impact: float, message: str) -> None:
        at = math.floor(min(max(at, 0.0), self.signal.duration_seconds) * 100) / 100
        impact = round(min(impact, 1.0), 2)
        self.items.append(FeedbackItem(at, category, message, self.confidence, impact))


def _runs(mask: Sequence[bool], value: bool) -> list[tuple[int, int]]:
    """[start, end) index ranges where mask == value."""
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for index, flag in enumerate([*mask, not value]):
        if flag == value and start is None:
            start = index
        elif flag != value and start is not None:
            runs.append((start, index))
            start = None
    return runs


def _audio_items(signal: Signal) -> list[FeedbackItem]:
    levels = np.array(signal.levels_dbfs)
    threshold = max(SILENCE_FLOOR_DBFS, float(np.percentile(levels, 95)) - SPEECH_BELOW_PEAK_DB)
    speaking = levels > threshold
    notes = _Notes(signal, len(levels) * WINDOW_SECONDS)
    span = clock(len(levels) * WINDOW_SECONDS)
    if not speaking.any():
        loudest = f"{float(levels.max()):.0f} dBFS"
        notes.add(0, "pacing", 0.9, f"No speech was heard in {span} of audio — is the mic on?")
        notes.add(0, "volume", 0.95, f"The sound never rose above {loudest} — speak up.")
        notes.add(0, "pauses", 0.5, "The sound track is silent, so there are no pauses to judge.")
        return notes.items
    _pacing(notes, speaking, span)
    _volume(notes, levels, speaking)
    _pauses(notes, speaking)
    return notes.items


def _pacing(notes: _Notes, speaking: npt.NDArray[np.bool_], span: str) -> None:
    ratio = float(speaking.mean())
    if ratio < 0.5:
        advice, impact = "tighten the gaps so your points land closer together.", 0.6
    elif ratio > 0.85:
        advice, impact = "leave short pauses so each point can land.", 0.55
    else:
        advice, impact = "a comfortable balance of talk and breathing room.", 0.3
    notes.add(0, "pacing", impact, f"You were speaking for {ratio:.0%} of {span} — {advice}")
    lead = int(np.argmax(speaking)) * WINDOW_SECONDS
    if lead >= 1.0:
        message = (
            f"You started speaking after {lead:.1f} seconds — start right away to hook the viewer."
        )
        notes.add(0, "pacing", 0.5, message)


def _volume(
    notes: _Notes, levels: npt.NDArray[np.float64], speaking: npt.NDArray[np.bool_]
) -> None:
    average = float(levels[speaking].mean())
    if average < -30:
        advice, impact = "project a little more so you are easy to hear.", 0.7
    elif average > -12:
        advice, impact = "ease off a little; peaks this loud can distort.", 0.6
    else:
        advice, impact = "a clear, steady level.", 0.3
    first = notes.signal.window_time(int(np.argmax(speaking)))
    notes.add(first, "volume", impact, f"Your voice averaged {average:.0f} dBFS — {advice}")
    per_second = round(1 / WINDOW_SECONDS)
    quietest: tuple[float, int] | None = None
    for start in range(0, len(levels) - per_second + 1, per_second):
        block = levels[start : start + per_second][speaking[start : start + per_second]]
        if len(block) >= per_second // 2 and (quietest is None or block.mean() < quietest[0]):
            quietest = (float(block.mean()), start)
    if quietest is not None and average - quietest[0] >= 6:
        at, drop = notes.signal.window_time(quietest[1]), average - quietest[0]
        message = (
            f"Your voice dropped to {quietest[0]:.0f} dBFS at {clock(at)}, {drop:.0f} dB below "
            "your average — keep your volume up to the end of each sentence."
        )
        notes.add(at, "volume", 0.3 + drop / 30, message)


def _pauses(notes: _Notes, speaking: npt.NDArray[np.bool_]) -> None:
    shortest = round(MIN_PAUSE_SECONDS / WINDOW_SECONDS)
    pauses = [
        (end - start, start)
        for start, end in _runs(speaking.tolist(), False)
        if start > 0 and end < len(speaking) and end - start >= shortest
    ]
    if not pauses:
        message = f"You never paused for {MIN_PAUSE_SECONDS:.1f} seconds — take a breath between"
        notes.add(0, "pauses", 0.45, message + " points so they sink in.")
    for windows, start in sorted(pauses, key=lambda pause: (-pause[0], pause[1]))[:2]:
        seconds, at = windows * WINDOW_SECONDS, notes.signal.window_time(start)
        advice = (
            "a gap that long can lose the viewer — keep the energy going."
            if seconds >= 2.5
            else "a deliberate pause like this lets the point land."
        )
        message = f"You paused for {seconds:.1f} seconds at {clock(at)} — {advice}"
        notes.add(at, "pauses", 0.3 + seconds / 5, message)


def _video_items(signal: Signal) -> list[FeedbackItem]:
    notes = _Notes(signal, len(signal.sample_times) / MOTION_FPS)
    _movement(notes)
    brightness = float(np.mean(signal.brightness))
    if brightness < 0.25:
        advice, impact = "add light in front of you so your face is visible.", 0.7
    elif brightness > 0.8:
        advice, impact = "the picture is washed out; reduce the light on or behind you.", 0.6
    else:
        advice, impact = "the lighting works.", 0.2
    notes.add(0, "framing", impact, f"The picture's brightness is {brightness:.0%} — {advice}")
    contrast = float(np.mean(signal.contrast))
    if contrast < 0.08:
        advice, impact = "a plainer background or more light would make you stand out.", 0.5
    else:
        advice, impact = "you stand out from the background.", 0.2
    notes.add(0, "framing", impact, f"The picture's contrast is {contrast:.0%} — {advice}")
    return notes.items


def _movement(notes: _Notes) -> None:
    signal = notes.signal
    if not signal.motion:
        notes.add(0, "movement", 0.3, "Only one frame could be measured, so movement is unknown.")
        return
    peak_index = int(np.argmax(signal.motion))
    peak, at = signal.motion[peak_index], signal.sample_times[peak_index + 1]
    if peak < ACTIVE_MOTION:
        message = (
            f"Movement stayed small (at most {peak:.1%} pixel change) — add a gesture now and then."
        )
        notes.add(0, "movement", 0.5, message)
        return
    message = f"The picture changed most at {clock(at)} ({peak:.1%} average pixel change)"
    notes.add(at, "movement", 0.4, message + " — make big movements deliberate.")
    still = _runs([value < STILL_MOTION for value in signal.motion], True)
    if still:
        start, end = max(still, key=lambda run: (run[1] - run[0], -run[0]))
        begin, finish = signal.sample_times[start], signal.sample_times[end]
        if finish - begin >= MIN_STILL_SECONDS:
            message = f"You held still from {clock(begin)} to {clock(finish)} "
            message += f"({finish - begin:.1f} seconds) — a small gesture could add emphasis."
            notes.add(begin, "movement", 0.3 + (finish - begin) / 10, message)
    _centre(notes, at)


def _centre(notes: _Notes, at: float) -> None:
    activity = np.array(notes.signal.column_activity)
    centre = float((activity * np.arange(len(activity))).sum() / activity.sum())
    centre /= len(activity) - 1
    if 0.35 <= centre <= 0.65:
        message = f"Most movement is near the middle of the frame ({centre:.0%} across)"
        notes.add(at, "framing", 0.2, message + " — good framing.")
    else:
        side = "left" if centre < 0.35 else "right"
        message = f"Most movement is on the {side} side of the frame ({centre:.0%} across)"
        notes.add(at, "framing", 0.6, message + " — centre yourself in the shot.")


def feedback_items(signal: Signal) -> tuple[FeedbackItem, ...]:
    """3-8 items: the most important are chosen, then ordered by time."""
    items: list[FeedbackItem] = []
    if signal.levels_dbfs:
        items += _audio_items(signal)
    if signal.sample_times:
        items += _video_items(signal)
    chosen = sorted(items, key=lambda item: (-item.impact, item.timestamp_seconds, item.message))
    return tuple(sorted(chosen[:MAX_ITEMS], key=lambda i: (i.timestamp_seconds, i.category)))


class OfflineAnalyzer:
    """The `Analyzer` port on PyAV: no network, no model, the same items for the same file."""

    def analyze(self, video: BinaryIO, *, size: int, content_type: str, voice: Voice) -> Analysis:
        try:
            with av.open(video, mode="r") as container:
                audio, motion = _decode(container)
                duration = _duration(container, audio, motion)
        except av.error.FFmpegError as exc:
            raise UndecodableVideo(f"the file cannot be decoded ({exc.strerror})") from exc
        if not audio.levels_dbfs and not motion.times:
            raise UndecodableVideo("no audio or video could be decoded")
        signal = Signal(
            duration_seconds=duration,
            audio_start_seconds=audio.start_seconds or 0.0,
            levels_dbfs=tuple(audio.levels_dbfs),
            sample_times=tuple(motion.times),
            motion=tuple(motion.motion),
            brightness=tuple(motion.brightness),
            contrast=tuple(motion.contrast),
            column_activity=tuple(float(value) for value in motion.column_activity),
        )
        items = feedback_items(signal)
        return Analysis(duration_seconds=duration, items=items, provider=PROVIDER, model=MODEL)
