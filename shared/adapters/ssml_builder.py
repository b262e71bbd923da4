"""The deterministic SSML writer, and the allowlist every SSML document must pass.

The builder never interprets a message as markup: it strips characters XML cannot carry,
normalises whitespace, escapes everything else (so `</speak>`, `<!DOCTYPE`, `&amp;` and
`]]>` are spoken as the text they are) and splits the text at sentence boundaries, then at
word boundaries, then inside a giant token, so every segment's whole document fits the TTS
input limit. Style presets (Voice.style) set the prosody and the pause between sentences.

`check_ssml` is the gate for SSML written by someone else (Gemini): it parses with defusedxml
(no DTD, no entities, no external references) and accepts only the tags, attributes and
attribute values listed here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from xml.etree.ElementTree import ParseError
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeElementTree

from shared.domain import TTS_INPUT_LIMIT_BYTES, SsmlScript, SsmlSegment, Voice
from shared.errors import BlankMessage, PermanentError

PROVIDER = "builder"
VERSION = "builder-1"

SSML_NAMESPACE = "http://www.w3.org/2001/10/synthesis"
_XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"

# Tag → the attributes it may carry. The builder emits speak, prosody, s and break.
SSML_ALLOWED_ATTRIBUTES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "speak": frozenset({"version", "xml:lang"}),
        "p": frozenset(),
        "s": frozenset(),
        "break": frozenset({"time", "strength"}),
        "prosody": frozenset({"rate", "pitch", "volume"}),
        "emphasis": frozenset({"level"}),
        "say-as": frozenset({"interpret-as", "format", "detail"}),
        "sub": frozenset({"alias"}),
    }
)
SSML_ALLOWED_TAGS = frozenset(SSML_ALLOWED_ATTRIBUTES)
SSML_BUILDER_TAGS = frozenset({"speak", "prosody", "s", "break"})

_SAY_AS = "cardinal|ordinal|characters|spell-out|fraction|unit|verbatim|date|time|telephone"
# Attribute name → the full-match pattern its value must have (others: short plain text).
SSML_ATTRIBUTE_VALUES: Mapping[str, re.Pattern[str]] = MappingProxyType(
    {
        "time": re.compile(r"\d{1,4}ms|\d(?:\.\d{1,3})?s|10s"),
        "strength": re.compile(r"none|x-weak|weak|medium|strong|x-strong"),
        "rate": re.compile(r"x-slow|slow|medium|fast|x-fast|default|\d{1,3}(?:\.\d+)?%"),
        "pitch": re.compile(r"x-low|low|medium|high|x-high|default|[+-]\d{1,2}(?:\.\d+)?(?:st|%)"),
        "volume": re.compile(
            r"silent|x-soft|soft|medium|loud|x-loud|default|[+-]\d{1,2}(\.\d+)?dB"
        ),
        "level": re.compile(r"strong|moderate|none|reduced"),
        "interpret-as": re.compile(_SAY_AS),
        "version": re.compile(r"1\.[01]"),
        "xml:lang": re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*"),
    }
)
_MAX_PLAIN_VALUE = 100


@dataclass(frozen=True)
class StylePreset:
    rate: str
    pitch: str
    sentence_break_ms: int


DEFAULT_STYLE = "coach"
STYLE_PRESETS: Mapping[str, StylePreset] = MappingProxyType(
    {
        "coach": StylePreset(rate="100%", pitch="+1st", sentence_break_ms=350),
        "calm": StylePreset(rate="90%", pitch="-2st", sentence_break_ms=600),
        "energetic": StylePreset(rate="110%", pitch="+3st", sentence_break_ms=250),
    }
)

# XML 1.0 cannot carry these at all; C1 controls are legal but never meant to be spoken.
_ILLEGAL = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ENDS = (
    ".!?\u2026\u3002\uff01\uff1f"  # . ! ? and the ellipsis, the CJK full stop, full-width ! and ?
)
_CLOSERS = "\"')\\]\u201d\u2019\u300d\u300f"  # quotes and brackets that may follow the end
_SENTENCE_END = re.compile(
    f"(?:(?<=[{_ENDS}])|(?<=[{_ENDS}][{_CLOSERS}]))\\s+"  # a sentence end, then a space
    "|(?<=[\u3002\uff01\uff1f])(?=[^\\s{_CLOSERS}])"  # CJK text runs on without a space
)
_ENTITIES = {'"': "&quot;", "'": "&apos;"}


def clean_text(text: str) -> str:
    """Drop characters XML cannot carry and collapse every run of whitespace to one space."""
    return " ".join(_ILLEGAL.sub("", " ".join(text.split())).split())


def escape_text(text: str) -> str:
    """Escape for SSML text and attribute values: & < > " '."""
    return escape(text, _ENTITIES)


def escaped_size(text: str) -> int:
    """Bytes of `text` once escaped and encoded as UTF-8 (escaping is per character)."""
    return len(escape_text(text).encode("utf-8"))


def split_sentences(text: str) -> list[str]:
    """Split cleaned text after sentence-ending punctuation (and any closing quote)."""
    return [part for part in _SENTENCE_END.split(text) if part]


def segment_text(text: str, budget_bytes: int, *, piece_overhead_bytes: int = 0) -> list[list[str]]:
    """Group cleaned text into segments of pieces (whole sentences where they fit).

    Within each segment, the pieces' escaped sizes plus `piece_overhead_bytes` each add up to
    at most `budget_bytes`. A sentence too big alone is split at spaces; a word too big alone
    is split between characters (never inside a UTF-8 character or an escape, and not
    before a combining mark when that can be helped).
    """
    piece_budget = budget_bytes - piece_overhead_bytes
    if piece_budget < max(escaped_size("'"), 4):
        raise ValueError("budget too small to hold one character")
    segments: list[list[str]] = []
    current: list[str] = []
    used = 0
    for piece in _pieces(text, piece_budget):
        cost = escaped_size(piece) + piece_overhead_bytes
        if current and used + cost > budget_bytes:
            segments.append(current)
            current, used = [], 0
        current.append(piece)
        used += cost
    if current:
        segments.append(current)
    return segments


def _pieces(text: str, budget: int) -> list[str]:
    pieces: list[str] = []
    for sentence in split_sentences(text):
        if escaped_size(sentence) <= budget:
            pieces.append(sentence)
        else:
            pieces.extend(_split_words(sentence, budget))
    return pieces


def _split_words(sentence: str, budget: int) -> list[str]:
    chunks: list[str] = []
    current = ""
    for word in sentence.split(" "):
        parts = [word] if escaped_size(word) <= budget else _hard_split(word, budget)
        for part in parts:
            joined = f"{current} {part}" if current else part
            if escaped_size(joined) <= budget:
                current = joined
            else:
                chunks.append(current)
                current = part
    if current:
        chunks.append(current)
    return chunks


def _hard_split(word: str, budget: int) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for char in word:
        cost = escaped_size(char)
        if current and size + cost > budget:
            keep = _cut_before_cluster(current, char, budget - cost)
            pieces.append("".join(current[:keep]))
            current = current[keep:]
            size = sum(escaped_size(kept) for kept in current)
        current.append(char)
        size += cost
    if current:
        pieces.append("".join(current))
    return pieces


def _cut_before_cluster(current: list[str], char: str, room: int) -> int:
    """Where to cut `current` so a combining `char` stays with its base character."""
    if not unicodedata.combining(char):
        return len(current)
    for index in range(len(current) - 1, 0, -1):
        if not unicodedata.combining(current[index]):
            carried = sum(escaped_size(kept) for kept in current[index:])
            return index if carried <= room else len(current)
    return len(current)


def preset_for(style: str) -> tuple[str, StylePreset]:
    """The style preset's name and values; an unknown style gets the coach preset."""
    name = style.strip().lower()
    if name not in STYLE_PRESETS:
        name = DEFAULT_STYLE
    return name, STYLE_PRESETS[name]


class SsmlBuilder:
    """The `SsmlWriter` port, deterministic: same message and voice, same SSML."""

    def write(self, message: str, *, category: str, voice: Voice) -> SsmlScript:
        text = clean_text(message)
        if not text:
            raise BlankMessage("the message is blank once cleaned")
        style, preset = preset_for(voice.style)
        head = f'<speak><prosody rate="{preset.rate}" pitch="{preset.pitch}">'
        tail = "</prosody></speak>"
        pause = f'<break time="{preset.sentence_break_ms}ms"/>'
        # Every piece is charged its <s></s> and one pause: the last pause is slack.
        budget = TTS_INPUT_LIMIT_BYTES - len(head) - len(tail)
        groups = segment_text(text, budget, piece_overhead_bytes=len("<s></s>") + len(pause))
        segments: list[SsmlSegment] = []
        for index, pieces in enumerate(groups):
            body = pause.join(f"<s>{escape_text(piece)}</s>" for piece in pieces)
            ssml = head + body + tail
            if len(ssml.encode("utf-8")) > TTS_INPUT_LIMIT_BYTES:  # pragma: no cover - guard
                raise PermanentError("SSML segment exceeds the TTS input limit")
            segments.append(SsmlSegment(index=index, ssml=ssml))
        known = voice.style.strip().lower() in STYLE_PRESETS
        notes = (f"style={style}" if known else f"style={style} (unknown {voice.style!r})",)
        return SsmlScript(segments=tuple(segments), provider=PROVIDER, version=VERSION, notes=notes)


def _local_name(name: str) -> str | None:
    """`{ns}local` → local name when ns is SSML's (or xml: for attributes); else None."""
    if not name.startswith("{"):
        return name
    namespace, _, local = name[1:].partition("}")
    if namespace == SSML_NAMESPACE:
        return local
    if namespace == _XML_NAMESPACE:
        return f"xml:{local}"
    return None


def _attribute_problems(tag: str, attributes: Mapping[str, str]) -> list[str]:
    found: list[str] = []
    allowed = SSML_ALLOWED_ATTRIBUTES[tag]
    for raw_name, value in attributes.items():
        name = _local_name(raw_name)
        if name is None or name not in allowed:
            found.append(f"attribute {raw_name!r} is not allowed on <{tag}>")
            continue
        pattern = SSML_ATTRIBUTE_VALUES.get(name)
        plain_ok = len(value) <= _MAX_PLAIN_VALUE and not _ILLEGAL.search(value)
        if (pattern and not pattern.fullmatch(value)) or (not pattern and not plain_ok):
            found.append(f"attribute {name}={value!r} on <{tag}> has a value not allowed")
    return found


def check_ssml(ssml: str) -> list[str]:
    """Why this SSML may not be sent to TTS (empty when it is acceptable)."""
    try:
        size = len(ssml.encode("utf-8"))
    except UnicodeEncodeError:
        return ["SSML is not encodable as UTF-8"]
    if size > TTS_INPUT_LIMIT_BYTES:
        return [f"SSML is {size} bytes, over the {TTS_INPUT_LIMIT_BYTES}-byte limit"]
    try:
        root = SafeElementTree.fromstring(
            ssml, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except (ParseError, DefusedXmlException) as exc:
        return [f"SSML does not parse safely: {type(exc).__name__}: {exc}"]
    found: list[str] = []
    if _local_name(root.tag) != "speak":
        found.append(f"root element is <{root.tag}>, not <speak>")
    for element in root.iter():
        tag = _local_name(element.tag)
        if tag is None or tag not in SSML_ALLOWED_TAGS:
            found.append(f"element <{element.tag}> is not allowed")
            continue
        found.extend(_attribute_problems(tag, element.attrib))
    if not "".join(root.itertext()).strip():
        found.append("SSML has no text to speak")
    return found
