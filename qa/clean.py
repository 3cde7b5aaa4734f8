"""Boilerplate and junk detection for scraped and converted text.

Cleaning never rewrites text: it returns the spans to skip, so every offset stays true to the file.
The rules are general signs of page furniture (navigation, cookie notices, "most popular" rails,
sponsored slots, comment and share bars, salary or price fragments, photo captions and credits,
lines repeated as captions) — not a list of any particular corpus's lines.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from qa.formats.meta import byline_author
from qa.text import LINE_BREAK

MAX_FURNITURE_WORDS = 12  # page furniture is short; a real sentence that mentions "share" is not

_FURNITURE = re.compile(
    r"""^(?:
      skip\ (?:to|navigation).* | jump\ to\ .* | (?:main\ )?(?:menu|navigation)
    | (?:most\ (?:popular|read|viewed|shared|commented)|trending(?:\ now)?|top\ stories|editor'?s\ picks).*
    | (?:related|recommended|more|latest|further)\ (?:articles?|stories|posts|content|news|reading|links)\b.*
    | (?:you\ (?:may|might)\ also\ like|read\ (?:more|next|also)|see\ also|more\ from)\b.*
    | (?:sponsored|promoted|paid|partner|featured)(?:\ (?:content|post|links?|stories|events?|jobs?|articles?))?\b.*
    | advert(?:isement|ising)?s?\b.* | ad\ ?choices
    | comments?\ (?:are|is)\ (?:closed|disabled)\.? | (?:leave|post|add)\ a\ (?:comment|reply).*
    | \d+\ comments?|(?:view|show|load)\ (?:all\ )?comments?.* | log\ in\ to\ (?:comment|reply).*
    | share(?:\ (?:this|on|via|article|story|page)\b.*)? | print(?:\ this)?(?:\ page|\ article)?
    | (?:subscribe|sign\ up|register)\b.* | (?:follow|like)\ us\b.* | newsletter\b.*
    | (?:all\ rights\ reserved|copyright\b|©).* | .*\ all\ rights\ reserved\.?
    | (?:privacy|cookie)\ (?:policy|notice|settings|preferences).* | terms\ (?:of\ (?:use|service)|and\ conditions).*
    | (?:contact\ us|about\ us|back\ to\ top|sign\ in|log\ ?in|log\ ?out|my\ account|search)\.?
    | (?:posted|published|updated)\ (?:on|at)?\s*(?:by)?\s*$
    | (?:image|photo|picture|video)\ (?:credit|source|caption)s?:.*
    | (?:click|tap)\ here\b.*
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
_COOKIE_CUES = re.compile(
    r"\b(?:cookies?|consent|accept|agree(?:ing)?|continu(?:e|ing) to (?:browse|use)|privacy|learn more|manage (?:options|preferences))\b",
    re.IGNORECASE,
)
_SHARE_TOKENS = re.compile(
    r"\b(?:facebook|twitter|x|linkedin|whatsapp|email|e-mail|print|pinterest|reddit|telegram|copy link|share|tweet|messenger|bluesky|threads)\b",
    re.IGNORECASE,
)
_BREADCRUMB_SEP = re.compile(r"\s*(?:>|»|›|/|\||·|\s{2,})\s*")
_MONEY = re.compile(r"[£$€¥₹]\s*\d[\d,.]*(?:\s*(?:k|m|bn|p|pa|per\s+\w+))?|\d[\d,.]*\s*(?:GBP|USD|EUR)\b", re.IGNORECASE)
_CREDIT = re.compile(
    r"\((?:photo|image|picture|pic|credit|source)s?\s*(?:by|:)|\b(?:getty images|shutterstock|adobe stock|alamy|istock(?:photo)?|pa (?:media|wire)|reuters|ap photo|unsplash)\b",
    re.IGNORECASE,
)
_MD_IMAGE = re.compile(r"^!\[[^\]]*\]\([^)]*\)$")
_TERMINAL = re.compile(r"[.!?…][\"'”’)\]]*$")


@dataclass(frozen=True)
class Skip:
    """A span of the document to leave out of chunks and answers, with the rule that caught it."""

    start: int
    end: int
    reason: str


def _words(line: str) -> list[str]:
    return re.findall(r"[^\W\d_]+", line)


def line_reason(line: str) -> str | None:
    """Why one stripped line is page furniture, or None when it is content."""
    words = _words(line)
    if not words and not re.search(r"\d", line):
        return "punctuation only"
    if byline_author(line):  # who wrote it is content: "who wrote this?" must find it
        return None
    if _MD_IMAGE.match(line):
        return "image"
    if len(words) <= MAX_FURNITURE_WORDS and _FURNITURE.match(line):
        return "page furniture"
    if len(_COOKIE_CUES.findall(line)) >= 2 and re.search(r"cookie", line, re.IGNORECASE) and len(line) < 500:
        return "cookie notice"
    share = _SHARE_TOKENS.findall(line)
    if len(share) >= 2 and len(share) >= len(words) - 1:
        return "share bar"
    money = _MONEY.findall(line)
    if money and len(words) <= 4 and not _TERMINAL.search(line):
        return "price or salary fragment"
    parts = [p for p in _BREADCRUMB_SEP.split(line) if p]
    if (
        len(parts) >= 3
        and parts[0].lower() in {"home", "homepage", "start", "news"}
        and all(len(p.split()) <= 3 for p in parts)
    ):
        return "breadcrumb"
    if len(words) <= 25 and _CREDIT.search(line) and not _TERMINAL.search(line.split("(")[0]):
        return "photo caption"
    return None


def _line_spans(text: str) -> list[tuple[int, int, int]]:
    """(content start, content end, end including the line break) for every line."""
    out = []
    pos = 0
    for m in LINE_BREAK.finditer(text):
        out.append((pos, m.start(), m.end()))
        pos = m.end()
    out.append((pos, len(text), len(text)))
    return out


def _inside(spans: Sequence[tuple[int, int]], offset: int) -> bool:
    i = bisect.bisect_right(spans, (offset, float("inf"))) - 1
    return i >= 0 and spans[i][0] <= offset < spans[i][1]


def boilerplate(text: str, keep: Sequence[tuple[int, int]] = ()) -> list[Skip]:
    """Spans of `text` that are boilerplate or junk, in order, whole lines each.

    Lines inside the `keep` spans (sorted; table row groups) are content whatever they look like:
    a row "Dover | £7.1m" is not a price fragment, nor a header repeated per group a caption.
    """
    spans = _line_spans(text)
    stripped = [text[a:b].strip() for a, b, _ in spans]
    if keep:
        stripped = ["" if _inside(keep, a) else line for line, (a, _, _) in zip(stripped, spans)]
    reasons: list[str | None] = [line_reason(s) if s else None for s in stripped]

    # Captions: short unpunctuated lines that recur (an image caption shown twice), or that are
    # repeated at the start of the next line with a credit appended.
    counts = Counter(s for s in stripped if s)
    content = [i for i, s in enumerate(stripped) if s]
    for pos, i in enumerate(content):
        s = stripped[i]
        # A line starting in lower case continues a wrapped sentence; captions start a line.
        if reasons[i] or _TERMINAL.search(s) or len(_words(s)) > 15 or not s[:1].isupper():
            continue
        nxt = stripped[content[pos + 1]] if pos + 1 < len(content) else ""
        if counts[s] > 1 or (nxt.startswith(s) and nxt != s and _CREDIT.search(nxt)):
            reasons[i] = "repeated caption"

    skips: list[Skip] = []
    for (a, _, end), reason in zip(spans, reasons):
        if reason is None:
            continue
        if skips and skips[-1].end == a and skips[-1].reason == reason:
            skips[-1] = Skip(skips[-1].start, end, reason)
        else:
            skips.append(Skip(a, end, reason))
    return skips


def kept_segments(text: str, skips: list[Skip]) -> list[tuple[int, int]]:
    """The complement of the skip spans: the runs of text that chunks are made from."""
    out = []
    pos = 0
    for s in skips:
        if s.start > pos:
            out.append((pos, s.start))
        pos = max(pos, s.end)
    if pos < len(text):
        out.append((pos, len(text)))
    return [(a, b) for a, b in out if text[a:b].strip()]
