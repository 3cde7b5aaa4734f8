"""HTML: the page's main text through trafilatura, headings as sections."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from qa.errors import Unreadable
from qa.formats.builder import TextBuilder
from qa.formats.meta import DocumentMeta, clean_author, iso_date
from qa.formats.registry import Loaded, loader
from qa.formats.text import looks_binary

MAX_HTML_DEPTH = 255  # libxml2 stops reading deeper than 256 levels; past that text would be lost
HTML_SECTION_LEVELS = 3  # h1–h3 name sections; smaller headings stay in the text as paragraphs

_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


def _html_tree(data: bytes):
    """Parse with lxml, refusing documents nested deeper than libxml2 reads (it drops the rest)."""
    import lxml.html
    from lxml import etree

    from trafilatura.utils import decode_file  # honours <meta charset>, else detects the encoding

    text = decode_file(data)
    parser = lxml.html.HTMLParser(encoding="utf-8")
    tree = lxml.html.document_fromstring(text.encode("utf-8"), parser=parser)
    if any("depth" in e.message.lower() for e in parser.error_log):
        raise Unreadable(f"HTML nested too deeply (more than {MAX_HTML_DEPTH} levels): its text cannot be read whole")
    depth = deepest = 0
    for event, _el in etree.iterwalk(tree, events=("start", "end")):
        depth += 1 if event == "start" else -1
        deepest = max(deepest, depth)
    if deepest > MAX_HTML_DEPTH:
        raise Unreadable(f"HTML nested too deeply ({deepest} levels > {MAX_HTML_DEPTH}): its text cannot be read whole")
    return tree


def _inline_text(el) -> str:
    """Text of an extracted element, `<lb/>` as a line break, runs of spaces collapsed per line."""
    pieces: list[str] = []

    def walk(node) -> None:
        if node.tag == "lb":
            pieces.append("\n")
        elif node.text:
            pieces.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                pieces.append(child.tail)

    walk(el)
    lines = (_SPACES.sub(" ", ln).strip() for ln in "".join(pieces).split("\n"))
    return "\n".join(ln for ln in lines if ln)


def _html_blocks(body, out: TextBuilder) -> None:
    for el in body:
        tag = el.tag
        if tag == "head":
            rend = el.get("rend") or "h2"
            level = int(rend[1]) if re.fullmatch(r"h[1-6]", rend) else 2
            if level <= HTML_SECTION_LEVELS:
                out.heading(_inline_text(el), level)
            else:
                out.block(_inline_text(el))
        elif tag == "list":
            items = [_inline_text(item) for item in el.iter("item")]
            out.block("\n".join(f"- {t}" for t in items if t))
        elif tag == "table":
            rows = [[c for c in row if c.tag == "cell"] for row in el.iter("row")]
            rows = [r for r in rows if any(_inline_text(c) for c in r)]
            head = next((i for i, r in enumerate(rows) if any(c.get("role") != "head" for c in r)), len(rows))
            out.table([[_inline_text(c) for c in r] for r in rows], header_rows=max(1, head))
        elif tag in ("div", "section") and len(el):
            _html_blocks(el, out)
        elif tag not in ("graphic",):
            out.block(_inline_text(el))


@dataclass(frozen=True)
class HtmlPage:
    """What `html_into` read of a page besides its text."""

    title: str
    warnings: tuple[str, ...]
    meta: DocumentMeta


def html_into(out: TextBuilder, data: bytes) -> HtmlPage:
    """Add a page's main text to `out` block by block (trafilatura drops navigation, cookie
    notices, footers; h1–h3 name sections; tables as row groups). Returns its title, warnings and
    author, date and URL (trafilatura's metadata; the canonical link first)."""
    import trafilatura

    if looks_binary(data):
        raise Unreadable("binary content (NUL or control bytes), not HTML")
    tree = _html_tree(data)
    page_title = " ".join((tree.findtext(".//title") or "").split())
    extracted = trafilatura.bare_extraction(
        tree, with_metadata=True, include_comments=False, include_tables=True,
        include_formatting=False, favor_recall=True,
    )
    author = clean_author(getattr(extracted, "author", None))
    published = iso_date(getattr(extracted, "date", None))
    canonical = tree.xpath("//link[@rel='canonical']/@href")
    url = (canonical[0].strip() if canonical else "") or getattr(extracted, "url", None) or None
    warnings: list[str] = []
    before = out.length
    if extracted is not None and extracted.body is not None:
        body = TextBuilder()
        _html_blocks(extracted.body, body)
        # Main-text extraction drops the byline; it is kept, as a block of its own at the top, so
        # "who wrote this?" can be answered from the text (and cited) like anything else.
        if author and body.text().strip() and author not in body.text()[:3000]:
            out.block(f"By {author}" + (f", {_human_date(published)}" if published else ""))
        _html_blocks(extracted.body, out)
    if out.length == before:
        # Too little text for main-content extraction (a stub page): keep all of its text instead.
        if out.block(trafilatura.html2txt(_html_tree(data)) or "") >= 0:
            warnings.append("no main text found; indexed all the page's text")
    title = (getattr(extracted, "title", None) or "").strip() or page_title
    return HtmlPage(" ".join(title.split()), tuple(warnings), DocumentMeta(author, published, url))


def _human_date(iso: str) -> str:
    """2022-07-05 as "5 July 2022"."""
    import datetime as dt

    d = dt.date.fromisoformat(iso)
    return f"{d.day} {d.strftime('%B')} {d.year}"


@loader(".html", ".htm", ".xhtml")
def load_html(path: Path, data: bytes) -> Loaded:
    """The page's main text, with its title, author, date and URL (see `html_into`)."""
    out = TextBuilder()
    page = html_into(out, data)
    return Loaded(out.text(), title=page.title or None, sections=tuple(out.sections), tables=tuple(out.tables),
                  warnings=page.warnings, author=page.meta.author, published=page.meta.published, url=page.meta.url)
