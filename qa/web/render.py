"""Pure rendering: Answer, documents and index stats → HTML strings. No web framework here.

Every piece of source text, title, file name and question goes through `html.escape`: a document
holding `<script>` shows it as text and runs nothing. A citation carries its own offsets in data
attributes, so opening the source needs nothing remembered on the server.
"""

from __future__ import annotations

import html
import json
import re
from typing import Iterable

from qa.answer import Answer, Passage, answering_positions


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
        if p.short_answer is not None:
            data.update(sstart=p.short_start, send=p.short_end)
    return " ".join(f'data-{k}="{esc(v)}"' for k, v in data.items())


def _sentence(p: Passage, strip: bool = False) -> str:
    """The answering sentence, escaped, its short answer (if any) in bold (offsets from the Passage)."""
    sentence = p.answer
    a = b = -1
    if p.short_answer is not None and p.short_start is not None and p.short_end is not None:
        a, b = p.short_start - p.answer_start, p.short_end - p.answer_start
    if not (0 <= a < b <= len(sentence)):
        flat = _flat(sentence)
        return esc(flat.strip() if strip else flat)
    before, short, after = _flat(sentence[:a]), _flat(sentence[a:b]), _flat(sentence[b:])
    if strip:
        before, after = before.lstrip(), after.rstrip()
    return f'{esc(before)}<strong class="qa-short">{esc(short)}</strong>{esc(after)}'


def _passage_body(p: Passage, highlight: bool) -> str:
    """The passage text, escaped, with its answering sentence marked (offsets from the Passage)."""
    a = max(0, min(len(p.text), p.answer_start - p.start))
    b = max(a, min(len(p.text), p.answer_end - p.start))
    if not highlight or a == b:
        return esc(_flat(p.text).strip())
    before, after = p.text[:a], p.text[b:]
    return f'{esc(_flat(before).lstrip())}<mark class="qa-hl">{_sentence(p)}</mark>{esc(_flat(after).rstrip())}'


def _passage_card(p: Passage, n: int, cited: bool) -> str:
    where = [f'<span class="qa-title">{esc(p.title)}</span>']
    if p.section and p.section != p.title:
        where.append(f'<span class="qa-section">› {esc(p.section)}</span>')
    meta = (
        f'<span class="qa-file">{esc(p.source)}</span> · {esc(p.location)} · '
        f'<span class="qa-score">score {p.score:.2f}</span>'
    )
    if p.credit:
        meta += f' · <span class="qa-credit">{esc(p.credit)}</span>'
    if p.url and p.url.lower().startswith(("http://", "https://")):  # never a javascript: or data: link
        meta += f' · <a class="qa-url" href="{esc(p.url)}" target="_blank" rel="noopener noreferrer">{esc(p.url)}</a>'

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


def _vote_bar(answer: Answer, cited: list[int], asked: dict) -> str:
    """👍/👎 under an answer, carrying what a vote records (qa.feedback.vote_from reads it): the
    question, the passages shown with their offsets and which gave the answer, plus `asked` (k,
    sources, history, index_version, key). A comment box opens once a vote is given."""
    payload = {
        "question": answer.question, "found": answer.found,
        "passages": [{"source": p.source, "start": p.start, "end": p.end, "answer_start": p.answer_start,
                      "answer_end": p.answer_end, "text": p.text, "cited": n in cited}
                     for n, p in enumerate(answer.passages, 1)],
        **asked,
    }
    return (
        f'<div class="qa-feedback" data-key="{esc(asked.get("key") or "")}" '
        f'data-feedback="{esc(json.dumps(payload, ensure_ascii=False))}">'
        '<span class="qa-vote-ask">Was this answer right?</span>'
        '<button type="button" class="qa-vote" data-vote="up" title="Right: keep this answer">👍 Yes</button>'
        '<button type="button" class="qa-vote" data-vote="down" title="Wrong: this should not be the answer">👎 No</button>'
        '<span class="qa-vote-more"><input type="text" class="qa-vote-comment" maxlength="2000" '
        'placeholder="Add a comment (optional)"><button type="button" class="qa-vote-send">Send</button></span>'
        '<span class="qa-vote-status"></span></div>'
    )


def render_answer(answer: Answer, vote: dict | None = None) -> str:
    """One reply: the highlighted answering sentence with citation markers, then the cited passages,
    then 👍/👎 (`vote`: what a vote records besides the answer, see _vote_bar)."""
    ps = answer.passages
    if answer.found and ps:
        first = ps[0]
        cited = [i + 1 for i in answering_positions([p.answer for p in ps], answer.found)]
        markers = "".join(
            f'<button type="button" class="qa-cite" title="Show [{n}] in its source" {_cite_attrs(ps[n - 1], n)}>{n}</button>'
            for n in cited
        )
        head = (
            f'<div class="qa-answer"><mark class="qa-hl">{_sentence(first, strip=True)}</mark>'
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
    bar = _vote_bar(answer, cited, vote or {})
    return f'<div class="qa-a {kind}">{head}<ol class="qa-passages">{cards}</ol>{foot}{bar}</div>'


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

    `spans` holds start/end (the passage), astart/aend (the sentence) and sstart/send (the short
    answer in it), offsets into `text`; anything out of range is ignored rather than trusted.
    """
    n = len(text)
    s = spans or {}
    start, end, astart, aend, sstart, send = (_int(s.get(k)) for k in ("start", "end", "astart", "aend", "sstart", "send"))
    passage = (start, end) if start is not None and end is not None and 0 <= start < end <= n else None
    answer = (astart, aend) if astart is not None and aend is not None and 0 <= astart < aend <= n else None
    if passage and answer and not (passage[0] <= answer[0] and answer[1] <= passage[1]):
        answer = None  # a sentence outside its passage is not something we produced
    short = (sstart, send) if answer and sstart is not None and send is not None and answer[0] <= sstart < send <= answer[1] else None
    cuts = sorted({0, n, *(passage or ()), *(answer or ())})  # the sentence is one piece (it lies in its passage)
    out = []
    for a, b in zip(cuts, cuts[1:]):
        piece = esc(text[a:b])
        if short and a <= short[0] and short[1] <= b:
            piece = (f'{esc(text[a:short[0]])}<strong class="qa-short">{esc(text[short[0]:short[1]])}</strong>'
                     f'{esc(text[short[1]:b])}')
        if answer and answer[0] <= a and b <= answer[1]:
            piece = f'<mark class="qa-hl" id="qa-doc-answer">{piece}</mark>'
        if passage and passage[0] <= a and b <= passage[1]:
            piece = f'<span class="qa-doc-passage">{piece}</span>'
        out.append(piece)
    return f'<pre class="qa-doc-text">{"".join(out)}</pre>'


OCR_NOTE = "text read by OCR from page images: it may hold misread characters"


def render_document_head(title: str, source: str, spans: dict | None = None, ocr: bool = False) -> str:
    """Above the viewer: which document, where the cited passage is (cosmetic, escaped), and
    whether its text was read by OCR."""
    s = spans or {}
    n = _int(s.get("n"))
    label = f' · {esc(s["label"])}' if s.get("label") else ""
    note = f'<div class="qa-meta qa-ocr"><b>OCR</b> — {esc(OCR_NOTE)}</div>' if ocr else ""
    return (
        f'<div class="qa-doc-head"><span class="qa-title">Source{" [%d]" % n if n else ""}: {esc(title)}</span>'
        f'<div class="qa-meta"><span class="qa-file">{esc(source)}</span>{label}</div>{note}</div>'
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

