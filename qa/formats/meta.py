"""Document metadata: who wrote it, when it was published, where it lives on the web.

Formats with metadata (HTML, PDF, DOCX, Markdown front matter) read it from there; every format
falls back to the byline and dateline near the top of its text ("By Jane Smith", "Posted on
5 July 2022 by Judy Molyneux", "by political editor Paul Francis", "07/07/22"). A date becomes an
ISO 8601 date (YYYY-MM-DD) or nothing: an unparsable date is dropped, never guessed at.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

HEAD_LINES = 25  # a byline or dateline stands in the first lines of a document
MAX_AUTHOR_CHARS = 120

_MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november december".split(), 1)}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE_PATTERNS = [
    # 2022-07-05, 2022/07/05 (and a time after it)
    (re.compile(r"\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)"), ("y", "m", "d")),
    # 5 July 2022, 5th July, 2022
    (re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH})\s*,?\s+(\d{{4}})\b", re.I), ("d", "mon", "y")),
    # July 5, 2022
    (re.compile(rf"\b({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s+(\d{{4}})\b", re.I), ("mon", "d", "y")),
    # 05/07/2022 or 07/07/22: day first (the British and most of the world's order), unless impossible
    (re.compile(r"\b(\d{1,2})[/.](\d{1,2})[/.](\d{2}|\d{4})\b"), ("d", "m", "y")),
]
# A name: up to five capitalised words, with the particles of names between them.
_PARTICLES = {"van", "von", "de", "da", "del", "der", "la", "le", "bin", "al"}
_NAME = r"([A-Z][\w'’.-]*(?:\s+(?:[A-Z][\w'’.-]*|van|von|de|da|del|der|la|le|bin|al)){0,4})"
# "Author: Sue Chandler", "By: …", "From: Sue Chandler, Cabinet Member"
_AUTHOR_LINE = re.compile(rf"^(?i:author|authors|by|from|written by)\s*:\s*{_NAME}")
# "By Jane Smith", "by political editor Paul Francis", "Posted on 5 July 2022 by Judy Molyneux",
# "Written by …" — a name may be followed by a comma, a bar or a dash and anything (a role, a date).
_BYLINE = re.compile(
    rf"^(?:(?i:written|posted|published|reported|updated|words)\b.{{0,60}}?\s)?(?i:by)\s+"
    rf"(?:[a-z][a-z'’-]*\s+){{0,4}}{_NAME}\s*(?:[,|·–—(-].*)?$"
)
_URL = re.compile(r"^\s*(?:url|source|link|canonical)\s*:\s*(https?://\S+)\s*$", re.I)


@dataclass(frozen=True)
class DocumentMeta:
    author: str | None = None
    published: str | None = None  # YYYY-MM-DD
    url: str | None = None

    def merged(self, fallback: "DocumentMeta") -> "DocumentMeta":
        """Each field from here, else from `fallback`."""
        return DocumentMeta(self.author or fallback.author, self.published or fallback.published,
                            self.url or fallback.url)


def iso_date(value: object) -> str | None:
    """YYYY-MM-DD from a date, a datetime, a PDF date ("D:20220705…"), an ISO string or a date in
    words; None when there is no unambiguous date in it."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    pdf = re.match(r"^D:(\d{4})(\d{2})?(\d{2})?", text)
    if pdf:
        return _date(int(pdf.group(1)), int(pdf.group(2) or 1), int(pdf.group(3) or 1)) if pdf.group(3) else None
    found = find_date(text)
    return found[0] if found else None


def find_date(text: str) -> tuple[str, int, int] | None:
    """The first date in `text` as (YYYY-MM-DD, start, end), or None."""
    best = None
    for pattern, order in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            parts = dict(zip(order, m.groups()))
            month = _MONTHS.get(parts["mon"].lower()[:3], 0) if "mon" in parts else int(parts["m"])
            year = int(parts["y"])
            year = year + 2000 if year < 100 and year <= dt.date.today().year % 100 else (year + 1900 if year < 100 else year)
            day = int(parts["d"])
            if "m" in parts and month > 12 >= day:  # 12/31/2022: month first after all
                day, month = month, day
            iso = _date(year, month or 0, day)
            if iso and (best is None or m.start() < best[1]):
                best = (iso, m.start(), m.end())
                break
    return best


def _date(year: int, month: int, day: int) -> str | None:
    try:
        return dt.date(year, month, day).isoformat() if 1800 <= year <= 2200 else None
    except ValueError:
        return None


def clean_author(value: object) -> str | None:
    """A name (or names) as metadata gives it: lists joined, whitespace tidied, 'By ' dropped."""
    if isinstance(value, (list, tuple)):
        names = [clean_author(v) for v in value]
        value = ", ".join(n for n in names if n)
    if not isinstance(value, str):
        return None
    name = " ".join(value.split())
    name = re.sub(r"^(?:by|author)\s*:?\s+", "", name, flags=re.I).strip(" ,;|")
    return name[:MAX_AUTHOR_CHARS] or None


def byline_author(line: str) -> str | None:
    """The name in a byline ("By Jane Smith", "Posted on 5 July 2022 by Judy Molyneux",
    "by political editor Paul Francis", "Author: Sue Chandler"), or None for any other line."""
    line = " ".join(line.split())
    if len(line) > 160:
        return None
    labelled = _AUTHOR_LINE.match(line)
    m = labelled or _BYLINE.match(line)
    if m is None:
        return None
    words = m.group(1).strip(" .,").split()
    while words and words[-1] in _PARTICLES:
        words.pop()
    # One capitalised word after "by" is too often not a name ("by Ofsted"); a labelled line is.
    return " ".join(words) if words and (len(words) >= 2 or labelled) else None


def from_text(text: str) -> DocumentMeta:
    """Byline, dateline and source URL from the first lines of a text."""
    author = published = url = None
    for line in text[:6000].splitlines()[:HEAD_LINES]:
        if not line.strip():
            continue
        author = author or byline_author(line)
        if published is None and len(line.strip()) <= 80:  # a dateline, not a date inside a sentence
            found = find_date(line)
            published = found[0] if found else None
        m = _URL.match(line)
        url = url or (m.group(1) if m else None)
    return DocumentMeta(author, published, url)
