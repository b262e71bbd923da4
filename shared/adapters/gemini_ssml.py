"""The `SsmlWriter` port on Gemini, guarded, with the deterministic builder as its fallback.

Gemini is asked, in a coach's voice, to mark up the message with SSML. Its answer is used only
when every check passes:
1. it parses safely with defusedxml (no DTD, no entities, no external references);
2. it says exactly the message's words, in order (normalised: NFKC, case-folded, punctuation
   and markup ignored), so the model cannot add, drop or change what the user reads;
3. once split into `<speak>` segments at top-level sentence/element boundaries, every segment
   fits `TTS_INPUT_LIMIT_BYTES` and passes `ssml_builder.check_ssml`'s tag/attribute
   allowlist.
Otherwise, and whenever the Gemini call fails (API error, timeout, empty answer: logged), the
fallback writer's script is returned with the rejection recorded: `provider` becomes e.g.
`builder (gemini rejected: words-changed)` (stored on every segment row) and `notes` carry the
detailed reason. A Gemini failure never fails the item.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from xml.etree import ElementTree
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeElementTree
from google import genai
from google.genai import types

from shared.adapters.ssml_builder import (
    SSML_NAMESPACE,
    check_ssml,
    clean_text,
    escape_text,
    split_sentences,
)
from shared.domain import TTS_INPUT_LIMIT_BYTES, SsmlScript, SsmlSegment, Voice
from shared.errors import RejectedSsml, describe
from shared.ports import SsmlWriter

log = logging.getLogger(__name__)

PROVIDER = "gemini"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")
_DECLARATION = re.compile(r"^<\?xml[^>]*\?>\s*")
_WORD = re.compile(r"\w+")

PROMPT = """\
You are a warm, encouraging coach speaking to the person you are coaching, in a {style} style.
Mark up the feedback below with SSML for Google Cloud Text-to-Speech (language {language}) so
it sounds natural when spoken: short pauses between sentences, emphasis on the key action.
Rules:
- keep exactly the words of the feedback, in the same order; add, drop or change no word;
- use only <speak>, <p>, <s>, <break time="...">, <emphasis level="...">,
  <prosody rate="..." pitch="..." volume="...">; <speak> is the root, with no namespace;
- escape &, < and > in the text; no XML declaration, no DOCTYPE, no comments, no code fences;
- answer with the SSML document only.
The feedback is about: {category}
Feedback:
{message}
"""


def spoken_words(text: str) -> list[str]:
    """The normalised word sequence used to compare the message with Gemini's SSML."""
    normal = unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'")
    return _WORD.findall(normal)


class GeminiSsmlWriter:
    """SSML from Gemini when it is safe and faithful; the fallback writer's otherwise."""

    def __init__(
        self,
        client: genai.Client,
        model: str,
        fallback: SsmlWriter,
        *,
        max_output_tokens: int = 8192,
    ) -> None:
        self._client = client
        self._model = model
        self._fallback = fallback
        self._max_output_tokens = max_output_tokens

    def write(self, message: str, *, category: str, voice: Voice) -> SsmlScript:
        if not clean_text(message):
            return self._fallback.write(message, category=category, voice=voice)
        try:
            answer = self._ask(message, category=category, voice=voice)
            segments = accept_ssml(answer, message)
        except RejectedSsml as rejected:
            return self._fall_back(message, category, voice, rejected)
        except Exception as exc:  # any Gemini failure: the item still gets SSML
            log.warning(
                "gemini ssml call failed; using the fallback", extra={"error": describe(exc)}
            )
            return self._fall_back(
                message, category, voice, RejectedSsml("api-error", describe(exc))
            )
        return SsmlScript(
            segments=tuple(SsmlSegment(index=i, ssml=ssml) for i, ssml in enumerate(segments)),
            provider=PROVIDER,
            version=self._model,
            notes=(f"gemini ssml accepted ({len(segments)} segments)",),
        )

    def _ask(self, message: str, *, category: str, voice: Voice) -> str:
        prompt = PROMPT.format(
            style=voice.style or "coach",
            language=voice.language,
            category=category or "general",
            message=message,
        )
        response = self._client.models.generate_content(
            model=self._model,
            contents=prompt,
            config=types.GenerateContentConfig(
                temperature=0.3, max_output_tokens=self._max_output_tokens
            ),
        )
        return response.text or ""

    def _fall_back(
        self, message: str, category: str, voice: Voice, rejected: RejectedSsml
    ) -> SsmlScript:
        log.info(
            "gemini ssml rejected; using the fallback",
            extra={"reason": rejected.code, "detail": rejected.detail[:500]},
        )
        script = self._fallback.write(message, category=category, voice=voice)
        return SsmlScript(
            segments=script.segments,
            provider=f"{script.provider} (gemini rejected: {rejected.code})",
            version=script.version,
            notes=(*script.notes, f"gemini rejected: {rejected.detail[:1000]}"),
        )


def accept_ssml(answer: str, message: str) -> list[str]:
    """Gemini's SSML as TTS-sized segments, or `RejectedSsml` naming the first failed check."""
    text = _DECLARATION.sub("", _FENCE.sub("", answer.strip())).strip()
    if not text:
        raise RejectedSsml("empty", "Gemini returned no SSML")
    try:
        root = SafeElementTree.fromstring(
            text, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as exc:  # a DTD, an entity, an external reference
        raise RejectedSsml("unsafe-xml", f"{type(exc).__name__}: {exc}") from exc
    except ParseError as exc:
        raise RejectedSsml("invalid-xml", f"ParseError: {exc}") from exc
    if spoken_words("".join(root.itertext())) != spoken_words(message):
        raise RejectedSsml("words-changed", "the SSML does not say exactly the message's words")
    segments = split_ssml(root)
    for segment in segments:
        problems = check_ssml(segment)
        if problems:
            raise RejectedSsml("not-allowlisted", "; ".join(problems))
    return segments


def split_ssml(root: Element) -> list[str]:
    """Re-serialise a parsed `<speak>` as segments that each fit the TTS input limit.

    Top-level text is split at sentence ends and top-level elements are kept whole; a unit
    too large for one segment alone is a rejection.
    """
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.startswith(f"{{{SSML_NAMESPACE}}}"):
            element.tag = element.tag.split("}", 1)[1]
    head, tail = _wrapper(root), "</speak>"
    budget = TTS_INPUT_LIMIT_BYTES - len(head.encode("utf-8")) - len(tail)
    groups: list[list[str]] = []
    used = budget + 1
    for unit in _units(root):
        size = len(unit.encode("utf-8"))
        if size > budget:
            raise RejectedSsml("too-long", f"a {size}-byte part does not fit one TTS request")
        if used + size > budget:
            groups.append([])
            used = 0
        groups[-1].append(unit)
        used += size
    if not groups:
        raise RejectedSsml("empty", "the SSML has nothing to say")
    return [head + "".join(group) + tail for group in groups]


def _wrapper(root: Element) -> str:
    if root.tag != "speak":
        raise RejectedSsml("not-allowlisted", f"root element is <{root.tag}>, not <speak>")
    attributes = []
    for name, value in root.attrib.items():
        if name.startswith("{") and name != _XML_LANG:
            raise RejectedSsml("not-allowlisted", f"attribute {name!r} is not allowed on <speak>")
        shown = "xml:lang" if name == _XML_LANG else name
        attributes.append(f' {shown}="{escape_text(value)}"')
    return f"<speak{''.join(attributes)}>"


def _units(root: Element) -> list[str]:
    units = _text_units(root.text)
    for child in root:
        tail, child.tail = child.tail, None
        units.append(ElementTree.tostring(child, encoding="unicode"))
        units.extend(_text_units(tail))
    return units


def _text_units(text: str | None) -> list[str]:
    if not text or not text.strip():
        return [" "] if text else []
    return [escape_text(sentence) + " " for sentence in split_sentences(clean_text(text))]
