"""SQL text split into statements as the Supabase CLI splits a migration file (quotes,
dollar quotes and comments respected), each with the line of the file it starts on."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Statement:
    text: str  # leading comments included, as the Supabase CLI records it
    line: int  # the file line its text starts on

    @property
    def code_line(self) -> int:
        """The line of its first code, past leading comments and blank lines."""
        for number, line in enumerate(self.text.splitlines()):
            if line.strip() and not line.lstrip().startswith("--"):
                return self.line + number
        return self.line


def statement_spans(text: str) -> list[Statement]:
    """The statements of a file (as split_statements) with the line each starts on."""
    spans: list[Statement] = []
    start = 0
    for end in [*_statement_ends(text), len(text)]:
        raw = text[start:end]
        chunk = raw.strip()
        if chunk and strip_comments(chunk).strip(" \t\r\n;"):
            offset = start + (len(raw) - len(raw.lstrip()))
            spans.append(Statement(chunk, text[:offset].count("\n") + 1))
        start = end
    return spans


def split_statements(text: str) -> list[str]:
    """Split SQL into statements at top-level semicolons (quotes, dollar quotes and comments
    respected), each kept with its semicolon, as the Supabase CLI records them."""
    return [statement.text for statement in statement_spans(text)]


_TOKEN = re.compile(
    r"""(?P<line>--[^\n]*)|(?P<block>/\*)|(?P<single>[eE]?')|(?P<ident>")"""
    r"""|(?P<dollar>\$[A-Za-z_]?[A-Za-z0-9_]*\$)|(?P<semi>;)"""
)


def _statement_ends(text: str) -> list[int]:
    ends = []
    pos = 0
    while match := _TOKEN.search(text, pos):
        kind = match.lastgroup
        if kind == "semi":
            ends.append(match.end())
            pos = match.end()
        else:
            pos = _skip(text, match, kind or "")
    return ends


def _skip(text: str, match: re.Match[str], kind: str) -> int:
    """The position just after the comment, string or dollar-quoted body starting at `match`."""
    start = match.end()
    if kind == "line":
        return start
    if kind == "block":
        depth = 1
        pos = start
        while depth and pos < len(text):
            if text.startswith("/*", pos):
                depth, pos = depth + 1, pos + 2
            elif text.startswith("*/", pos):
                depth, pos = depth - 1, pos + 2
            else:
                pos += 1
        return pos
    if kind == "dollar":
        close = text.find(match.group(), start)
        return len(text) if close < 0 else close + len(match.group())
    quote = '"' if kind == "ident" else "'"
    escapes = match.group().lower().startswith("e")
    pos = start
    while pos < len(text):
        char = text[pos]
        if escapes and char == "\\":
            pos += 2
            continue
        if char == quote:
            if text.startswith(quote * 2, pos):
                pos += 2
                continue
            return pos + 1
        pos += 1
    return pos


def strip_comments(text: str) -> str:
    out = []
    pos = 0
    while match := _TOKEN.search(text, pos):
        kind = match.lastgroup or ""
        if kind in ("line", "block"):
            out.append(text[pos : match.start()])
            pos = _skip(text, match, kind)
        else:
            end = match.end() if kind == "semi" else _skip(text, match, kind)
            out.append(text[pos:end])
            pos = end
    out.append(text[pos:])
    return "".join(out)
