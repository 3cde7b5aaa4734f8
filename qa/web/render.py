"""Pure rendering: Answer, documents and index stats → HTML strings. No web framework here.

Every piece of source text, title, file name and question goes through `html.escape`: a document
holding `<script>` shows it as text and runs nothing. A citation carries its own offsets in data
attributes, so opening the source needs nothing remembered on the server.
"""

from __future__ import annotations

import html
import re
from typing import Iterable

from qa.answer import Answer, Passage


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _flat(text: str) -> str:
    """Whitespace runs (PDF line wraps, blank lines) as single spaces, for reading in the chat."""
    return re.sub(r"\s+", " ", text)


# -- rendering the conversation ------------------------------------------------------------------

def _cite_attrs(p: Passage, n: int, sentence: bool = True) -> str:
    """Data a citation carries to the source viewer: everything needed, nothing remembered.

    The sentence offsets go along only when the chat marks that sentence as the answer.
    """
    data = {"source": p.source, "start": p.start, "end": p.end, "label": p.location, "n": n}
    if sentence:
        data.update(astart=p.answer_start, aend=p.answer_end)
    return " ".join(f'data-{k}="{esc(v)}"' for k, v in data.items())


def _passage_body(p: Passage, highlight: bool) -> str:
    """The passage text, escaped, with its answering sentence marked (offsets from the Passage)."""
    a = max(0, min(len(p.text), p.answer_start - p.start))
    b = max(a, min(len(p.text), p.answer_end - p.start))
    if not highlight or a == b:
        return esc(_flat(p.text).strip())
    before, answer, after = p.text[:a], p.text[a:b], p.text[b:]
    return f'{esc(_flat(before).lstrip())}<mark class="qa-hl">{esc(_flat(answer))}</mark>{esc(_flat(after).rstrip())}'


def _passage_card(p: Passage, n: int, cited: bool) -> str:
    where = [f'<span class="qa-title">{esc(p.title)}</span>']
    if p.section and p.section != p.title:
        where.append(f'<span class="qa-section">› {esc(p.section)}</span>')
    meta = (
        f'<span class="qa-file">{esc(p.source)}</span> · {esc(p.location)} · '
        f'<span class="qa-score">score {p.score:.2f}</span>'
    )
    also = f'<div class="qa-also">also in: {esc(", ".join(p.also_in))}</div>' if p.also_in else ""
    return (
        f'<li class="qa-passage" value="{n}">'
        f'<div class="qa-where"><span class="qa-n">[{n}]</span> {" ".join(where)}</div>'
        f'<div class="qa-meta">{meta}</div>{also}'
        f'<div class="qa-text">{_passage_body(p, highlight=cited)}</div>'
        f'<button type="button" class="qa-open" {_cite_attrs(p, n, sentence=cited)}>Show in source</button>'
        "</li>"
    )


def render_question(question: str) -> str:
    return f'<div class="qa-q"><span class="qa-who">You asked</span><div class="qa-qtext">{esc(question)}</div></div>'


def render_answer(answer: Answer) -> str:
    """One reply: the highlighted answering sentence with citation markers, then the cited passages."""
    ps = answer.passages
    if answer.found and ps:
        first = ps[0]
        same = " ".join(_flat(first.answer).split())
        cited = [n for n, p in enumerate(ps, 1) if n == 1 or " ".join(_flat(p.answer).split()) == same]
        markers = "".join(
            f'<button type="button" class="qa-cite" title="Show [{n}] in its source" {_cite_attrs(ps[n - 1], n)}>{n}</button>'
            for n in cited
        )
        head = (
            f'<div class="qa-answer"><mark class="qa-hl">{esc(_flat(first.answer).strip())}</mark>'
            f'<span class="qa-cites">{markers}</span></div>'
            '<div class="qa-label">Cited passages</div>'
        )
    elif ps:
        cited = []
        head = (
            '<div class="qa-none">The sources don\'t answer this question.</div>'
            '<div class="qa-label">Closest passages — shown for reference, they do not answer it</div>'
        )
    else:
        cited = []
        head = '<div class="qa-none">The sources don\'t answer this question: the index holds no passages.</div>'
    cards = "".join(_passage_card(p, n, answer.found and n in cited) for n, p in enumerate(ps, 1))
    notes = [n for n in answer.notes if "closest passages are shown" not in n]
    foot = "".join(f'<div class="qa-note">note: {esc(n)}</div>' for n in notes)
    if answer.searched_for and answer.searched_for != answer.question:  # a follow-up, read in its context
        foot += f'<div class="qa-searched">Searched for: {esc(answer.searched_for)}</div>'

    kind = "qa-found" if answer.found else "qa-notfound"
    return f'<div class="qa-a {kind}">{head}<ol class="qa-passages">{cards}</ol>{foot}</div>'


def render_error(message: str) -> str:
    return f'<div class="qa-a qa-error"><div class="qa-none">{esc(message)}</div></div>'


def render_conversation(turns: Iterable[str], examples: list[str]) -> str:
    turns = list(turns)
    if not turns:
        hint = " Try one of the example questions below." if examples else ""
        return (
            '<div class="qa-welcome">Ask a question about the documents. Each answer is a sentence copied '
            "from a source, highlighted, with numbered citations: open one to read the whole document "
            f"with the passage marked.{hint}</div>"
        )
    return "".join(f'<div class="qa-turn">{t}</div>' for t in turns)


# -- the source viewer ---------------------------------------------------------------------------

def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def render_document(text: str, spans: dict | None = None) -> str:
    """The whole document as text with the passage and the answering sentence highlighted.

    `spans` holds start/end (the passage) and astart/aend (the sentence), offsets into `text`;
    anything out of range is ignored rather than trusted.
    """
    n = len(text)
    s = spans or {}
    start, end, astart, aend = (_int(s.get(k)) for k in ("start", "end", "astart", "aend"))
    passage = (start, end) if start is not None and end is not None and 0 <= start < end <= n else None
    answer = (astart, aend) if astart is not None and aend is not None and 0 <= astart < aend <= n else None
    if passage and answer and not (passage[0] <= answer[0] and answer[1] <= passage[1]):
        answer = None  # a sentence outside its passage is not something we produced
    cuts = sorted({0, n, *(passage or ()), *(answer or ())})
    out = []
    for a, b in zip(cuts, cuts[1:]):
        piece = esc(text[a:b])
        if answer and answer[0] <= a and b <= answer[1]:
            piece = f'<mark class="qa-hl" id="qa-doc-answer">{piece}</mark>'
        if passage and passage[0] <= a and b <= passage[1]:
            piece = f'<span class="qa-doc-passage">{piece}</span>'
        out.append(piece)
    return f'<pre class="qa-doc-text">{"".join(out)}</pre>'


def render_document_head(title: str, source: str, spans: dict | None = None) -> str:
    """Above the viewer: which document, and where the cited passage is (cosmetic, escaped)."""
    s = spans or {}
    n = _int(s.get("n"))
    label = f' · {esc(s["label"])}' if s.get("label") else ""
    return (
        f'<div class="qa-doc-head"><span class="qa-title">Source{" [%d]" % n if n else ""}: {esc(title)}</span>'
        f'<div class="qa-meta"><span class="qa-file">{esc(source)}</span>{label}</div></div>'
    )


VIEWER_HEAD = '<div class="qa-doc-head"><span class="qa-title">Source</span></div>'
VIEWER_EMPTY = '<div class="qa-doc-empty">Choose a citation — a number next to an answer, or “Show in source” — to read the whole document here with the passage highlighted.</div>'


# -- the index panel -----------------------------------------------------------------------------

def render_index_panel(stats: dict, documents: list) -> str:
    built = stats.get("built_at") or "?"
    rows = "".join(
        f'<tr><td class="qa-file">{esc(d.source)}</td><td>{esc(d.title)}</td><td>{esc(d.format)}</td></tr>'
        for d in documents
    )
    folders = ", ".join(stats.get("sources") or []) or "—"
    return (
        '<div class="qa-stats">'
        f'<div><b>{stats.get("documents", 0)}</b> documents</div><div><b>{stats.get("chunks", 0)}</b> passages (chunks)</div>'
        f'<div>model <b>{esc(stats.get("model") or "?")}</b></div><div>built <b>{esc(built)}</b></div>'
        "</div>"
        f'<div class="qa-meta">index {esc(stats.get("index", ""))} ({esc(stats.get("version") or "")}) · source folders: {esc(folders)}</div>'
        f'<table class="qa-docs"><thead><tr><th>source</th><th>title</th><th>format</th></tr></thead><tbody>{rows}</tbody></table>'
    )


def render_upload_messages(messages: list[str]) -> str:
    if not messages:
        return ""
    items = "".join(
        f'<li class="{"qa-bad" if "rejected" in m or "skipped" in m else "qa-ok"}">{esc(m)}</li>' for m in messages
    )
    return f'<ul class="qa-upload-status">{items}</ul>'

