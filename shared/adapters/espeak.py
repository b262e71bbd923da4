"""Offline speech: eSpeak NG from the `espeakng-loader` wheel, driven through ctypes.

The wheel ships libespeak-ng and its voice data, so no system package is needed. The library
keeps global state (one voice, one callback), so every call runs under a module-level lock,
`max_concurrency` is 1, and the library is initialised lazily, once per process.

eSpeak's default voices add "flutter" (a slow pitch wobble) whose phase carries over from one
call to the next, so the same SSML would sound slightly different (and differ in length) on
every call. The adapter therefore speaks with a flutter-free voice variant by default
(`DEFAULT_VARIANT`): the same SSML and voice give byte-identical audio.
"""

from __future__ import annotations

import ctypes
import io
import threading
import wave
from dataclasses import dataclass, field

import espeakng_loader

from shared.domain import Speech, Voice
from shared.errors import PermanentError, TransientError

PROVIDER = "espeak-ng"
FALLBACK_VOICE = "en"
DEFAULT_VARIANT = "Storm"  # espeak-ng-data/voices/!v/Storm: a plain male voice, flutter 0

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 0x1
_SSML = 0x10
_POS_CHARACTER = 1
_EE_OK = 0

_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class _VoiceInfo(ctypes.Structure):
    """`espeak_VOICE`; `languages` is read by hand (priority byte + name, repeated)."""

    _fields_ = (
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    )


@dataclass
class _Engine:
    """The initialised library: sample rate, version, language → voice identifier."""

    lib: ctypes.CDLL
    sample_rate: int
    version: str
    voices: dict[str, str]
    chunks: list[bytes] = field(default_factory=list)
    callback: object = None


_lock = threading.Lock()
_engine: _Engine | None = None


def _declare(lib: ctypes.CDLL) -> None:
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_Info.argtypes = [ctypes.c_void_p]
    lib.espeak_Info.restype = ctypes.c_char_p
    lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
    lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_VoiceInfo))
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    lib.espeak_Synth.restype = ctypes.c_int


def _languages(address: int | None) -> list[tuple[int, str]]:
    """Decode an `espeak_VOICE.languages` list: (priority byte, NUL-terminated tag)*, then 0."""
    found: list[tuple[int, str]] = []
    if not address:
        return found
    while (priority := ctypes.c_ubyte.from_address(address).value) != 0:
        tag = ctypes.string_at(address + 1)
        found.append((priority, tag.decode("ascii", "replace").lower()))
        address += len(tag) + 2
    return found


def _voice_map(lib: ctypes.CDLL) -> dict[str, str]:
    """Language tag → identifier of the voice with the best (lowest) priority for it."""
    best: dict[str, tuple[int, str]] = {}
    voices = lib.espeak_ListVoices(None)
    index = 0
    while voices[index]:
        voice = voices[index].contents
        identifier = (voice.identifier or b"").decode("ascii", "replace")
        for priority, tag in _languages(voice.languages):
            if tag not in best or (priority, identifier) < best[tag]:
                best[tag] = (priority, identifier)
        index += 1
    return {tag: identifier for tag, (_, identifier) in best.items()}


def _load() -> _Engine:
    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    _declare(lib)
    data = espeakng_loader.get_data_path().encode()
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, _INITIALIZE_DONT_EXIT)
    if rate <= 0:
        raise TransientError(f"eSpeak NG failed to initialise ({rate})")
    version = (lib.espeak_Info(None) or b"unknown").decode("ascii", "replace")
    engine = _Engine(lib=lib, sample_rate=rate, version=version, voices=_voice_map(lib))

    def collect(wav: ctypes._Pointer[ctypes.c_short], count: int, _events: object) -> int:
        if count > 0 and wav:
            engine.chunks.append(ctypes.string_at(wav, count * 2))
        return 0

    engine.callback = _CALLBACK(collect)  # keep a reference: the library holds a raw pointer
    lib.espeak_SetSynthCallback(engine.callback)
    return engine


def _get_engine() -> _Engine:
    """The process's engine; call with `_lock` held."""
    global _engine  # noqa: PLW0603 - one library instance per process, by design
    if _engine is None:
        _engine = _load()
    return _engine


def voice_for_language(language: str, voices: dict[str, str]) -> str:
    """The eSpeak voice for a BCP 47 tag: "en-US" → en-us's voice, "fr-CA" → fr's, else "en"."""
    parts = language.strip().lower().replace("_", "-").split("-")
    while parts:
        tag = "-".join(parts)
        if tag in voices:
            return voices[tag]
        parts.pop()
    return voices.get(FALLBACK_VOICE, FALLBACK_VOICE)


def wav_bytes(pcm: bytes, sample_rate: int) -> bytes:
    """16-bit mono PCM as a WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm)
    return buffer.getvalue()


class EspeakSynthesizer:
    """The `SpeechSynthesizer` port on eSpeak NG (WAV, 16-bit mono).

    `variant` names a file of espeak-ng-data/voices/!v; None speaks the language's plain voice.
    """

    max_concurrency = 1

    def __init__(self, variant: str | None = DEFAULT_VARIANT) -> None:
        self.variant = variant

    def synthesize(self, ssml: str, voice: Voice) -> Speech:
        if not ssml.strip():
            raise PermanentError("SSML is blank")
        try:
            text = ssml.encode("utf-8") + b"\0"
        except UnicodeEncodeError as exc:
            raise PermanentError("SSML is not valid UTF-8 text") from exc
        with _lock:
            engine = _get_engine()
            pcm = self._speak(engine, text, self._voice_name(engine, voice))
        samples = len(pcm) // 2
        if samples == 0:
            raise PermanentError("eSpeak NG produced no audio for this SSML")
        return Speech(
            audio=wav_bytes(pcm, engine.sample_rate),
            format="wav",
            content_type="audio/wav",
            duration_ms=round(samples * 1000 / engine.sample_rate),
            provider=PROVIDER,
            version=engine.version,
        )

    def _voice_name(self, engine: _Engine, voice: Voice) -> str:
        name = voice_for_language(voice.language, engine.voices)
        return f"{name}+{self.variant}" if self.variant else name

    @staticmethod
    def _speak(engine: _Engine, text: bytes, name: str) -> bytes:
        # Set on every call: an SSML document may have switched the library's voice.
        if engine.lib.espeak_SetVoiceByName(name.encode()) != _EE_OK:
            raise PermanentError(f"eSpeak NG has no voice {name!r}")
        engine.chunks.clear()
        try:
            flags = _CHARS_UTF8 | _SSML
            status = engine.lib.espeak_Synth(
                text, len(text), 0, _POS_CHARACTER, 0, flags, None, None
            )
            if status != _EE_OK:
                raise TransientError(f"eSpeak NG synthesis failed ({status})")
            return b"".join(engine.chunks)
        finally:
            engine.chunks.clear()
