from __future__ import annotations

import unicodedata

import pytest
from defusedxml import ElementTree as SafeElementTree

from shared.adapters.ssml_builder import (
    SSML_ALLOWED_TAGS,
    SSML_BUILDER_TAGS,
    SSML_NAMESPACE,
    STYLE_PRESETS,
    SsmlBuilder,
    check_ssml,
    clean_text,
    escaped_size,
    segment_text,
    split_sentences,
)
from shared.domain import TTS_INPUT_LIMIT_BYTES, SsmlScript, Voice
from shared.errors import BlankMessage, PermanentError

HOSTILE = [
    "Keep your elbows in.</speak><speak>Injected!",
    '<!DOCTYPE x [<!ENTITY a "b">]> &a; Hello.',
    '<!DOCTYPE x SYSTEM "file:///etc/passwd"> Hi.',
    "Close the CDATA ]]> now. <![CDATA[ raw ]]> text.",
    "Entities: &amp; &lt; &gt; &#x41; &#65; &nosuch; &",
    "She said \"keep going\" and 'don't stop'.",
    "<?xml version='1.0'?><speak><audio src='http://evil/x.mp3'/></speak>",
    '<break time="9999s"/> <prosody rate="1000%">fast</prosody>',
    "Great job 👍🏽 👩‍👩‍👧‍👦 🎉 at 0:07!",
    "Combining: e\u0301 a\u0308\u0304 n\u0303 — Zalgo: h\u0336\u031b\u0327e\u0335l\u0334lo.",
    "RTL: مرحبا بك. שלום עולם! Mixed \u202eevil\u202c text.",
    "Control\x00chars\x01here\x07and\x1bthere\x7f\x85.\x0bVertical\x0ctab.",
    "Lone surrogate \ud800 and noncharacters \ufffe\uffff removed.",
    "?!... ;;; --- !!!",
    "   lots   of\t\twhite\n\n\nspace\r\n  ",
    "' OR 1=1; DROP TABLE analysis_feedback; --",
    "${jndi:ldap://x} {{7*7}} %s %n",
]


def _documents(script: SsmlScript) -> list[str]:
    return [segment.ssml for segment in script.segments]


def _sentences(ssml: str) -> list[str]:
    root = SafeElementTree.fromstring(ssml, forbid_dtd=True, forbid_entities=True)
    return ["".join(element.itertext()) for element in root.iter("s")]


def _assert_valid(script: SsmlScript) -> None:
    assert [segment.index for segment in script.segments] == list(range(len(script.segments)))
    assert script.provider == "builder"
    assert script.version == "builder-1"
    for ssml in _documents(script):
        assert len(ssml.encode("utf-8")) <= TTS_INPUT_LIMIT_BYTES
        assert check_ssml(ssml) == []
        root = SafeElementTree.fromstring(ssml, forbid_dtd=True, forbid_entities=True)
        assert root.tag == "speak"
        assert {element.tag for element in root.iter()} <= SSML_BUILDER_TAGS


@pytest.mark.parametrize("message", HOSTILE)
def test_hostile_text_stays_text(message: str, voice: Voice) -> None:
    script = SsmlBuilder().write(message, category="pacing", voice=voice)
    _assert_valid(script)
    assert len(script.segments) == 1
    spoken = " ".join(_sentences(script.segments[0].ssml))
    assert spoken == clean_text(message)
    for word in clean_text(message).split():
        assert word in spoken


def test_markup_in_the_message_is_escaped_not_interpreted(voice: Voice) -> None:
    ssml = SsmlBuilder().write(HOSTILE[0], category="x", voice=voice).segments[0].ssml
    assert ssml.count("<speak") == 1
    assert ssml.count("</speak>") == 1
    assert "&lt;/speak&gt;" in ssml
    assert "Injected!" in " ".join(_sentences(ssml))


def test_cleaning_drops_only_what_xml_cannot_carry() -> None:
    assert clean_text("a\x00b \x07c\x1b\x7f\x85d") == "ab c d"
    assert clean_text(" x\u2028y\u3000z ") == "x y z"
    assert (
        clean_text("e\u0301 😀 \u05e9\u05dc\u05d5\u05dd") == "e\u0301 😀 \u05e9\u05dc\u05d5\u05dd"
    )
    assert clean_text("\ud800\ufffe\uffff") == ""


@pytest.mark.parametrize("message", ["", "   ", "\n\t ", "\x00\x01\x02", "\ud800 \ufffe"])
def test_blank_messages_are_a_permanent_error(message: str, voice: Voice) -> None:
    with pytest.raises(BlankMessage) as raised:
        SsmlBuilder().write(message, category="x", voice=voice)
    assert isinstance(raised.value, PermanentError)


def test_sentences_split_at_their_ends() -> None:
    assert split_sentences('He said "Stop." Then left! Why? 你好。再见\uff01 Ok... done') == [
        'He said "Stop."',
        "Then left!",
        "Why?",
        "你好。",
        "再见\uff01",  # full-width exclamation mark
        "Ok...",
        "done",
    ]
    assert split_sentences("v1.2 costs $3.50 now") == ["v1.2 costs $3.50 now"]


def test_a_long_message_splits_at_sentence_boundaries(voice: Voice) -> None:
    sentence = "Keep your shoulders relaxed & your chin up while you speak. "
    message = sentence * 2000  # ~120 KB
    script = SsmlBuilder().write(message, category="posture", voice=voice)
    _assert_valid(script)
    assert len(script.segments) > 20
    sentences = [text for ssml in _documents(script) for text in _sentences(ssml)]
    assert sentences == [sentence.strip()] * 2000
    for ssml in _documents(script)[:-1]:
        assert len(ssml.encode("utf-8")) > TTS_INPUT_LIMIT_BYTES - 200  # segments are packed


@pytest.mark.parametrize(
    "message",
    [
        "a" * 100_000,
        "&" * 30_000,  # every character escapes to five bytes
        "'\"<>" * 5_000,
        "😀" * 10_000,
        "e\u0301" * 20_000,
        "word " * 20_000,  # one 100 KB sentence: split between words
        "x" * 4_990 + " " + "y" * 4_990,
    ],
)
def test_giant_text_is_split_within_the_limit(message: str, voice: Voice) -> None:
    script = SsmlBuilder().write(message, category="x", voice=voice)
    _assert_valid(script)
    assert len(script.segments) > 1
    pieces = [text for ssml in _documents(script) for text in _sentences(ssml)]
    assert "".join(pieces).replace(" ", "") == clean_text(message).replace(" ", "")
    for piece in pieces:
        assert piece, "no empty sentence"
        assert not unicodedata.combining(piece[0]), "a combining mark was cut from its base"


@pytest.mark.parametrize("style", sorted(STYLE_PRESETS))
def test_every_style_preset_is_valid_and_used(style: str) -> None:
    voice = Voice(name="v", language="en-US", style=style)
    script = SsmlBuilder().write("One. Two.", category="x", voice=voice)
    _assert_valid(script)
    preset = STYLE_PRESETS[style]
    ssml = script.segments[0].ssml
    assert f'rate="{preset.rate}"' in ssml
    assert f'pitch="{preset.pitch}"' in ssml
    assert f'<break time="{preset.sentence_break_ms}ms"/>' in ssml
    assert script.notes == (f"style={style}",)


def test_styles_differ_and_unknown_style_falls_back_to_coach() -> None:
    def write(style: str) -> SsmlScript:
        return SsmlBuilder().write("One. Two.", category="x", voice=Voice("v", "en-US", style))

    assert {"coach", "calm", "energetic"} <= set(STYLE_PRESETS)
    assert len({write(style).segments[0].ssml for style in STYLE_PRESETS}) == len(STYLE_PRESETS)
    unknown = write("pirate")
    assert unknown.segments == write("coach").segments
    assert unknown.notes == ("style=coach (unknown 'pirate')",)
    assert write(" CALM ").segments == write("calm").segments


def test_the_builder_is_deterministic(voice: Voice) -> None:
    message = " ".join(HOSTILE) * 50
    first = SsmlBuilder().write(message, category="x", voice=voice)
    assert SsmlBuilder().write(message, category="x", voice=voice) == first


def test_segment_text_respects_the_budget() -> None:
    text = clean_text(" ".join(HOSTILE) * 20)
    for budget in (40, 100, 333, 1000):
        segments = segment_text(text, budget, piece_overhead_bytes=7)
        for pieces in segments:
            assert sum(escaped_size(piece) + 7 for piece in pieces) <= budget
        joined = "".join(piece for pieces in segments for piece in pieces)
        assert joined.replace(" ", "") == text.replace(" ", "")
    with pytest.raises(ValueError, match="budget"):
        segment_text(text, 10, piece_overhead_bytes=8)


@pytest.mark.parametrize(
    "ssml",
    [
        "<speak>Hello there.</speak>",
        '<speak version="1.0" xml:lang="en-US"><p><s>Hi.</s></p></speak>',
        f'<speak xmlns="{SSML_NAMESPACE}"><s>Namespaced.</s></speak>',
        '<speak><prosody rate="95%" pitch="-2st" volume="+3dB">Calm <emphasis level="strong">'
        'down</emphasis>.</prosody><break time="500ms"/><break strength="weak"/>'
        '<say-as interpret-as="cardinal">3</say-as> <sub alias="World Wide Web">WWW</sub></speak>',
    ],
)
def test_check_ssml_accepts_allowlisted_ssml(ssml: str) -> None:
    assert check_ssml(ssml) == []


@pytest.mark.parametrize(
    ("ssml", "reason"),
    [
        ('<!DOCTYPE speak [<!ENTITY a "b">]><speak>&a;</speak>', "parse"),
        ('<!DOCTYPE speak SYSTEM "file:///etc/passwd"><speak>x</speak>', "parse"),
        (
            '<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><speak>&b;</speak>',
            "parse",
        ),
        ("<speak>unclosed", "parse"),
        ("not xml at all", "parse"),
        ("", "parse"),
        ("<voice>Hi</voice>", "root"),
        ('<speak><audio src="http://evil/x.mp3"/>hi</speak>', "<audio>"),
        ('<speak><mark name="x"/>hi</speak>', "<mark>"),
        ('<speak onload="x()">hi</speak>', "onload"),
        ('<speak><break time="1h"/>hi</speak>', "time"),
        ('<speak><break time="100s"/>hi</speak>', "time"),
        ('<speak><prosody rate="javascript:x">hi</prosody></speak>', "rate"),
        ('<speak><emphasis level="max">hi</emphasis></speak>', "level"),
        ('<speak><x:evil xmlns:x="urn:evil">hi</x:evil></speak>', "not allowed"),
        ('<speak xmlns:x="urn:evil" x:attr="1">hi</speak>', "not allowed"),
        ("<speak></speak>", "no text"),
        ("<speak>" + "a" * TTS_INPUT_LIMIT_BYTES + "</speak>", "limit"),
    ],
)
def test_check_ssml_rejects(ssml: str, reason: str) -> None:
    problems = check_ssml(ssml)
    assert problems
    assert any(reason in problem for problem in problems), problems


def test_allowlist_covers_what_the_builder_emits() -> None:
    assert SSML_BUILDER_TAGS <= SSML_ALLOWED_TAGS
