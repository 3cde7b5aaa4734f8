"""Plain text and Markdown: UTF-8, UTF-16 or a legacy 8-bit encoding, read exactly as the file holds it."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from qa.errors import Unreadable
from qa.formats.meta import clean_author, iso_date
from qa.formats.registry import Loaded, Section, loader

_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")


def decode(data: bytes) -> tuple[str, list[str]]:
    """UTF-8 (a BOM is dropped); otherwise cp1252 then latin-1, with a warning saying so.

    A UTF-8 file with a few damaged bytes keeps its UTF-8 (the bad bytes become U+FFFD) rather
    than turning every accented letter into mojibake.
    """
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as e:
        warning = f"not valid UTF-8 (byte {e.start}); read as "
    text = data.decode("utf-8-sig", errors="replace")
    damaged = text.count("\ufffd") - data.count("\ufffd".encode())
    if len(_UTF8_SEQUENCE.findall(data, 0, 1 << 20)) > damaged:
        return text, [f"{damaged} invalid UTF-8 byte sequence(s) replaced with \ufffd"]
    try:
        return data.decode("cp1252"), [warning + "Windows-1252"]
    except UnicodeDecodeError:
        return data.decode("latin-1"), [warning + "Latin-1"]


_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13))
_NOT_CONTROL = bytes(b for b in range(256) if b not in _CONTROL)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")


def _control_share(data: bytes) -> float:
    """Share of control bytes (NUL included; tab, line and page breaks excluded)."""
    return len(data.translate(None, _NOT_CONTROL)) / max(1, len(data))


def looks_binary(data: bytes) -> bool:
    """Control bytes (NUL included) are more than 5% of the file, or cluster in its first 8 KB."""
    return _control_share(data) > 0.05 or _control_share(data[:8192]) > 0.05


def _utf16(data: bytes) -> str | None:
    """UTF-16 text (a BOM, or every other byte NUL as Notepad's 'Unicode' writes it), else None."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encoding = "utf-16"
    else:
        sample = data[:8192]
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        half = len(sample) // 2
        if half < 2 or max(even, odd) < 0.4 * half or min(even, odd) > 0.05 * half:
            return None
        encoding = "utf-16-le" if odd > even else "utf-16-be"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    head = text[:4096]
    return text if len(_CONTROL_CHARS.findall(head)) <= 0.05 * len(head) else None


def read_text(data: bytes) -> tuple[str, list[str]]:
    """A text file's characters: UTF-8 or UTF-16, else a legacy 8-bit encoding (with a warning).

    A file with NUL bytes (outside UTF-16) is refused: dropping them would make the indexed text
    differ from the file, and citations must read back from the file as it is.
    """
    text = _utf16(data)
    if text is not None:
        return text, []
    if looks_binary(data):
        raise Unreadable("binary content (NUL or control bytes), not text")
    nul = data.count(0)
    if nul:
        raise Unreadable(f"{nul} NUL byte(s) in the text: a binary or damaged file")
    return decode(data)


@loader(".txt", ".text")
def load_text(path: Path, data: bytes) -> Loaded:
    """Plain text, exactly as the file holds it (see `read_text`)."""
    text, warnings = read_text(data)
    return Loaded(text, warnings=tuple(warnings))


_MD_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
_MD_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,}).*?(?:^ {0,3}\1[ \t]*$|\Z)", re.MULTILINE | re.DOTALL)


@loader(".md", ".markdown")
def load_markdown(path: Path, data: bytes) -> Loaded:
    """Text as written; ATX headings (outside code fences) name the sections, the first # is the title."""
    plain = load_text(path, data)
    text = plain.text
    fences = [(m.start(), m.end()) for m in _MD_FENCE.finditer(text)]
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    for m in _MD_HEADING.finditer(text):
        if any(a <= m.start() < b for a, b in fences):
            continue
        level, heading = len(m.group(1)), m.group(2).strip()
        stack = [(lv, h) for lv, h in stack if lv < level] + [(level, heading)]
        sections.append(Section(m.start(), tuple(h for _, h in stack)))
    title = None
    if sections:
        top = min(len(s.path) for s in sections)
        title = next(s.path[-1] for s in sections if len(s.path) == top)
    front = front_matter(text)
    url = front.get("url") or front.get("canonical")
    if isinstance(front.get("title"), str) and front["title"].strip():
        title = " ".join(front["title"].split())
    return replace(plain, title=title, sections=tuple(sections),
                   author=clean_author(front.get("author") or front.get("authors")),
                   published=iso_date(front.get("date") or front.get("published")),
                   url=url.strip() if isinstance(url, str) and url.strip() else None)


_FRONT_MATTER = re.compile(r"\A(?:\ufeff)?---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)


def front_matter(text: str) -> dict:
    """The YAML front matter of a Markdown file (`---` … `---` at its top), or {}. It stays in the
    text (offsets are the file's); its fields become the document's metadata."""
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}
    import yaml

    try:
        data = yaml.safe_load(m.group(1))
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}
