"""Offset-true text helpers: line numbers, sentence spans, whitespace tidying.

Nothing here rewrites a document. Sentence and line positions are character offsets into the
document text exactly as loaded, so `text[start:end]` always gives back what is cited.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

LINE_BREAK = re.compile(r"\r\n|\r|\n")
_WS = re.compile(r"\s+")
# A word broken by a hyphen at a line end ("assess-\nment"): joined only for reading/embedding.
_HYPHEN_WRAP = re.compile(r"(\w)-[ \t]*(?:\r\n|\r|\n)\s*([a-z])")

# Abbreviations after which a period does not end a sentence.
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st mt ft cllr rev hon gen col capt lt sgt gov pres rep sen
    no nos vs etc e.g i.e cf al approx dept est fig figs inc ltd co corp jan feb mar apr jun jul
    aug sep sept oct nov dec para paras p pp vol ch sec art u.s u.k a.m p.m ph.d""".split()
)
_TERMINAL = re.compile(r"[.!?…]+[\"'”’)\]]*$")
_LIST_MARKER = re.compile(r"^(?:[-–—•*·▪●○◦]\s|\(?\d{1,3}(?:\.\d{1,3})*[.)]?\s|\(?[ivxlcIVXLC]{1,5}[.)]\s|\(?[a-zA-Z][.)]\s)")
# Candidate sentence end: terminal punctuation, optional closing quotes/brackets, whitespace.
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+)")
_SPACE_RUN = re.compile(r"\s*")
_OPENER = re.compile(r"[\"'“‘(\[]*[A-Z0-9À-ÖØ-Þ•\-–]")


@dataclass(frozen=True)
class LineMap:
    """Maps character offsets to 1-based line numbers (\\r\\n, \\r and \\n all end a line)."""

    starts: tuple[int, ...]

    @classmethod
    def of(cls, text: str) -> "LineMap":
        return cls((0, *(m.end() for m in LINE_BREAK.finditer(text))))

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Line range of text[start:end] (end exclusive; an empty span sits on its start line)."""
        return self.line(start), self.line(max(start, end - 1))


def tidy(text: str) -> str:
    """Whitespace tidied for reading and embedding: hyphenated wraps joined, runs collapsed."""
    return _WS.sub(" ", _HYPHEN_WRAP.sub(r"\1\2", text)).strip()


def lines(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of each non-blank line in text[start:end], stripped of surrounding spaces."""
    end = len(text) if end is None else end
    spans = []
    pos = start
    for m in LINE_BREAK.finditer(text, start, end):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, end))
    out = []
    for a, b in spans:
        seg = text[a:b]
        stripped = seg.strip()
        if stripped:
            lead = len(seg) - len(seg.lstrip())
            out.append((a + lead, a + lead + len(stripped)))
    return out


def _is_soft_wrap(prev: str, nxt: str) -> bool:
    """True when a line break sits inside a sentence (PDF-style wrapping), not between two."""
    if _TERMINAL.search(prev) or _LIST_MARKER.match(nxt):
        return False
    if nxt[:1].islower():
        return True
    # Wrapped lines from a PDF are mid-length; a web paragraph is one long line, a heading short.
    return 40 <= len(prev) <= 110 and not prev.isupper()


def blocks(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Paragraph-like blocks: runs of lines joined where the break is a soft wrap."""
    out: list[tuple[int, int]] = []
    previous = ""  # the block's last line (not the whole block: that would be quadratic)
    for a, b in lines(text, start, end):
        line = text[a:b]
        if out and _is_soft_wrap(previous, line):
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
        previous = line
    return out


def _ends_sentence(block: str, cut: int, sentence_start: int) -> bool:
    """Whether the punctuation ending at block[cut] closes a sentence."""
    # Only the last word before the cut and the first after it matter: look at those alone, so
    # a huge block (a file with no line breaks) costs linear time, not quadratic.
    before = block[max(sentence_start, cut - 64):cut]
    word = re.search(r"(\S+)$", before)
    token = word.group(1) if word else ""
    core = token.rstrip("\"'”’)]").rstrip(".!?…").lower().lstrip("\"'“‘([")
    if block[cut - 1 : cut] == "." or token.endswith("."):
        if core in _ABBREVIATIONS or (len(core) == 1 and core.isalpha()):
            return False
        # A list marker on its own ("1." / "2.3." / "iv.") is not a sentence.
        if re.fullmatch(r"\(?\d{1,3}(\.\d{1,3})*|[ivxlc]{1,5}", core) and not block[sentence_start : cut - len(token)].strip():
            return False
    return bool(_OPENER.match(block, _SPACE_RUN.match(block, cut).end()))


def sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans over text[start:end]; wrapped lines inside a sentence do not split it."""
    out: list[tuple[int, int]] = []
    for a, b in blocks(text, start, end):
        block = text[a:b]
        s = 0
        for m in _BOUNDARY.finditer(block):
            if m.end() <= s:
                continue
            if _ends_sentence(block, m.end(), s):
                out.append((a + s, a + m.end()))
                s = _SPACE_RUN.match(block, m.end()).end()
        if s < len(block) and block[s:].strip():
            out.append((a + s, b))
    return out


_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_STOPWORDS = frozenset(
    """a an and are as at be but by for if in into is it no not of on or such that the their then
    there these they this to was will with""".split()
)
_stemmer = None


def _stem(words: list[str]) -> list[str]:
    global _stemmer
    if _stemmer is None:
        import Stemmer  # PyStemmer: the Snowball stemmer bm25s recommends

        _stemmer = Stemmer.Stemmer("english")
    return _stemmer.stemWords(words)


def term_words(text: str) -> list[tuple[str, str]]:
    """(term, the word it comes from) for each term of `text`, as terms() makes them, in order."""
    words = [w.lower().replace("’", "'") for w in _WORD.findall(text)]
    words = [w[:-2] if w.endswith("'s") else w for w in words]
    words = [w for w in words if w not in _STOPWORDS]
    return list(zip(_stem(words), words))


def terms(text: str) -> list[str]:
    """Lexical terms for BM25 and sentence overlap: lower-cased, possessives dropped, stemmed."""
    return [term for term, _ in term_words(text)]
