"""HTML: the page's main text through trafilatura, headings as sections."""

from __future__ import annotations

import re
from pathlib import Path

from qa.errors import Unreadable
from qa.formats.builder import TextBuilder
from qa.formats.meta import clean_author, iso_date
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
            rows = []
            for row in el.iter("row"):
                cells = [" ".join(_inline_text(c).split()) for c in row if c.tag == "cell"]
                if any(cells):
                    rows.append(" | ".join(cells))
            out.block("\n".join(rows))
        elif tag in ("div", "section") and len(el):
            _html_blocks(el, out)
        elif tag not in ("graphic",):
            out.block(_inline_text(el))


@loader(".html", ".htm", ".xhtml")
def load_html(path: Path, data: bytes) -> Loaded:
    """The page's main text (trafilatura drops navigation, cookie notices, footers), with its title."""
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
    out = TextBuilder()
    if extracted is not None and extracted.body is not None:
        body = TextBuilder()
        _html_blocks(extracted.body, body)
        # Main-text extraction drops the byline; it is kept, as a block of its own at the top, so
        # "who wrote this?" can be answered from the text (and cited) like anything else.
        if author and body.text().strip() and author not in body.text()[:3000]:
            out.block(f"By {author}" + (f", {_human_date(published)}" if published else ""))
        _html_blocks(extracted.body, out)
    warnings: list[str] = []
    sections: tuple = ()
    text = out.text()
    if not text.strip():
        # Too little text for main-content extraction (a stub page): keep all of its text instead.
        text = trafilatura.html2txt(_html_tree(data)) or ""
        if text.strip():
            warnings.append("no main text found; indexed all the page's text")
    else:
        sections = tuple(out.sections)
    title = (getattr(extracted, "title", None) or "").strip() or page_title
    return Loaded(text, title=" ".join(title.split()) or None, sections=sections, warnings=tuple(warnings),
                  author=author, published=published, url=url)


def _human_date(iso: str) -> str:
    """2022-07-05 as "5 July 2022"."""
    import datetime as dt

    d = dt.date.fromisoformat(iso)
    return f"{d.day} {d.strftime('%B')} {d.year}"
